/* Winograd kernels: the transforms of Conv2D's F(2x2, 3x3) route (framework/core/winograd.py), and the Python
 * functions of both routes, F(2x2, 3x3) and F(4x4, 3x3) (_winograd4_kernels.c), chosen by their `block` argument
 * (outputs per side of a tile, 2 or 4); the matrix products between the transforms are the caller's. Images are
 * (channels, batch, rows, cols) views with any strides, as in _window_kernels.c, whose padded rows the input
 * transform reads. The kernels release the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "_kernels.h"

/* Winograd F(2x2, 3x3): each 2x2 block of outputs of a 3x3 stride-1 convolution from the 4x4 input tile under
 * it, as 16 products per channel and filter instead of 36 (Lavin and Gray, 2016). The input transform writes
 * B^T d B of every tile as (16, channels, tiles); the products, one matrix product per element, are made by
 * the caller; the output transform A^T m A adds the bias, applies a fused ReLU and writes the output. */
#define DEFINE_WINOGRAD_KERNELS(T, SUFFIX)                                                                        \
    /* B^T d of a row of tiles, every column of the padded rows d (`line` apart): the 4 rows of u. */             \
    NOINLINE static void input_rows_##SUFFIX(const T *restrict d, Py_ssize_t line, T *restrict u) {               \
        const T *d1 = d + line, *d2 = d + 2 * line, *d3 = d + 3 * line;                                           \
        for (Py_ssize_t k = 0; k < line; k++) {                                                                   \
            u[k] = d[k] - d2[k], u[line + k] = d1[k] + d2[k];                                                     \
            u[2 * line + k] = d2[k] - d1[k], u[3 * line + k] = d1[k] - d3[k];                                     \
        }                                                                                                         \
    }                                                                                                             \
                                                                                                                  \
    /* (B^T d) B of a row of `count` tiles from one row u of input_rows: 4 of the 16 planes, contiguous. */       \
    NOINLINE static void input_columns_##SUFFIX(const T *restrict u, T *restrict o0, T *restrict o1,              \
                                                T *restrict o2, T *restrict o3, Py_ssize_t count) {               \
        for (Py_ssize_t t = 0; t < count; t++) {                                                                  \
            o0[t] = u[2 * t] - u[2 * t + 2], o1[t] = u[2 * t + 1] + u[2 * t + 2];                                 \
            o2[t] = u[2 * t + 2] - u[2 * t + 1], o3[t] = u[2 * t + 1] - u[2 * t + 3];                             \
        }                                                                                                         \
    }                                                                                                             \
                                                                                                                  \
    static void winograd_input_##SUFFIX(const Images *x, const Axis *rows, const Axis *cols, Py_ssize_t first,    \
                                        Py_ssize_t samples, Py_ssize_t tile_rows, Py_ssize_t tile_cols,           \
                                        T *restrict out, Py_ssize_t plane, T *restrict padded) {                  \
        Py_ssize_t line = 2 * tile_cols + 2, height = 2 * tile_rows + 2, per_sample = tile_rows * tile_cols;      \
        Py_ssize_t tiles = samples * per_sample;                                                                  \
        T *u = padded + height * line; /* the caller's buffer holds 4 more lines */                               \
        for (Py_ssize_t c = 0; c < x->shape[0]; c++)                                                              \
            for (Py_ssize_t n = 0; n < samples; n++) {                                                            \
                for (Py_ssize_t row = 0; row < height; row++)                                                     \
                    padded_row_##SUFFIX(x, c, first + n, row - rows->before, cols->before, line,                  \
                                        padded + row * line);                                                     \
                T *target = out + c * tiles + n * per_sample;                                                     \
                for (Py_ssize_t tr = 0; tr < tile_rows; tr++, target += tile_cols) {                              \
                    input_rows_##SUFFIX(padded + 2 * tr * line, line, u);                                         \
                    for (int i = 0; i < 4; i++)                                                                   \
                        input_columns_##SUFFIX(u + i * line, target + 4 * i * plane, target + (4 * i + 1) * plane,\
                                               target + (4 * i + 2) * plane, target + (4 * i + 3) * plane,        \
                                               tile_cols);                                                        \
                }                                                                                                 \
            }                                                                                                     \
    }                                                                                                             \
                                                                                                                  \
    /* A^T m A of a row of `count` tiles, their 16 products `plane` apart, plus the bias and through the ReLU     \
     * with `rectify`, into two contiguous rows of 2 * count outputs. */                                          \
    NOINLINE static void output_tiles_##SUFFIX(const T *restrict m, Py_ssize_t plane, const T *bias, int rectify, \
                                               T *restrict top, T *restrict bottom, Py_ssize_t count) {           \
        for (Py_ssize_t t = 0; t < count; t++) {                                                                  \
            T s[2][4];                                                                                            \
            for (int j = 0; j < 4; j++) {                                                                         \
                T m0 = m[j * plane + t], m1 = m[(4 + j) * plane + t];                                             \
                T m2 = m[(8 + j) * plane + t], m3 = m[(12 + j) * plane + t];                                      \
                s[0][j] = m0 + m1 + m2, s[1][j] = m1 - m2 - m3;                                                   \
            }                                                                                                     \
            top[2 * t] = s[0][0] + s[0][1] + s[0][2], top[2 * t + 1] = s[0][1] - s[0][2] - s[0][3];               \
            bottom[2 * t] = s[1][0] + s[1][1] + s[1][2], bottom[2 * t + 1] = s[1][1] - s[1][2] - s[1][3];         \
        }                                                                                                         \
        /* then, on both rows, each a loop of its own that the compiler vectorizes: */                            \
        for (T *row = top; row; row = row == top ? bottom : NULL) {                                               \
            if (bias)                                                                                             \
                for (Py_ssize_t k = 0; k < 2 * count; k++) row[k] += *bias;                                       \
            if (rectify) /* v where v > 0 or NaN, else +0: np.maximum(v, 0), a vector select */                   \
                for (Py_ssize_t k = 0; k < 2 * count; k++) row[k] = row[k] > 0 || row[k] != row[k] ? row[k] : 0;  \
        }                                                                                                         \
    }                                                                                                             \
                                                                                                                  \
    static void winograd_output_##SUFFIX(const T *restrict m, Py_ssize_t plane, const T *bias, int rectify,       \
                                         Py_ssize_t first, Py_ssize_t samples, Py_ssize_t tile_rows,              \
                                         Py_ssize_t tile_cols, const Images *y, T *restrict rows) {               \
        Py_ssize_t per_sample = tile_rows * tile_cols, tiles = samples * per_sample, width = 2 * tile_cols;       \
        for (Py_ssize_t f = 0; f < y->shape[0]; f++)                                                              \
            for (Py_ssize_t n = 0; n < samples; n++)                                                              \
                for (Py_ssize_t tr = 0; tr < tile_rows; tr++) {                                                   \
                    const T *products = m + f * tiles + n * per_sample + tr * tile_cols;                          \
                    output_tiles_##SUFFIX(products, plane, bias ? bias + f : NULL,                                \
                                          rectify, rows, rows + width, tile_cols);                                \
                    for (Py_ssize_t i = 0; i < 2 && 2 * tr + i < y->shape[2]; i++) {                              \
                        T *target = (T *)y->data + f * y->step[0] + (first + n) * y->step[1] +                    \
                                    (2 * tr + i) * y->step[2];                                                    \
                        if (y->step[3] == 1)                                                                      \
                            memcpy(target, rows + i * width, (size_t)y->shape[3] * sizeof(T));                    \
                        else                                                                                      \
                            for (Py_ssize_t k = 0; k < y->shape[3]; k++)                                          \
                                target[k * y->step[3]] = rows[i * width + k];                                     \
                    }                                                                                             \
                }                                                                                                 \
    }                                                                                                             \
                                                                                                                  \
    /* The output gradient's transform A g A^T (the output transform's adjoint): each 2x2 block of grad (zeros  \
     * past the edge) as 16 values per tile, (16, filters, tiles), for the weight gradient's products. */        \
    static void winograd_gradient_##SUFFIX(const Images *grad, Py_ssize_t first, Py_ssize_t samples,              \
                                           Py_ssize_t tile_rows, Py_ssize_t tile_cols, T *restrict out,           \
                                           Py_ssize_t plane) {                                                    \
        Py_ssize_t per_sample = tile_rows * tile_cols, tiles = samples * per_sample;                             \
        for (Py_ssize_t f = 0; f < grad->shape[0]; f++)                                                           \
            for (Py_ssize_t n = 0; n < samples; n++) {                                                            \
                const T *image = (const T *)grad->data + f * grad->step[0] + (first + n) * grad->step[1];         \
                T *target = out + f * tiles + n * per_sample;                                                     \
                for (Py_ssize_t tr = 0; tr < tile_rows; tr++)                                                     \
                    for (Py_ssize_t tc = 0; tc < tile_cols; tc++, target++) {                                     \
                        T g[2][2], r[4][2];                                                                       \
                        for (int i = 0; i < 2; i++)                                                               \
                            for (int j = 0; j < 2; j++)                                                           \
                                g[i][j] = 2 * tr + i < grad->shape[2] && 2 * tc + j < grad->shape[3]              \
                                              ? image[(2 * tr + i) * grad->step[2] + (2 * tc + j) * grad->step[3]] \
                                              : 0;                                                                \
                        for (int j = 0; j < 2; j++)                                                               \
                            r[0][j] = g[0][j], r[1][j] = g[0][j] + g[1][j], r[2][j] = g[0][j] - g[1][j],          \
                            r[3][j] = -g[1][j];                                                                   \
                        for (int i = 0; i < 4; i++) {                                                             \
                            target[(4 * i) * plane] = r[i][0];                                                    \
                            target[(4 * i + 1) * plane] = r[i][0] + r[i][1];                                      \
                            target[(4 * i + 2) * plane] = r[i][0] - r[i][1];                                      \
                            target[(4 * i + 3) * plane] = -r[i][1];                                               \
                        }                                                                                         \
                    }                                                                                             \
            }                                                                                                     \
    }

DEFINE_WINOGRAD_KERNELS(float, float32)
DEFINE_WINOGRAD_KERNELS(double, float64)

/* The block of outputs per tile side, 2 or 4: 0, or -1 with an exception set. */
static int check_block(Py_ssize_t block) {
    if (block == 2 || block == 4) return 0;
    PyErr_SetString(PyExc_ValueError, "winograd kernels: block must be 2 or 4");
    return -1;
}

/* An array of transformed tiles, (planes, rows, tiles), each plane's rows contiguous: the planes may be further
 * apart (a caller spreads them over the cache's sets). */
typedef struct {
    Py_buffer view;
    Py_ssize_t samples, plane; /* the samples it holds; elements from one plane to the next */
} Tiles;

/* `object` as Tiles of `planes` planes of `rows` rows of `per_sample` tiles per sample in `format`; 0, or -1 with
 * an exception set. */
static int get_tiles(PyObject *object, Tiles *tiles, int writable, const char *format, Py_ssize_t planes,
                     Py_ssize_t rows, Py_ssize_t per_sample) {
    Py_buffer *view = &tiles->view;
    if (PyObject_GetBuffer(object, view, PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    Py_ssize_t item = view->itemsize;
    if (view->ndim != 3 || strcmp(view->format, format) != 0 || view->shape[0] != planes || view->shape[1] != rows ||
        per_sample < 1 || view->shape[2] % per_sample != 0 || (view->shape[2] > 1 && view->strides[2] != item) ||
        (rows > 1 && view->strides[1] != view->shape[2] * item) || view->strides[0] % item != 0 ||
        view->strides[0] < rows * view->shape[2] * item) {
        PyErr_SetString(PyExc_ValueError, "winograd kernels: the tiles do not match the images");
        PyBuffer_Release(view);
        return -1;
    }
    tiles->samples = view->shape[2] / per_sample;
    tiles->plane = view->strides[0] / item;
    return 0;
}

/* winograd_input(images, tiles, rows, cols, first_sample, tile_rows, tile_cols, block) */
PyObject *window_winograd_input(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *source, *target, *row_tuple, *col_tuple;
    Py_ssize_t first, tile_rows, tile_cols, block;
    Axis rows, cols;
    if (!PyArg_ParseTuple(args, "OOO!O!nnnn", &source, &target, &PyTuple_Type, &row_tuple, &PyTuple_Type, &col_tuple,
                          &first, &tile_rows, &tile_cols, &block) ||
        parse_axis(row_tuple, &rows) < 0 || parse_axis(col_tuple, &cols) < 0 || check_block(block) < 0)
        return NULL;
    const char *format = float_format(source);
    if (format == NULL) return NULL;
    Py_buffer in;
    Images x;
    Tiles out;
    if (get_images(source, &in, &x, 0, format) < 0) return NULL;
    if (get_tiles(target, &out, 1, format, (block + 2) * (block + 2), x.shape[0], tile_rows * tile_cols) < 0) {
        PyBuffer_Release(&in);
        return NULL;
    }
    Py_ssize_t samples = out.samples, plane = out.plane, item = out.view.itemsize;
    void *buffer = out.view.buf;
    if (first < 0 || first + samples > x.shape[1] || tile_rows < 1 || tile_cols < 1 || rows.before < 0 ||
        cols.before < 0 || block * tile_cols + 2 < cols.before + x.shape[3]) {
        PyErr_SetString(PyExc_ValueError, "winograd_input: the tiles do not match the images");
    } else {
        /* the padded rows of an image, then block + 2 rows of B^T d */
        size_t lines = (size_t)(block * tile_rows + 4 + block);
        void *padded = PyMem_RawMalloc(lines * (size_t)(block * tile_cols + 2) * item);
        if (padded == NULL) {
            PyErr_NoMemory();
        } else {
            Py_BEGIN_ALLOW_THREADS
            if (block == 4)
                winograd4_input(format[0], &x, &rows, &cols, first, samples, tile_rows, tile_cols, buffer, plane,
                                padded);
            else if (format[0] == 'f')
                winograd_input_float32(&x, &rows, &cols, first, samples, tile_rows, tile_cols, buffer, plane, padded);
            else
                winograd_input_float64(&x, &rows, &cols, first, samples, tile_rows, tile_cols, buffer, plane, padded);
            Py_END_ALLOW_THREADS
            PyMem_RawFree(padded);
        }
    }
    PyBuffer_Release(&in);
    PyBuffer_Release(&out.view);
    return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
}

/* winograd_output(products, bias or None, rectify, images, first_sample, tile_rows, tile_cols, block) */
PyObject *window_winograd_output(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *source, *bias_object, *target;
    int rectify;
    Py_ssize_t first, tile_rows, tile_cols, block;
    if (!PyArg_ParseTuple(args, "OOpOnnnn", &source, &bias_object, &rectify, &target, &first, &tile_rows, &tile_cols,
                          &block) ||
        check_block(block) < 0)
        return NULL;
    const char *format = float_format(source);
    if (format == NULL) return NULL;
    Py_buffer out, bias = {0};
    Images y;
    Tiles in;
    if (get_images(target, &out, &y, 1, format) < 0) return NULL;
    if (get_tiles(source, &in, 0, format, (block + 2) * (block + 2), y.shape[0], tile_rows * tile_cols) < 0) {
        PyBuffer_Release(&out);
        return NULL;
    }
    int has_bias = bias_object != Py_None;
    if (has_bias && PyObject_GetBuffer(bias_object, &bias, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(&in.view);
        PyBuffer_Release(&out);
        return NULL;
    }
    Py_ssize_t samples = in.samples, plane = in.plane, item = in.view.itemsize;
    const void *m = in.view.buf, *b = has_bias ? bias.buf : NULL;
    if ((has_bias && (strcmp(bias.format, format) != 0 || bias.len != y.shape[0] * item)) || first < 0 ||
        first + samples > y.shape[1] || block * tile_rows < y.shape[2] || block * tile_cols < y.shape[3]) {
        PyErr_SetString(PyExc_ValueError, "winograd_output: the products do not match the images");
    } else {
        void *rows = PyMem_RawMalloc((size_t)(block * block * tile_cols) * item); /* a row of tiles */
        if (rows == NULL) {
            PyErr_NoMemory();
        } else {
            Py_BEGIN_ALLOW_THREADS
            if (block == 4)
                winograd4_output(format[0], m, plane, b, rectify, first, samples, tile_rows, tile_cols, &y, rows);
            else if (format[0] == 'f')
                winograd_output_float32(m, plane, b, rectify, first, samples, tile_rows, tile_cols, &y, rows);
            else
                winograd_output_float64(m, plane, b, rectify, first, samples, tile_rows, tile_cols, &y, rows);
            Py_END_ALLOW_THREADS
            PyMem_RawFree(rows);
        }
    }
    if (has_bias) PyBuffer_Release(&bias);
    PyBuffer_Release(&in.view);
    PyBuffer_Release(&out);
    return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
}

/* winograd_gradient(grad_images, tiles, first_sample, tile_rows, tile_cols, block) */
PyObject *window_winograd_gradient(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *source, *target;
    Py_ssize_t first, tile_rows, tile_cols, block;
    if (!PyArg_ParseTuple(args, "OOnnnn", &source, &target, &first, &tile_rows, &tile_cols, &block) ||
        check_block(block) < 0)
        return NULL;
    const char *format = float_format(source);
    if (format == NULL) return NULL;
    Py_buffer in;
    Images grad;
    Tiles out;
    if (get_images(source, &in, &grad, 0, format) < 0) return NULL;
    if (get_tiles(target, &out, 1, format, (block + 2) * (block + 2), grad.shape[0], tile_rows * tile_cols) < 0) {
        PyBuffer_Release(&in);
        return NULL;
    }
    Py_ssize_t samples = out.samples, plane = out.plane;
    void *buffer = out.view.buf;
    if (first < 0 || first + samples > grad.shape[1] || block * tile_rows < grad.shape[2] ||
        block * tile_cols < grad.shape[3]) {
        PyErr_SetString(PyExc_ValueError, "winograd_gradient: the tiles do not match the gradient");
    } else {
        /* F(4x4, 3x3): 4 rows of the gradient, then 6 rows of A g */
        void *rows = block == 4 ? PyMem_RawMalloc((size_t)(10 * block * tile_cols) * out.view.itemsize) : NULL;
        if (block == 4 && rows == NULL) {
            PyErr_NoMemory();
        } else {
            Py_BEGIN_ALLOW_THREADS
            if (block == 4)
                winograd4_gradient(format[0], &grad, first, samples, tile_rows, tile_cols, buffer, plane, rows);
            else if (format[0] == 'f')
                winograd_gradient_float32(&grad, first, samples, tile_rows, tile_cols, buffer, plane);
            else
                winograd_gradient_float64(&grad, first, samples, tile_rows, tile_cols, buffer, plane);
            Py_END_ALLOW_THREADS
            PyMem_RawFree(rows);
        }
    }
    PyBuffer_Release(&in);
    PyBuffer_Release(&out.view);
    return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
}
