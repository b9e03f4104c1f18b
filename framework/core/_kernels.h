/* The functions each source file of framework.core._kernels contributes to its method table. */
#ifndef FRAMEWORK_KERNELS_H
#define FRAMEWORK_KERNELS_H
#include <Python.h>

#if defined(_MSC_VER)
#define restrict __restrict
#endif

/* A loop kept a function of its own, where the compiler vectorizes it knowing its restrict arrays do not overlap. */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* An image array: its buffer, (channels, batch, rows, cols) shape, strides in elements. */
typedef struct {
    char *data;
    Py_ssize_t shape[4], step[4];
} Images;

/* One spatial axis of a window, as windows.WindowAxis has it. */
typedef struct {
    Py_ssize_t before, kernel, stride, dilation, out, padded;
} Axis;

/* An axis from its Python tuple (before, kernel, stride, dilation, out, padded); 0, or -1 with an exception. */
int parse_axis(PyObject *tuple, Axis *axis);
/* Row `row` of image (channel, sample), `before` zeros on its left and more up to `width` (all zeros outside). */
void padded_row_float32(const Images *x, Py_ssize_t channel, Py_ssize_t sample, Py_ssize_t row, Py_ssize_t before,
                        Py_ssize_t width, float *restrict out);
void padded_row_float64(const Images *x, Py_ssize_t channel, Py_ssize_t sample, Py_ssize_t row, Py_ssize_t before,
                        Py_ssize_t width, double *restrict out);

/* Takes a buffer of a 4-d array of `format` ("f", "d" or "B") into `images`; 0, or -1 with an exception set. */
int get_images(PyObject *object, Py_buffer *view, Images *images, int writable, const char *format);
/* "f" or "d" for a float32 or float64 array, else NULL with an exception set. */
const char *float_format(PyObject *object);

/* Winograd F(4x4, 3x3)'s transforms (_winograd4_kernels.c) for `type` 'f' (float32) or 'd' (float64), the 36
 * planes of tiles `plane` elements apart; the checks and buffers are the callers' in _winograd_kernels.c. */
void winograd4_input(char type, const Images *x, const Axis *rows, const Axis *cols, Py_ssize_t first,
                     Py_ssize_t samples, Py_ssize_t tile_rows, Py_ssize_t tile_cols, void *out, Py_ssize_t plane,
                     void *padded);
void winograd4_output(char type, const void *m, Py_ssize_t plane, const void *bias, int rectify, Py_ssize_t first,
                      Py_ssize_t samples, Py_ssize_t tile_rows, Py_ssize_t tile_cols, const Images *y, void *rows);
void winograd4_gradient(char type, const Images *grad, Py_ssize_t first, Py_ssize_t samples, Py_ssize_t tile_rows,
                        Py_ssize_t tile_cols, void *out, Py_ssize_t plane, void *rows);

PyObject *window_im2col(PyObject *self, PyObject *args);
PyObject *window_col2im(PyObject *self, PyObject *args);
PyObject *window_winograd_input(PyObject *self, PyObject *args);
PyObject *window_winograd_output(PyObject *self, PyObject *args);
PyObject *window_winograd_gradient(PyObject *self, PyObject *args);
PyObject *pool_max_forward(PyObject *self, PyObject *args);
PyObject *pool_max_backward(PyObject *self, PyObject *args);
PyObject *pool_average_forward(PyObject *self, PyObject *args);
PyObject *pool_average_backward(PyObject *self, PyObject *args);
PyObject *relu_forward(PyObject *self, PyObject *args);
PyObject *relu_backward(PyObject *self, PyObject *args);
PyObject *bias_relu(PyObject *self, PyObject *args);

#endif
