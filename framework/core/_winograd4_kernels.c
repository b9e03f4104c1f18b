/* Winograd F(4x4, 3x3): the transforms of Conv2D's larger-tile route (framework/core/winograd.py). Each 4x4 block
 * of outputs of a 3x3 stride-1 convolution comes from the 6x6 input tile under it (tiles 4 apart), as 36 products
 * per channel and filter instead of 144, with the interpolation points 0, 1, -1, 2, -2 and infinity (Lavin and
 * Gray, 2016):
 *
 *   B^T = [4  0 -5  0 1 0]   A^T = [1 1  1 1  1 0]   G = [ 1/4     0    0 ]
 *         [0 -4 -4  1 1 0]         [0 1 -1 2 -2 0]       [-1/6 -1/6 -1/6 ]
 *         [0  4 -4 -1 1 0]         [0 1  1 4  4 0]       [-1/6  1/6 -1/6 ]
 *         [0 -2 -1  2 1 0]         [0 1 -1 8 -8 1]       [1/24 1/12  1/6 ]
 *         [0  2 -1 -2 1 0]                               [1/24 -1/12 1/6 ]
 *         [0  4  0 -5 0 1]                               [  0     0    1 ]
 *
 * The input transform writes B^T d B of every tile as (36, channels, tiles), element (i, j) of the tile in plane
 * 6 i + j, the planes `plane` elements apart; the output transform A^T m A adds the bias, applies a fused ReLU
 * and writes the output; the output gradient's transform A g A^T is the output transform's adjoint. The filter
 * transform G g G^T and the products are the caller's. Every transform runs a row of tiles at a time, loops over
 * the tiles the compiler vectorizes;
 * the argument checks are _winograd_kernels.c's, shared with F(2x2, 3x3).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "_kernels.h"

/* Six rows or planes from `p`, `step` apart, as six arguments: each a restrict parameter of its own, which lets the
 * compiler vectorize the loops writing them without a run-time check per pair. */
#define SIX(p, step) (p), (p) + (step), (p) + 2 * (step), (p) + 3 * (step), (p) + 4 * (step), (p) + 5 * (step)
#define SIX_OUTPUTS(T) T *restrict o0, T *restrict o1, T *restrict o2, T *restrict o3, T *restrict o4, T *restrict o5

/* Each matrix applied to one column (or row) of values, as both passes of a transform apply it. B^T: the six values
 * x0..x5 into o0[k]..o5[k]. */
#define APPLY_B_T(T, x0, x1, x2, x3, x4, x5, k)                                                                   \
    do {                                                                                                          \
        T even = (x4) - 4 * (x2), odd = (x3) - 4 * (x1), half_even = (x4) - (x2), half_odd = 2 * ((x3) - (x1));   \
        o0[k] = 4 * (x0) - 5 * (x2) + (x4), o1[k] = even + odd, o2[k] = even - odd;                               \
        o3[k] = half_even + half_odd, o4[k] = half_even - half_odd, o5[k] = 4 * (x1) - 5 * (x3) + (x5);           \
    } while (0)

/* A^T: the six values x0..x5 into the four y0..y3. */
#define APPLY_A_T(T, x0, x1, x2, x3, x4, x5, y0, y1, y2, y3)                                                      \
    do {                                                                                                          \
        T sum12 = (x1) + (x2), difference12 = (x1) - (x2), sum34 = (x3) + (x4), difference34 = (x3) - (x4);       \
        y0 = (x0) + sum12 + sum34, y1 = difference12 + 2 * difference34;                                          \
        y2 = sum12 + 4 * sum34, y3 = difference12 + 8 * difference34 + (x5);                                      \
    } while (0)

/* A: the four values x0..x3 into o0[k]..o5[k]. */
#define APPLY_A(T, x0, x1, x2, x3, k)                                                                             \
    do {                                                                                                          \
        T even = (x0) + (x2), odd = (x1) + (x3), far_even = (x0) + 4 * (x2), far_odd = 2 * (x1) + 8 * (x3);       \
        o0[k] = (x0), o1[k] = even + odd, o2[k] = even - odd;                                                     \
        o3[k] = far_even + far_odd, o4[k] = far_even - far_odd, o5[k] = (x3);                                     \
    } while (0)

#define DEFINE_WINOGRAD4_KERNELS(T, SUFFIX)                                                                       \
    /* B^T along the rows: from the 6 rows d (`line` apart), the 6 rows o, every column. */                      \
    NOINLINE static void input_rows_##SUFFIX(const T *restrict d, Py_ssize_t line, SIX_OUTPUTS(T)) {              \
        for (Py_ssize_t k = 0; k < line; k++) {                                                                   \
            T d0 = d[k], d1 = d[line + k], d2 = d[2 * line + k], d3 = d[3 * line + k], d4 = d[4 * line + k];       \
            T d5 = d[5 * line + k];                                                                               \
            APPLY_B_T(T, d0, d1, d2, d3, d4, d5, k);                                                              \
        }                                                                                                         \
    }                                                                                                             \
                                                                                                                  \
    /* (B^T d) B along a row u of `count` tiles (4 apart): 6 of the 36 planes, each contiguous. */                \
    NOINLINE static void input_columns_##SUFFIX(const T *restrict u, SIX_OUTPUTS(T), Py_ssize_t count) {          \
        for (Py_ssize_t t = 0; t < count; t++) {                                                                  \
            const T *v = u + 4 * t;                                                                               \
            APPLY_B_T(T, v[0], v[1], v[2], v[3], v[4], v[5], t);                                                  \
        }                                                                                                         \
    }                                                                                                             \
                                                                                                                  \
    static void input_##SUFFIX(const Images *x, const Axis *rows, const Axis *cols, Py_ssize_t first,             \
                               Py_ssize_t samples, Py_ssize_t tile_rows, Py_ssize_t tile_cols, T *restrict out,   \
                               Py_ssize_t plane, T *restrict padded) {                                            \
        Py_ssize_t line = 4 * tile_cols + 2, height = 4 * tile_rows + 2, per_sample = tile_rows * tile_cols;      \
        Py_ssize_t tiles = samples * per_sample;                                                                  \
        T *u = padded + height * line; /* the caller's buffer holds 6 more lines */                               \
        for (Py_ssize_t c = 0; c < x->shape[0]; c++)                                                              \
            for (Py_ssize_t n = 0; n < samples; n++) {                                                            \
                for (Py_ssize_t row = 0; row < height; row++)                                                     \
                    padded_row_##SUFFIX(x, c, first + n, row - rows->before, cols->before, line,                  \
                                        padded + row * line);                                                     \
                T *target = out + c * tiles + n * per_sample;                                                     \
                for (Py_ssize_t tr = 0; tr < tile_rows; tr++, target += tile_cols) {                              \
                    input_rows_##SUFFIX(padded + 4 * tr * line, line, SIX(u, line));                              \
                    for (int i = 0; i < 6; i++)                                                                   \
                        input_columns_##SUFFIX(u + i * line, SIX(target + 6 * i * plane, plane), tile_cols);     \
                }                                                                                                 \
            }                                                                                                     \
    }                                                                                                             \
                                                                                                                  \
    /* A^T m A of a row of `count` tiles, their 36 products `plane` apart, plus the bias and through the ReLU     \
     * with `rectify`, into four contiguous rows of `width` = 4 * count outputs. */                               \
    NOINLINE static void output_tiles_##SUFFIX(const T *restrict m, Py_ssize_t plane, const T *bias, int rectify, \
                                               T *restrict out, Py_ssize_t count) {                               \
        Py_ssize_t width = 4 * count;                                                                             \
        for (Py_ssize_t t = 0; t < count; t++) {                                                                  \
            T s[4][6];                                                                                            \
            for (int j = 0; j < 6; j++) {                                                                         \
                T m0 = m[j * plane + t], m1 = m[(6 + j) * plane + t], m2 = m[(12 + j) * plane + t];               \
                T m3 = m[(18 + j) * plane + t], m4 = m[(24 + j) * plane + t], m5 = m[(30 + j) * plane + t];       \
                APPLY_A_T(T, m0, m1, m2, m3, m4, m5, s[0][j], s[1][j], s[2][j], s[3][j]);                         \
            }                                                                                                     \
            for (int i = 0; i < 4; i++) {                                                                         \
                T *row = out + i * width + 4 * t;                                                                 \
                APPLY_A_T(T, s[i][0], s[i][1], s[i][2], s[i][3], s[i][4], s[i][5], row[0], row[1], row[2], row[3]); \
            }                                                                                                     \
        }                                                                                                         \
        /* then over the four rows, loops of their own that the compiler vectorizes: */                           \
        if (bias)                                                                                                 \
            for (Py_ssize_t k = 0; k < 4 * width; k++) out[k] += *bias;                                           \
        if (rectify) /* v where v > 0 or NaN, else +0: np.maximum(v, 0), a vector select */                       \
            for (Py_ssize_t k = 0; k < 4 * width; k++) out[k] = out[k] > 0 || out[k] != out[k] ? out[k] : 0;      \
    }                                                                                                             \
                                                                                                                  \
    static void output_##SUFFIX(const T *restrict m, Py_ssize_t plane, const T *bias, int rectify,                \
                                Py_ssize_t first, Py_ssize_t samples, Py_ssize_t tile_rows, Py_ssize_t tile_cols, \
                                const Images *y, T *restrict rows) {                                              \
        Py_ssize_t per_sample = tile_rows * tile_cols, tiles = samples * per_sample, width = 4 * tile_cols;       \
        for (Py_ssize_t f = 0; f < y->shape[0]; f++)                                                              \
            for (Py_ssize_t n = 0; n < samples; n++)                                                              \
                for (Py_ssize_t tr = 0; tr < tile_rows; tr++) {                                                   \
                    const T *products = m + f * tiles + n * per_sample + tr * tile_cols;                          \
                    output_tiles_##SUFFIX(products, plane, bias ? bias + f : NULL, rectify, rows, tile_cols);     \
                    for (Py_ssize_t i = 0; i < 4 && 4 * tr + i < y->shape[2]; i++) {                              \
                        T *target = (T *)y->data + f * y->step[0] + (first + n) * y->step[1] +                    \
                                    (4 * tr + i) * y->step[2];                                                    \
                        if (y->step[3] == 1)                                                                      \
                            memcpy(target, rows + i * width, (size_t)y->shape[3] * sizeof(T));                    \
                        else                                                                                      \
                            for (Py_ssize_t k = 0; k < y->shape[3]; k++)                                          \
                                target[k * y->step[3]] = rows[i * width + k];                                     \
                    }                                                                                             \
                }                                                                                                 \
    }                                                                                                             \
                                                                                                                  \
    /* A along the rows: from the 4 rows g (`width` apart), the 6 rows o, every column. */                        \
    NOINLINE static void gradient_rows_##SUFFIX(const T *restrict g, Py_ssize_t width, SIX_OUTPUTS(T)) {          \
        for (Py_ssize_t k = 0; k < width; k++) {                                                                  \
            T g0 = g[k], g1 = g[width + k], g2 = g[2 * width + k], g3 = g[3 * width + k];                         \
            APPLY_A(T, g0, g1, g2, g3, k);                                                                        \
        }                                                                                                         \
    }                                                                                                             \
                                                                                                                  \
    /* (A g) A^T along a row r of `count` tiles (4 apart): 6 of the 36 planes, each contiguous. */                \
    NOINLINE static void gradient_columns_##SUFFIX(const T *restrict r, SIX_OUTPUTS(T), Py_ssize_t count) {       \
        for (Py_ssize_t t = 0; t < count; t++) {                                                                  \
            const T *v = r + 4 * t;                                                                               \
            APPLY_A(T, v[0], v[1], v[2], v[3], t);                                                                \
        }                                                                                                         \
    }                                                                                                             \
                                                                                                                  \
    /* A g A^T of every 4x4 block g of grad (zeros past its edge) as 36 values per tile, (36, filters, tiles), for \
     * the weight gradient's products; `rows` holds 10 rows of 4 * tile_cols. */                                  \
    static void gradient_##SUFFIX(const Images *grad, Py_ssize_t first, Py_ssize_t samples, Py_ssize_t tile_rows,  \
                                  Py_ssize_t tile_cols, T *restrict out, Py_ssize_t plane, T *restrict rows) {    \
        Py_ssize_t per_sample = tile_rows * tile_cols, tiles = samples * per_sample, width = 4 * tile_cols;       \
        T *r = rows + 4 * width;                                                                                  \
        for (Py_ssize_t f = 0; f < grad->shape[0]; f++)                                                           \
            for (Py_ssize_t n = 0; n < samples; n++) {                                                            \
                T *target = out + f * tiles + n * per_sample;                                                     \
                for (Py_ssize_t tr = 0; tr < tile_rows; tr++, target += tile_cols) {                              \
                    for (Py_ssize_t i = 0; i < 4; i++)                                                            \
                        padded_row_##SUFFIX(grad, f, first + n, 4 * tr + i, 0, width, rows + i * width);          \
                    gradient_rows_##SUFFIX(rows, width, SIX(r, width));                                           \
                    for (int i = 0; i < 6; i++)                                                                   \
                        gradient_columns_##SUFFIX(r + i * width, SIX(target + 6 * i * plane, plane), tile_cols);  \
                }                                                                                                 \
            }                                                                                                     \
    }

DEFINE_WINOGRAD4_KERNELS(float, float32)
DEFINE_WINOGRAD4_KERNELS(double, float64)

void winograd4_input(char type, const Images *x, const Axis *rows, const Axis *cols, Py_ssize_t first,
                     Py_ssize_t samples, Py_ssize_t tile_rows, Py_ssize_t tile_cols, void *out, Py_ssize_t plane,
                     void *padded) {
    if (type == 'f')
        input_float32(x, rows, cols, first, samples, tile_rows, tile_cols, out, plane, padded);
    else
        input_float64(x, rows, cols, first, samples, tile_rows, tile_cols, out, plane, padded);
}

void winograd4_output(char type, const void *m, Py_ssize_t plane, const void *bias, int rectify, Py_ssize_t first,
                      Py_ssize_t samples, Py_ssize_t tile_rows, Py_ssize_t tile_cols, const Images *y, void *rows) {
    if (type == 'f')
        output_float32(m, plane, bias, rectify, first, samples, tile_rows, tile_cols, y, rows);
    else
        output_float64(m, plane, bias, rectify, first, samples, tile_rows, tile_cols, y, rows);
}

void winograd4_gradient(char type, const Images *grad, Py_ssize_t first, Py_ssize_t samples, Py_ssize_t tile_rows,
                        Py_ssize_t tile_cols, void *out, Py_ssize_t plane, void *rows) {
    if (type == 'f')
        gradient_float32(grad, first, samples, tile_rows, tile_cols, out, plane, rows);
    else
        gradient_float64(grad, first, samples, tile_rows, tile_cols, out, plane, rows);
}
