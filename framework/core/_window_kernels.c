/* Window kernels for convolution and pooling: the compiled counterparts of the NumPy
 * passes in conv.py, pooling.py and activations.py, which stay the readable reference.
 *
 * Every image array is passed as a (channels, batch, rows, cols) view with any strides,
 * so a kernel reads the unpadded input where NumPy first copies it into a padded array:
 * a pixel outside the image reads as zero. Each kernel does the float operations of its
 * NumPy reference in the same order (built with -ffp-contract=off), so copies and pooling
 * give the same bits. The kernels release the GIL: the chunk threads of parallel.py run
 * them side by side.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "_kernels.h"

int get_images(PyObject *object, Py_buffer *view, Images *images, int writable, const char *format) {
    int flags = PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(object, view, flags) < 0) return -1;
    if (view->ndim != 4 || strcmp(view->format, format) != 0) {
        PyErr_Format(PyExc_TypeError, "window kernels: expected a 4-d array of format '%s', got %d-d '%s'", format,
                     view->ndim, view->format);
        PyBuffer_Release(view);
        return -1;
    }
    images->data = view->buf;
    for (int k = 0; k < 4; k++) {
        if (view->strides[k] % view->itemsize != 0) {
            PyErr_SetString(PyExc_ValueError, "window kernels: misaligned strides");
            PyBuffer_Release(view);
            return -1;
        }
        images->shape[k] = view->shape[k];
        images->step[k] = view->strides[k] / view->itemsize;
    }
    return 0;
}

const char *float_format(PyObject *object) {
    Py_buffer view;
    if (PyObject_GetBuffer(object, &view, PyBUF_STRIDES | PyBUF_FORMAT) < 0) return NULL;
    const char *format = strcmp(view.format, "f") == 0 ? "f" : strcmp(view.format, "d") == 0 ? "d" : NULL;
    PyBuffer_Release(&view);
    if (format == NULL) PyErr_SetString(PyExc_TypeError, "window kernels: arrays must be float32 or float64");
    return format;
}

#define DEFINE_WINDOW_KERNELS(T, SUFFIX)                                                                            \
    /* Row `row` of image (channel, sample) of x padded with `before` zeros and more up to `width`: zeros for a    \
     * row outside the image or a sample past the batch. */                                                       \
    void padded_row_##SUFFIX(const Images *x, Py_ssize_t channel, Py_ssize_t sample, Py_ssize_t row,        \
                                    Py_ssize_t before, Py_ssize_t width, T *restrict out) {                        \
        Py_ssize_t size = x->shape[3], step = x->step[3];                                                         \
        if (sample >= x->shape[1] || row < 0 || row >= x->shape[2]) {                                             \
            memset(out, 0, (size_t)width * sizeof(T));                                                            \
            return;                                                                                               \
        }                                                                                                         \
        const T *source = (const T *)x->data + channel * x->step[0] + sample * x->step[1] + row * x->step[2];      \
        memset(out, 0, (size_t)before * sizeof(T));                                                               \
        if (step == 1)                                                                                            \
            memcpy(out + before, source, (size_t)size * sizeof(T));                                               \
        else                                                                                                      \
            for (Py_ssize_t k = 0; k < size; k++) out[before + k] = source[k * step];                             \
        memset(out + before + size, 0, (size_t)(width - before - size) * sizeof(T));                              \
    }                                                                                                             \
                                                                                                                  \
    /* Image (channel, sample) padded, plus the first padded row of the next sample, as the NumPy path's flat      \
     * padded source holds them (row runs read into it). */                                                       \
    static void padded_image_##SUFFIX(const Images *x, Py_ssize_t channel, Py_ssize_t sample, const Axis *rows,   \
                                      const Axis *cols, T *restrict out) {                                        \
        for (Py_ssize_t row = 0; row < rows->padded; row++, out += cols->padded)                                  \
            padded_row_##SUFFIX(x, channel, sample, row - rows->before, cols->before, cols->padded, out);        \
        padded_row_##SUFFIX(x, channel, sample + 1, -rows->before, cols->before, cols->padded, out);              \
    }                                                                                                             \
                                                                                                                  \
    /* The im2col matrix (channel, tap row, tap col, sample, out row, width) of samples first.. of x, read from    \
     * each image padded in `padded`: with row runs (stride 1, width the padded width), tap (i, j) of a sample is  \
     * one run of its padded image, as windows.row_windows; else out_cols windows per row. */                     \
    static void im2col_##SUFFIX(const Images *x, const Axis *rows, const Axis *cols, Py_ssize_t first,            \
                                Py_ssize_t samples, Py_ssize_t width, T *restrict out, T *restrict padded) {       \
        Py_ssize_t taps = rows->kernel * cols->kernel, positions = rows->out * width, block = samples * positions; \
        Py_ssize_t line = cols->padded, row_step = rows->stride * line, col_step = cols->stride;                  \
        int runs = col_step == 1 && width == line;                                                                \
        for (Py_ssize_t c = 0; c < x->shape[0]; c++)                                                              \
            for (Py_ssize_t n = 0; n < samples; n++) {                                                            \
                padded_image_##SUFFIX(x, c, first + n, rows, cols, padded);                                       \
                for (Py_ssize_t tap = 0; tap < taps; tap++) {                                                     \
                    const T *source = padded + tap / cols->kernel * rows->dilation * line +                       \
                                      tap % cols->kernel * cols->dilation;                                        \
                    T *target = out + (c * taps + tap) * block + n * positions;                                   \
                    if (runs) {                                                                                   \
                        memcpy(target, source, (size_t)positions * sizeof(T));                                    \
                        continue;                                                                                 \
                    }                                                                                             \
                    for (Py_ssize_t r = 0; r < rows->out; r++)                                                    \
                        for (Py_ssize_t k = 0; k < width; k++)                                                    \
                            target[r * width + k] = source[r * row_step + k * col_step];                          \
                }                                                                                                 \
            }                                                                                                     \
    }                                                                                                             \
                                                                                                                  \
    /* col2im: per image, the window gradients added onto a zeroed padded image, taps in row-major order (as the  \
     * NumPy path's one strided addition per tap), then its inside written to grad; the extra row-run columns    \
     * (zero gradients) are skipped. Each image's pixels are all written by the call that has its sample. */    \
    static void col2im_##SUFFIX(const T *restrict windows, const Axis *rows, const Axis *cols, Py_ssize_t first,  \
                                Py_ssize_t samples, Py_ssize_t width, const Images *grad, T *restrict padded) {    \
        Py_ssize_t taps = rows->kernel * cols->kernel, positions = rows->out * width, block = samples * positions; \
        Py_ssize_t line = cols->padded, row_step = rows->stride * line, col_step = cols->stride;                  \
        for (Py_ssize_t c = 0; c < grad->shape[0]; c++)                                                           \
            for (Py_ssize_t n = 0; n < samples; n++) {                                                            \
                memset(padded, 0, (size_t)(rows->padded * line) * sizeof(T));                                     \
                for (Py_ssize_t tap = 0; tap < taps; tap++) {                                                     \
                    T *target = padded + tap / cols->kernel * rows->dilation * line + tap % cols->kernel * cols->dilation; \
                    const T *source = windows + (c * taps + tap) * block + n * positions;                         \
                    for (Py_ssize_t r = 0; r < rows->out; r++)                                                    \
                        for (Py_ssize_t k = 0; k < cols->out; k++)                                                \
                            target[r * row_step + k * col_step] += source[r * width + k];                         \
                }                                                                                                 \
                T *image = (T *)grad->data + c * grad->step[0] + (first + n) * grad->step[1];                     \
                for (Py_ssize_t r = 0; r < grad->shape[2]; r++)                                                   \
                    for (Py_ssize_t k = 0; k < grad->shape[3]; k++)                                               \
                        image[r * grad->step[2] + k * grad->step[3]] =                                            \
                            padded[(r + rows->before) * line + k + cols->before];                                 \
            }                                                                                                     \
    }

DEFINE_WINDOW_KERNELS(float, float32)
DEFINE_WINDOW_KERNELS(double, float64)

/* Refuses a geometry whose windows would read or write outside the padded image or the window matrix. */
static int check_geometry(const Images *images, const Axis *rows, const Axis *cols, Py_ssize_t width) {
    const Axis *axes[2] = {rows, cols};
    for (int k = 0; k < 2; k++) {
        const Axis *a = axes[k];
        if (a->before < 0 || a->kernel < 1 || a->stride < 1 || a->dilation < 1 || a->out < 1 ||
            a->padded < images->shape[2 + k] + a->before ||
            (a->out - 1) * a->stride + (a->kernel - 1) * a->dilation >= a->padded)
            goto bad;
    }
    if (width == cols->out || (width == cols->padded && cols->stride == 1)) return 0;
bad:
    PyErr_SetString(PyExc_ValueError, "window kernels: the geometry does not fit the images");
    return -1;
}

int parse_axis(PyObject *tuple, Axis *axis) {
    return PyArg_ParseTuple(tuple, "nnnnnn", &axis->before, &axis->kernel, &axis->stride, &axis->dilation, &axis->out,
                            &axis->padded)
               ? 0
               : -1;
}

PyObject *window_im2col(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *source, *target, *row_tuple, *col_tuple;
    Py_ssize_t first, width;
    Axis rows, cols;
    if (!PyArg_ParseTuple(args, "OOO!O!nn", &source, &target, &PyTuple_Type, &row_tuple, &PyTuple_Type, &col_tuple,
                          &first, &width) ||
        parse_axis(row_tuple, &rows) < 0 || parse_axis(col_tuple, &cols) < 0)
        return NULL;
    const char *format = float_format(source);
    if (format == NULL) return NULL;
    Py_buffer in, out;
    Images x;
    if (get_images(source, &in, &x, 0, format) < 0) return NULL;
    if (PyObject_GetBuffer(target, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&in);
        return NULL;
    }
    Py_ssize_t per_sample = x.shape[0] * rows.kernel * cols.kernel * rows.out * width;
    Py_ssize_t samples = per_sample ? out.len / out.itemsize / per_sample : 0;
    if (check_geometry(&x, &rows, &cols, width) < 0) {
    } else if (strcmp(out.format, format) != 0 || first < 0 || first + samples > x.shape[1] ||
        samples * per_sample * out.itemsize != out.len) {
        PyErr_SetString(PyExc_ValueError, "im2col: the window matrix does not match the source and geometry");
    } else {
        void *padded = PyMem_RawMalloc((size_t)((rows.padded + 1) * cols.padded) * out.itemsize);
        if (padded == NULL) {
            PyErr_NoMemory();
        } else {
            Py_BEGIN_ALLOW_THREADS
            if (format[0] == 'f')
                im2col_float32(&x, &rows, &cols, first, samples, width, out.buf, padded);
            else
                im2col_float64(&x, &rows, &cols, first, samples, width, out.buf, padded);
            Py_END_ALLOW_THREADS
            PyMem_RawFree(padded);
        }
    }
    PyBuffer_Release(&in);
    PyBuffer_Release(&out);
    return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
}

PyObject *window_col2im(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *source, *target, *row_tuple, *col_tuple;
    Py_ssize_t first, width;
    Axis rows, cols;
    if (!PyArg_ParseTuple(args, "OOO!O!nn", &source, &target, &PyTuple_Type, &row_tuple, &PyTuple_Type, &col_tuple,
                          &first, &width) ||
        parse_axis(row_tuple, &rows) < 0 || parse_axis(col_tuple, &cols) < 0)
        return NULL;
    const char *format = float_format(source);
    if (format == NULL) return NULL;
    Py_buffer in, out;
    Images grad;
    if (PyObject_GetBuffer(source, &in, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return NULL;
    if (get_images(target, &out, &grad, 1, format) < 0) {
        PyBuffer_Release(&in);
        return NULL;
    }
    Py_ssize_t per_sample = grad.shape[0] * rows.kernel * cols.kernel * rows.out * width;
    Py_ssize_t samples = per_sample ? in.len / in.itemsize / per_sample : 0;
    if (check_geometry(&grad, &rows, &cols, width) < 0) {
    } else if (strcmp(in.format, format) != 0 || first < 0 || first + samples > grad.shape[1] ||
               samples * per_sample * in.itemsize != in.len) {
        PyErr_SetString(PyExc_ValueError, "col2im: the window gradients do not match the target and geometry");
    } else {
        void *padded = PyMem_RawMalloc((size_t)(rows.padded * cols.padded) * in.itemsize);
        if (padded == NULL) {
            PyErr_NoMemory();
        } else {
            Py_BEGIN_ALLOW_THREADS
            if (format[0] == 'f')
                col2im_float32(in.buf, &rows, &cols, first, samples, width, &grad, padded);
            else
                col2im_float64(in.buf, &rows, &cols, first, samples, width, &grad, padded);
            Py_END_ALLOW_THREADS
            PyMem_RawFree(padded);
        }
    }
    PyBuffer_Release(&in);
    PyBuffer_Release(&out);
    return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
}
