/* Fused optimizer kernels: one pass over the flat parameter buffer per step instead
 * of a dozen NumPy passes. Optional: when this extension is not built, the optimizers
 * run their NumPy path (framework/core/optimizers.py), which computes the same
 * float operations in the same order.
 *
 * Built with -ffp-contract=off so no multiply-add is fused into one rounding: every
 * operation rounds as NumPy's does, and both paths give the same bits. The kernels
 * touch only the buffers they are given and release the GIL while they run.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

#include "_kernels.h"

/* The interface version framework/core/kernels.py expects (KERNEL_VERSION). */
#define KERNELS_VERSION 4

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

/* The arguments of one Adam step, already folded into per-step coefficients. */
typedef struct {
    double beta1, one_minus_beta1, beta2, one_minus_beta2;
    double inv_sqrt_bias2; /* 1 / sqrt(1 - beta2^t) */
    double eps;
    double step_size;    /* lr / (1 - beta1^t) */
    double weight_decay; /* coupled L2 term added to the gradient, 0 for none */
    double shrink;       /* decoupled decay factor 1 - lr * weight_decay, 1 for none */
    double tiny;         /* moments below this become 0 after the step, 0 for no flush */
} AdamCoefficients;

#define DEFINE_ADAM(NAME, T, SQRT, FABS)                                                          \
    VECTOR_CLONES static void NAME(T *restrict w, const T *restrict g, T *restrict m, T *restrict v, \
                                   Py_ssize_t n, const AdamCoefficients *c) {                      \
        const T beta1 = (T)c->beta1, one_minus_beta1 = (T)c->one_minus_beta1;                      \
        const T beta2 = (T)c->beta2, one_minus_beta2 = (T)c->one_minus_beta2;                      \
        const T inv_sqrt_bias2 = (T)c->inv_sqrt_bias2, eps = (T)c->eps;                            \
        const T step_size = (T)c->step_size, weight_decay = (T)c->weight_decay;                    \
        const T shrink = (T)c->shrink, tiny = (T)c->tiny;                                          \
        if (c->shrink != 1.0)                                                                      \
            for (Py_ssize_t i = 0; i < n; i++) w[i] *= shrink;                                     \
        if (c->weight_decay != 0.0) {                                                              \
            for (Py_ssize_t i = 0; i < n; i++) {                                                   \
                T grad = g[i] + weight_decay * w[i];                                               \
                m[i] = m[i] * beta1 + grad * one_minus_beta1;                                      \
                v[i] = v[i] * beta2 + (grad * grad) * one_minus_beta2;                             \
                w[i] -= (m[i] / (SQRT(v[i]) * inv_sqrt_bias2 + eps)) * step_size;                  \
            }                                                                                      \
        } else {                                                                                   \
            for (Py_ssize_t i = 0; i < n; i++) {                                                   \
                T grad = g[i];                                                                     \
                m[i] = m[i] * beta1 + grad * one_minus_beta1;                                      \
                v[i] = v[i] * beta2 + (grad * grad) * one_minus_beta2;                             \
                w[i] -= (m[i] / (SQRT(v[i]) * inv_sqrt_bias2 + eps)) * step_size;                  \
            }                                                                                      \
        }                                                                                          \
        if (c->tiny > 0.0)                                                                         \
            for (Py_ssize_t i = 0; i < n; i++) {                                                   \
                if (FABS(m[i]) < tiny) m[i] = 0;                                                   \
                if (FABS(v[i]) < tiny) v[i] = 0;                                                   \
            }                                                                                      \
    }

DEFINE_ADAM(adam_float32, float, sqrtf, fabsf)
DEFINE_ADAM(adam_float64, double, sqrt, fabs)

static int get_array(PyObject *object, Py_buffer *view, int writable, const char *what) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(object, view, flags) < 0) {
        PyErr_Format(PyExc_TypeError, "adam: %s must be a%s C-contiguous float32 or float64 array", what,
                     writable ? " writable" : "");
        return -1;
    }
    return 0;
}

static PyObject *adam(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *objects[4];
    AdamCoefficients c;
    if (!PyArg_ParseTuple(args, "OOOOdddddddddd", &objects[0], &objects[1], &objects[2], &objects[3], &c.beta1,
                          &c.one_minus_beta1, &c.beta2, &c.one_minus_beta2, &c.inv_sqrt_bias2, &c.eps, &c.step_size,
                          &c.weight_decay, &c.shrink, &c.tiny))
        return NULL;
    static const char *names[4] = {"param", "grad", "m", "v"};
    Py_buffer views[4];
    int held = 0;
    PyObject *result = NULL;
    for (; held < 4; held++)
        if (get_array(objects[held], &views[held], held != 1, names[held]) < 0) goto done;
    const char *format = views[0].format;
    if (strcmp(format, "f") != 0 && strcmp(format, "d") != 0) {
        PyErr_Format(PyExc_TypeError, "adam: param must be float32 or float64, got format '%s'", format);
        goto done;
    }
    for (int k = 1; k < 4; k++) {
        if (strcmp(views[k].format, format) != 0 || views[k].len != views[0].len) {
            PyErr_Format(PyExc_ValueError, "adam: %s must have param's dtype and size", names[k]);
            goto done;
        }
    }
    Py_ssize_t n = views[0].len / views[0].itemsize;
    Py_BEGIN_ALLOW_THREADS
    if (format[0] == 'f')
        adam_float32(views[0].buf, views[1].buf, views[2].buf, views[3].buf, n, &c);
    else
        adam_float64(views[0].buf, views[1].buf, views[2].buf, views[3].buf, n, &c);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    for (int k = 0; k < held; k++) PyBuffer_Release(&views[k]);
    return result;
}

static PyMethodDef methods[] = {
    {"adam", adam, METH_VARARGS,
     "adam(param, grad, m, v, beta1, 1-beta1, beta2, 1-beta2, 1/sqrt(1-beta2^t), eps, lr/(1-beta1^t), "
     "weight_decay, shrink, tiny)\n\nOne Adam step in place over flat buffers (see optimizers.Adam)."},
    {"im2col", window_im2col, METH_VARARGS,
     "im2col(images, windows, rows, cols, first_sample, width): the window matrix of images (channels, batch, rows, "
     "cols), padding read as zeros; rows and cols are (before, kernel, stride, dilation, out, padded)."},
    {"col2im", window_col2im, METH_VARARGS,
     "col2im(window_grads, images_grad, rows, cols, first_sample, width): adds window gradients onto the pixels read."},
    {"winograd_input", window_winograd_input, METH_VARARGS,
     "winograd_input(images, tiles, rows, cols, first_sample, tile_rows, tile_cols, block): B^T d B of every tile "
     "(block + 2 pixels a side, block apart)."},
    {"winograd_output", window_winograd_output, METH_VARARGS,
     "winograd_output(products, bias, rectify, images, first_sample, tile_rows, tile_cols, block): A^T m A, bias, "
     "ReLU."},
    {"winograd_gradient", window_winograd_gradient, METH_VARARGS,
     "winograd_gradient(grad_images, tiles, first_sample, tile_rows, tile_cols, block): A g A^T of every block."},
    {"max_pool", pool_max_forward, METH_VARARGS, "max_pool((x, y, index), kr, sr, kc, sc)"},
    {"max_pool_backward", pool_max_backward, METH_VARARGS, "max_pool_backward((grad, index, input_grad), kr, sr, kc, sc)"},
    {"average_pool", pool_average_forward, METH_VARARGS, "average_pool((x, y), kr, sr, kc, sc, share)"},
    {"average_pool_backward", pool_average_backward, METH_VARARGS,
     "average_pool_backward((grad, input_grad), kr, sr, kc, sc, share)"},
    {"relu", relu_forward, METH_VARARGS, "relu((x, y)): y = max(x, 0)"},
    {"relu_backward", relu_backward, METH_VARARGS, "relu_backward((grad, y)): grad *= (y > 0), in place"},
    {"bias_relu", bias_relu, METH_VARARGS, "bias_relu(x, bias or None, rectify): x += bias per channel, then max(x, 0)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "framework.core._kernels",
    .m_doc = "Fused optimizer, window, pooling and ReLU kernels (optional, compiled).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__kernels(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "VERSION", KERNELS_VERSION) < 0) Py_CLEAR(m);
    return m;
}
