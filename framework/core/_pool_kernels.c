/* Pooling and ReLU kernels over (channels, batch, rows, cols) image views: the compiled
 * counterparts of pooling.py and activations.py, each one pass where NumPy makes several,
 * with the same float operations in the same order. Windows have no padding here.
 *
 * Max pooling keeps, per window, the tap (row-major) of its first largest input: the one
 * the NumPy paths route the gradient to. Backward writes every input pixel once when the
 * windows tile the image (stride = kernel), else zeroes and adds tap by tap as NumPy does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_kernels.h"

/* A pooling window along one axis: taps and stride. */
typedef struct {
    Py_ssize_t kernel, stride;
} Pool;

#define AT(images, T, c, n, r, k)                                                                       \
    ((T *)(images)->data + (c) * (images)->step[0] + (n) * (images)->step[1] + (r) * (images)->step[2] + \
     (k) * (images)->step[3])


/* `body` over runs (`first`, `second`, `length`) of two arrays of one shape: as long as both are contiguous
 * together, or single elements when either has strided columns. */
#define RUNS(a, b, T, body)                                                                                          \
    do {                                                                                                             \
        Py_ssize_t length = a.shape[3], rows = a.shape[2], samples = a.shape[1];                                     \
        int unit = a.step[3] == 1 && b.step[3] == 1;                                                                 \
        if (unit && a.step[2] == length && b.step[2] == length) {                                                    \
            length *= rows, rows = 1;                                                                                \
            if (a.step[1] == length && b.step[1] == length) length *= samples, samples = 1;                          \
        }                                                                                                            \
        if (!unit) length = 1;                                                                                       \
        for (Py_ssize_t c = 0; c < a.shape[0]; c++)                                                                  \
            for (Py_ssize_t n = 0; n < samples; n++)                                                                 \
                for (Py_ssize_t r = 0; r < rows; r++)                                                                \
                    for (Py_ssize_t k = 0; k < (unit ? 1 : a.shape[3]); k++) {                                       \
                        T *first = AT(&a, T, c, n, r, k), *second = AT(&b, T, c, n, r, k);                           \
                        body;                                                                                        \
                    }                                                                                                \
    } while (0)

/* The kernels take their array descriptions by value: through a pointer, the compiler would reload every
 * stride after each store it cannot tell apart from them. */

#if defined(__SSE2__)
#include <emmintrin.h>

/* One tap `v` (number `tap`) into the running maximum and first largest tap of 4 windows, as max_tap below. */
static inline void max_tap_4(__m128 v, int tap, __m128 *best, __m128i *first) {
    __m128 better = _mm_cmpgt_ps(v, *best);
    __m128 keep = _mm_or_ps(_mm_cmpgt_ps(*best, v), _mm_cmpunord_ps(*best, *best));
    __m128i chosen = _mm_castps_si128(better);
    *first = _mm_or_si128(_mm_and_si128(chosen, _mm_set1_epi32(tap)), _mm_andnot_si128(chosen, *first));
    *best = _mm_or_ps(_mm_and_ps(keep, *best), _mm_andnot_ps(keep, v));
}

/* Windows k..k+3 of a row of 2x2 windows 2 apart over the rows `top` and `bottom`. */
static inline void max_2x2_four_float32(const float *top, const float *bottom, float *out, int32_t *index,
                                        Py_ssize_t k) {
    __m128 t0 = _mm_loadu_ps(top + 2 * k), t1 = _mm_loadu_ps(top + 2 * k + 4);
    __m128 b0 = _mm_loadu_ps(bottom + 2 * k), b1 = _mm_loadu_ps(bottom + 2 * k + 4);
    __m128 best = _mm_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));
    __m128i first = _mm_setzero_si128();
    max_tap_4(_mm_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1)), 1, &best, &first);
    max_tap_4(_mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)), 2, &best, &first);
    max_tap_4(_mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1)), 3, &best, &first);
    _mm_storeu_ps(out + k, best);
    _mm_storeu_si128((__m128i *)(index + k), first);
}

/* A row of 2x2 windows 2 apart over the contiguous rows `top` and `bottom` of float32: the taps in row-major
 * order with the operations of max_tap, 4 windows at a time (a window at a time, the compiler kept branches).
 * Returns how many windows it did: all of them, or none without SSE2 or for float64. */
static Py_ssize_t max_2x2_row_float32(const float *top, const float *bottom, float *out, int32_t *index,
                                      Py_ssize_t count) {
    Py_ssize_t k = 0;
    for (; k + 4 <= count; k += 4) max_2x2_four_float32(top, bottom, out, index, k);
    if (k < count && count >= 4) { /* the last 4 windows again: the ones done twice get the same values */
        max_2x2_four_float32(top, bottom, out, index, count - 4);
        return count;
    }
    if (k < count) { /* rows of 1-3 windows, through 4-wide copies of their taps */
        float taps[4][4] = {{0}}, best_out[4];
        int32_t first_out[4];
        for (Py_ssize_t w = 0; w < count - k; w++) {
            taps[0][w] = top[2 * (k + w)], taps[1][w] = top[2 * (k + w) + 1];
            taps[2][w] = bottom[2 * (k + w)], taps[3][w] = bottom[2 * (k + w) + 1];
        }
        __m128 best = _mm_loadu_ps(taps[0]);
        __m128i first = _mm_setzero_si128();
        for (int tap = 1; tap < 4; tap++) max_tap_4(_mm_loadu_ps(taps[tap]), tap, &best, &first);
        _mm_storeu_ps(best_out, best);
        _mm_storeu_si128((__m128i *)first_out, first);
        for (Py_ssize_t w = 0; w < count - k; w++) out[k + w] = best_out[w], index[k + w] = first_out[w];
    }
    return count;
}
#else
static Py_ssize_t max_2x2_row_float32(const float *top, const float *bottom, float *out, int32_t *index,
                                      Py_ssize_t count) {
    return 0;
}
#endif

static Py_ssize_t max_2x2_row_float64(const double *top, const double *bottom, double *out, int32_t *index,
                                      Py_ssize_t count) {
    return 0;
}

#define DEFINE_POOL_KERNELS(T, SUFFIX)                                                                            \
    /* One tap of a row of windows: where it is larger than the best so far, it becomes the best and its tap      \
     * the index (a NaN becomes the best without taking the index, as np.maximum and the NumPy index do). */      \
    NOINLINE static void max_tap_##SUFFIX(const T *restrict source, Py_ssize_t step, T *restrict best,            \
                                         int32_t *restrict first, int32_t tap, Py_ssize_t count) {                \
        for (Py_ssize_t k = 0; k < count; k++) {                                                                  \
            T value = source[k * step], old = best[k];                                                            \
            /* np.maximum(old, value): a NaN stays, and a tie gives value (-0 after +0); bitwise: vectorized */   \
            int better = value > old, keep = (old > value) | (old != old);                                        \
            first[k] = better ? tap : first[k];                                                                   \
            best[k] = keep ? old : value;                                                                         \
        }                                                                                                         \
    }                                                                                                             \
                                                                                                                  \
    /* tiled_backward's rows for 2x2 windows with a ReLU's mask, which the compiler vectorizes as it does not     \
     * the same without the mask: each window's gradient times (winner and input > 0), a window at a time. */     \
    NOINLINE static void max_2x2_back_row_##SUFFIX(const T *restrict g, const int32_t *restrict index,            \
                                                  const T *restrict top_in, const T *restrict bottom_in,          \
                                                  T *restrict top, T *restrict bottom, Py_ssize_t count) {        \
        for (Py_ssize_t k = 0; k < count; k++) {                                                                  \
            T value = g[k];                                                                                       \
            int32_t w = index[k];                                                                                 \
            top[2 * k] = value * (T)((w == 0) & (top_in[2 * k] > 0));                                             \
            top[2 * k + 1] = value * (T)((w == 1) & (top_in[2 * k + 1] > 0));                                     \
            bottom[2 * k] = value * (T)((w == 2) & (bottom_in[2 * k] > 0));                                       \
            bottom[2 * k + 1] = value * (T)((w == 3) & (bottom_in[2 * k + 1] > 0));                               \
        }                                                                                                         \
    }                                                                                                             \
                                                                                                                  \
    NOINLINE static void sum_tap_##SUFFIX(const T *restrict source, Py_ssize_t step, T *restrict sum,             \
                                         Py_ssize_t count) {                                                      \
        for (Py_ssize_t k = 0; k < count; k++) sum[k] += source[k * step];                                        \
    }                                                                                                             \
                                                                                                                  \
    /* Max (with `first`) or average pooling, a row of windows at a time, tap by tap in row-major order as the    \
     * NumPy paths take them; y and first have contiguous rows. */                                                \
    static void pool_forward_##SUFFIX(Images x, Images y, const Images *first_, Pool rows, Pool cols, T share) {  \
        Images first = first_ ? *first_ : y;                                                                      \
        Py_ssize_t step = cols.stride * x.step[3];                                                                \
        int pair = first_ && rows.kernel == 2 && rows.stride == 2 && cols.kernel == 2 && cols.stride == 2 &&      \
                   x.step[3] == 1;                                                                                \
        for (Py_ssize_t c = 0; c < y.shape[0]; c++)                                                               \
            for (Py_ssize_t n = 0; n < y.shape[1]; n++)                                                           \
                for (Py_ssize_t r = 0; r < y.shape[2]; r++) {                                                     \
                    T *out = AT(&y, T, c, n, r, 0);                                                               \
                    int32_t *index = AT(&first, int32_t, c, n, r, 0), tap = 0;                                    \
                    Py_ssize_t done = pair ? max_2x2_row_##SUFFIX(AT(&x, const T, c, n, 2 * r, 0),                \
                                                                  AT(&x, const T, c, n, 2 * r + 1, 0), out, index, \
                                                                  y.shape[3]) : 0;                                \
                    Py_ssize_t count = y.shape[3] - done;                                                         \
                    out += done, index += done;                                                                   \
                    if (count == 0) continue;                                                                     \
                    for (Py_ssize_t i = 0; i < rows.kernel; i++)                                                  \
                        for (Py_ssize_t j = 0; j < cols.kernel; j++, tap++) {                                     \
                            const T *source = AT(&x, const T, c, n, r * rows.stride + i, j) + done * step;        \
                            if (tap == 0) {                                                                       \
                                for (Py_ssize_t k = 0; k < count; k++) out[k] = source[k * step];                 \
                                if (first_) memset(index, 0, (size_t)count * sizeof(int32_t));                    \
                            } else if (first_) {                                                                  \
                                max_tap_##SUFFIX(source, step, out, index, tap, count);                           \
                            } else {                                                                              \
                                sum_tap_##SUFFIX(source, step, out, count);                                       \
                            }                                                                                     \
                        }                                                                                         \
                    if (!first_)                                                                                  \
                        for (Py_ssize_t k = 0; k < count; k++) out[k] *= share;                                   \
                }                                                                                                 \
    }                                                                                                             \
                                                                                                                  \
    /* Zeroes the pixels of `a` from row `rows` on and from column `cols` on: all of them with (0, 0). */         \
    static void zero_##SUFFIX(Images a, Py_ssize_t rows, Py_ssize_t cols) {                                       \
        for (Py_ssize_t c = 0; c < a.shape[0]; c++)                                                               \
            for (Py_ssize_t n = 0; n < a.shape[1]; n++)                                                           \
                for (Py_ssize_t r = 0; r < a.shape[2]; r++) {                                                     \
                    T *row = AT(&a, T, c, n, r, 0);                                                               \
                    for (Py_ssize_t k = r < rows ? cols : 0; k < a.shape[3]; k++) row[k * a.step[3]] = 0;         \
                }                                                                                                 \
    }                                                                                                             \
                                                                                                                  \
    /* max(x, 0) as np.maximum (x when x > 0 or NaN: -0 gives 0), over `length` contiguous elements. */           \
    NOINLINE static void relu_run_##SUFFIX(const T *restrict in, T *restrict out, Py_ssize_t length) {            \
        for (Py_ssize_t k = 0; k < length; k++) out[k] = in[k] > 0 || in[k] != in[k] ? in[k] : 0;                 \
    }                                                                                                             \
                                                                                                                  \
    /* grad * (y > 0) in place, as NumPy's product with the mask. */                                              \
    NOINLINE static void relu_backward_run_##SUFFIX(T *restrict grad, const T *restrict y, Py_ssize_t length) {   \
        for (Py_ssize_t k = 0; k < length; k++) grad[k] *= y[k] > 0 ? (T)1 : (T)0;                                \
    }                                                                                                             \
                                                                                                                  \
    /* x + bias, then with `rectify` max(., 0) as relu_run, in place over `length` contiguous elements. */        \
    NOINLINE static void bias_relu_run_##SUFFIX(T *restrict x, const T *bias, int rectify, Py_ssize_t length) {   \
        if (bias && rectify) {                                                                                    \
            T b = *bias;                                                                                          \
            for (Py_ssize_t k = 0; k < length; k++) {                                                             \
                T v = x[k] + b;                                                                                   \
                x[k] = v > 0 || v != v ? v : 0;                                                                   \
            }                                                                                                     \
        } else if (bias) {                                                                                        \
            T b = *bias;                                                                                          \
            for (Py_ssize_t k = 0; k < length; k++) x[k] += b;                                                    \
        } else if (rectify) {                                                                                     \
            for (Py_ssize_t k = 0; k < length; k++) x[k] = x[k] > 0 || x[k] != x[k] ? x[k] : 0;                   \
        }                                                                                                         \
    }                                                                                                             \
                                                                                                                  \
    static void bias_relu_##SUFFIX(Images x, const T *bias, int rectify) {                                        \
        for (Py_ssize_t c = 0; c < x.shape[0]; c++)                                                               \
            for (Py_ssize_t n = 0; n < x.shape[1]; n++)                                                           \
                for (Py_ssize_t r = 0; r < x.shape[2]; r++)                                                       \
                    bias_relu_run_##SUFFIX(AT(&x, T, c, n, r, 0), bias ? bias + c : NULL, rectify, x.shape[3]);   \
    }                                                                                                             \
                                                                                                                  \
    static void relu_forward_##SUFFIX(Images x, Images y) { RUNS(x, y, T, relu_run_##SUFFIX(first, second, length)); } \
                                                                                                                  \
    static void relu_backward_##SUFFIX(Images grad, Images y) {                                                   \
        RUNS(grad, y, T, relu_backward_run_##SUFFIX(first, second, length));                                      \
    }                                                                                                             \
                                                                                                                  \
    /* With windows that tile the image, each covered pixel written once, row by row: the winner's gradient and   \
     * grad * 0 (max, with an index), or 0 + grad * share (average: NumPy's zeroed array plus one addition). */   \
    static void tiled_backward_##SUFFIX(Images grad, const Images *index_, const Images *mask_, Images out,       \
                                        Pool rows, Pool cols, T share) {                                          \
        Images index = index_ ? *index_ : grad, mask = mask_ ? *mask_ : out;                                      \
        int pair = mask_ && rows.kernel == 2 && cols.kernel == 2 && grad.step[3] == 1 && index.step[3] == 1 &&   \
                   out.step[3] == 1 && mask.step[3] == 1;                                                         \
        zero_##SUFFIX(out, grad.shape[2] * rows.kernel, grad.shape[3] * cols.kernel);                             \
        for (Py_ssize_t c = 0; c < grad.shape[0]; c++)                                                            \
            for (Py_ssize_t n = 0; n < grad.shape[1]; n++)                                                        \
                for (Py_ssize_t r = 0; r < grad.shape[2]; r++)                                                    \
                    for (Py_ssize_t i = 0; i < rows.kernel; i++) {                                                \
                        const T *g = AT(&grad, const T, c, n, r, 0);                                              \
                        if (pair) {                                                                               \
                            max_2x2_back_row_##SUFFIX(                                                            \
                                g, AT(&index, const int32_t, c, n, r, 0),                                         \
                                AT(&mask, const T, c, n, 2 * r, 0),                                               \
                                AT(&mask, const T, c, n, 2 * r + 1, 0),                                           \
                                AT(&out, T, c, n, 2 * r, 0), AT(&out, T, c, n, 2 * r + 1, 0), grad.shape[3]);     \
                            break;                                                                                \
                        }                                                                                         \
                        const int32_t *winners = AT(&index, const int32_t, c, n, r, 0);                           \
                        T *pixels = AT(&out, T, c, n, r * rows.kernel + i, 0);                                    \
                        const T *inputs = AT(&mask, const T, c, n, r * rows.kernel + i, 0);                       \
                        for (Py_ssize_t k = 0; k < grad.shape[3]; k++)                                            \
                            for (Py_ssize_t j = 0; j < cols.kernel; j++) {                                        \
                                T value = g[k * grad.step[3]];                                                    \
                                /* (value * keep) * (input > 0), as the ReLU before would multiply: the same bits */ \
                                T keep = (!index_ || winners[k * index.step[3]] == i * cols.kernel + j) &         \
                                         (!mask_ || inputs[(k * cols.kernel + j) * mask.step[3]] > 0);            \
                                pixels[(k * cols.kernel + j) * out.step[3]] =                                     \
                                    index_ ? value * keep : (T)0 + value * share;                                 \
                            }                                                                                     \
                    }                                                                                             \
    }                                                                                                             \
                                                                                                                  \
    /* The gradient of each window to its winning tap (grad * 1), grad * 0 to the others, as NumPy's product      \
     * with the winner mask: added tap by tap onto zeros, as NumPy adds, unless the windows tile the image. */    \
    static void max_backward_##SUFFIX(Images grad, Images index, Images out, Pool rows, Pool cols,                \
                                      const Images *mask) {                                                       \
        if (rows.kernel == rows.stride && cols.kernel == cols.stride) {                                           \
            tiled_backward_##SUFFIX(grad, &index, mask, out, rows, cols, 1);                                      \
            return;                                                                                               \
        }                                                                                                         \
        zero_##SUFFIX(out, 0, 0);                                                                                 \
        int32_t tap = 0;                                                                                          \
        for (Py_ssize_t i = 0; i < rows.kernel; i++)                                                              \
            for (Py_ssize_t j = 0; j < cols.kernel; j++, tap++)                                                   \
                for (Py_ssize_t c = 0; c < grad.shape[0]; c++)                                                    \
                    for (Py_ssize_t n = 0; n < grad.shape[1]; n++)                                                \
                        for (Py_ssize_t r = 0; r < grad.shape[2]; r++)                                            \
                            for (Py_ssize_t k = 0; k < grad.shape[3]; k++) {                                      \
                                T g = *AT(&grad, const T, c, n, r, k);                                            \
                                *AT(&out, T, c, n, r * rows.stride + i, k * cols.stride + j) +=                   \
                                    *AT(&index, const int32_t, c, n, r, k) == tap ? g : g * (T)0;                 \
                            }                                                                                     \
        if (mask) relu_backward_##SUFFIX(out, *mask);                                                             \
    }                                                                                                             \
                                                                                                                  \
    static void average_backward_##SUFFIX(Images grad, Images out, Pool rows, Pool cols, T share) {               \
        if (rows.kernel == rows.stride && cols.kernel == cols.stride) {                                           \
            tiled_backward_##SUFFIX(grad, NULL, NULL, out, rows, cols, share);                                    \
            return;                                                                                               \
        }                                                                                                         \
        zero_##SUFFIX(out, 0, 0);                                                                                 \
        for (Py_ssize_t i = 0; i < rows.kernel; i++)                                                              \
            for (Py_ssize_t j = 0; j < cols.kernel; j++)                                                          \
                for (Py_ssize_t c = 0; c < grad.shape[0]; c++)                                                    \
                    for (Py_ssize_t n = 0; n < grad.shape[1]; n++)                                                \
                        for (Py_ssize_t r = 0; r < grad.shape[2]; r++)                                            \
                            for (Py_ssize_t k = 0; k < grad.shape[3]; k++)                                        \
                                *AT(&out, T, c, n, r * rows.stride + i, k * cols.stride + j) +=                   \
                                    *AT(&grad, const T, c, n, r, k) * share;                                      \
    }

DEFINE_POOL_KERNELS(float, float32)
DEFINE_POOL_KERNELS(double, float64)

/* A call's image arrays, from a tuple (the first gives the float type), and its pooling windows. */
typedef struct {
    Images a[4];
    Py_buffer views[4];
    int held;
    const char *format;
    Pool rows, cols;
    double share;
} Call;

/* Takes (arrays, [row kernel, row stride, col kernel, col stride, share]); `access` has a letter per array:
 * r read, w written, B a written int32 index, b a read one. */
static int take(Call *call, PyObject *args, const char *access) {
    PyObject *arrays;
    Py_ssize_t count = (Py_ssize_t)strlen(access);
    call->held = 0;
    call->rows = call->cols = (Pool){1, 1};
    call->share = 1;
    if (!PyArg_ParseTuple(args, "O!|nnnnd", &PyTuple_Type, &arrays, &call->rows.kernel, &call->rows.stride,
                          &call->cols.kernel, &call->cols.stride, &call->share))
        return -1;
    if (PyTuple_GET_SIZE(arrays) != count) {
        PyErr_Format(PyExc_TypeError, "expected %zd arrays", count);
        return -1;
    }
    if ((call->format = float_format(PyTuple_GET_ITEM(arrays, 0))) == NULL) return -1;
    for (; call->held < count; call->held++) {
        char letter = access[call->held];
        const char *format = letter == 'B' || letter == 'b' ? "i" : call->format;
        if (get_images(PyTuple_GET_ITEM(arrays, call->held), &call->views[call->held], &call->a[call->held],
                       letter == 'w' || letter == 'B', format) < 0)
            return -1;
    }
    return 0;
}

static PyObject *release(Call *call) {
    for (int k = 0; k < call->held; k++) PyBuffer_Release(&call->views[k]);
    return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
}

/* Refuses images whose shapes do not agree, before any kernel reads past an array. */
static int check(Call *call, const Images *small, const Images *large) {
    for (int k = 0; k < 2; k++)
        if (small->shape[k] != large->shape[k]) goto bad;
    if (call->rows.kernel < 1 || call->cols.kernel < 1 || call->rows.stride < 1 || call->cols.stride < 1 ||
        (small->shape[2] && (small->shape[2] - 1) * call->rows.stride + call->rows.kernel > large->shape[2]) ||
        (small->shape[3] && (small->shape[3] - 1) * call->cols.stride + call->cols.kernel > large->shape[3]))
        goto bad;
    return 0;
bad:
    PyErr_SetString(PyExc_ValueError, "pooling kernels: the arrays do not match the windows");
    return -1;
}

static int unit_rows(const Images *a) {
    if (a->step[3] == 1) return 0;
    PyErr_SetString(PyExc_ValueError, "pooling kernels: outputs must have contiguous rows");
    return -1;
}

/* ReLU's arrays have one shape; no windows. */
static int same_shape(const Images *a, const Images *b) {
    for (int k = 0; k < 4; k++)
        if (a->shape[k] != b->shape[k]) {
            PyErr_SetString(PyExc_ValueError, "relu kernels: the arrays must have one shape");
            return -1;
        }
    return 0;
}

#define RUN(call, F32, F64) \
    do {                    \
        Py_BEGIN_ALLOW_THREADS if ((call).format[0] == 'f') F32; else F64; Py_END_ALLOW_THREADS \
    } while (0)

PyObject *pool_max_forward(PyObject *Py_UNUSED(self), PyObject *args) {
    Call call;
    if (take(&call, args, "rwB") == 0 && check(&call, &call.a[1], &call.a[0]) == 0 &&
        check(&call, &call.a[2], &call.a[0]) == 0 && unit_rows(&call.a[1]) == 0 && unit_rows(&call.a[2]) == 0)
        RUN(call, pool_forward_float32(call.a[0], call.a[1], &call.a[2], call.rows, call.cols, 1),
            pool_forward_float64(call.a[0], call.a[1], &call.a[2], call.rows, call.cols, 1));
    return release(&call);
}

/* With a fourth array, the pooling's input: where it is not above zero, the gradient is multiplied by 0 (the
 * backward pass of a ReLU before the pooling, done here). */
PyObject *pool_max_backward(PyObject *Py_UNUSED(self), PyObject *args) {
    Call call;
    PyObject *arrays = PyTuple_GET_SIZE(args) ? PyTuple_GET_ITEM(args, 0) : NULL;
    int masked = arrays && PyTuple_Check(arrays) && PyTuple_GET_SIZE(arrays) == 4;
    if (take(&call, args, masked ? "rbwr" : "rbw") == 0 && check(&call, &call.a[0], &call.a[2]) == 0 &&
        check(&call, &call.a[1], &call.a[2]) == 0 && (!masked || same_shape(&call.a[2], &call.a[3]) == 0)) {
        const Images *mask = masked ? &call.a[3] : NULL;
        RUN(call, max_backward_float32(call.a[0], call.a[1], call.a[2], call.rows, call.cols, mask),
            max_backward_float64(call.a[0], call.a[1], call.a[2], call.rows, call.cols, mask));
    }
    return release(&call);
}

PyObject *pool_average_forward(PyObject *Py_UNUSED(self), PyObject *args) {
    Call call;
    if (take(&call, args, "rw") == 0 && check(&call, &call.a[1], &call.a[0]) == 0 && unit_rows(&call.a[1]) == 0)
        RUN(call, pool_forward_float32(call.a[0], call.a[1], NULL, call.rows, call.cols, (float)call.share),
            pool_forward_float64(call.a[0], call.a[1], NULL, call.rows, call.cols, call.share));
    return release(&call);
}

PyObject *pool_average_backward(PyObject *Py_UNUSED(self), PyObject *args) {
    Call call;
    if (take(&call, args, "rw") == 0 && check(&call, &call.a[0], &call.a[1]) == 0)
        RUN(call, average_backward_float32(call.a[0], call.a[1], call.rows, call.cols, (float)call.share),
            average_backward_float64(call.a[0], call.a[1], call.rows, call.cols, call.share));
    return release(&call);
}

PyObject *relu_forward(PyObject *Py_UNUSED(self), PyObject *args) {
    Call call;
    if (take(&call, args, "rw") == 0 && same_shape(&call.a[0], &call.a[1]) == 0)
        RUN(call, relu_forward_float32(call.a[0], call.a[1]), relu_forward_float64(call.a[0], call.a[1]));
    return release(&call);
}

PyObject *relu_backward(PyObject *Py_UNUSED(self), PyObject *args) {
    Call call;
    if (take(&call, args, "wr") == 0 && same_shape(&call.a[0], &call.a[1]) == 0)
        RUN(call, relu_backward_float32(call.a[0], call.a[1]), relu_backward_float64(call.a[0], call.a[1]));
    return release(&call);
}

/* bias_relu(x, bias or None, rectify): x (channels, batch, rows, cols) with contiguous rows, in place: plus its
 * channel's bias, then with rectify max(., 0): the passes NumPy makes after a convolution's product, in one. */
PyObject *bias_relu(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *target, *bias_object;
    int rectify;
    if (!PyArg_ParseTuple(args, "OOp", &target, &bias_object, &rectify)) return NULL;
    const char *format = float_format(target);
    if (format == NULL) return NULL;
    Py_buffer view, bias = {0};
    Images x;
    if (get_images(target, &view, &x, 1, format) < 0) return NULL;
    int has_bias = bias_object != Py_None;
    if (has_bias && PyObject_GetBuffer(bias_object, &bias, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    if ((has_bias && (strcmp(bias.format, format) != 0 || bias.len != x.shape[0] * bias.itemsize)) ||
        x.step[3] != 1) {
        PyErr_SetString(PyExc_ValueError, "bias_relu: a bias per channel and contiguous rows");
    } else {
        Py_BEGIN_ALLOW_THREADS
        if (format[0] == 'f')
            bias_relu_float32(x, has_bias ? bias.buf : NULL, rectify);
        else
            bias_relu_float64(x, has_bias ? bias.buf : NULL, rectify);
        Py_END_ALLOW_THREADS
    }
    if (has_bias) PyBuffer_Release(&bias);
    PyBuffer_Release(&view);
    return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
}
