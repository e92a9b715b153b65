/* The distance loop of the low-dimensional bounds (_hamerly.pyx): one row
 * against blocks of centers, direct sums of squared differences, keeping the
 * nearest center and the second-smallest distance.
 *
 * In few dimensions a GEMM spends more on packing than on arithmetic; this
 * loop runs over blocks of centers instead, in SIMD lanes, with each block
 * stored transposed (feature-major) so that every load is contiguous. It is
 * compiled for the same x86-64 levels as _simd.h's loops (KM_CLONES). Every
 * version sums each distance in feature order with the same roundings
 * (setup.py turns FMA contraction off), so the result does not depend on the
 * version the CPU gets.
 */
#ifndef KMCORE_HAMERLY_H
#define KMCORE_HAMERLY_H

#include <math.h>
#include <string.h>

#include "_simd.h"

/* A hint to fetch a row that will be needed soon (the rows that fail the
 * bounds are scattered: the hardware prefetcher does not see them coming). */
#if defined(__GNUC__) || defined(__clang__)
#define KM_PREFETCH(p) __builtin_prefetch(p)
#else
#define KM_PREFETCH(p) ((void) 0)
#endif

/* Centers per block; the caller pads the last block with +inf centers (a
 * padding center is never nearest). */
#define KM_LANES 16

/* For R rows (row r: d features at x + r * ldx) and the first nb blocks of
 * a center table (block b: KM_LANES centers stored feature-major,
 * ``tab[(b * d + j) * KM_LANES + l]``): for each row r the smallest
 * distance best[r], its position pos[r] in the table (lowest position on
 * ties) and the smallest distance to any other position second[r].
 *
 * A block's KM_LANES distances are summed over the features in one vector
 * (GCC's and clang's vector types: kept in registers, no store between two
 * features, whatever the target's vector width) and folded into per-lane
 * nearest and second nearest at once (branch-free blends); the lanes are
 * then merged pairwise, halving (a tree, short dependency chains): with the
 * vector types each halving is one vector step on the two halves, kept in
 * registers (KM_HALVE), since a merge through memory costs more than the
 * blocks' sums when a table has few blocks. Other compilers get the same
 * arithmetic lane by lane (KM_MERGE_LANES). Either way the result is the
 * lowest position among the smallest distances and the smallest distance
 * at any other position. VT and VI are the vector types of T and of an
 * index type IT as wide as T (a comparison's mask, the lanes' positions). */
#define KM_MERGE_PAIR(T, IT)                                                  \
    {                                                                         \
        T av = b1[l], bv = b1[l + h];                                         \
        IT ai = i1[l], bi = i1[l + h];                                        \
        int take = bv < av || (bv == av && bi < ai);                          \
        T sa = b2[l] < bv ? b2[l] : bv;                                       \
        T sb = b2[l + h] < av ? b2[l + h] : av;                               \
        b1[l] = take ? bv : av;                                               \
        i1[l] = take ? bi : ai;                                               \
        b2[l] = take ? sb : sa;                                               \
    }
#define KM_MERGE_LANES(T, IT)                                                 \
    for (h = KM_LANES / 2; h >= 1; h /= 2) {                                  \
        for (l = 0; l < h; l++) KM_MERGE_PAIR(T, IT)                          \
    }                                                                         \
    *best = b1[0];                                                            \
    *pos = (ptrdiff_t) i1[0];                                                 \
    *second = b2[0];

#if defined(__GNUC__) || defined(__clang__)
typedef float km_v16f __attribute__((vector_size(16 * sizeof(float))));
typedef int32_t km_v16i __attribute__((vector_size(16 * sizeof(int32_t))));
typedef double km_v16d __attribute__((vector_size(16 * sizeof(double))));
typedef int64_t km_v16l __attribute__((vector_size(16 * sizeof(int64_t))));
/* The halves of those, for the merge. */
typedef float km_v8f __attribute__((vector_size(8 * sizeof(float))));
typedef int32_t km_v8i __attribute__((vector_size(8 * sizeof(int32_t))));
typedef float km_v4f __attribute__((vector_size(4 * sizeof(float))));
typedef int32_t km_v4i __attribute__((vector_size(4 * sizeof(int32_t))));
typedef float km_v2f __attribute__((vector_size(2 * sizeof(float))));
typedef int32_t km_v2i __attribute__((vector_size(2 * sizeof(int32_t))));
typedef double km_v8d __attribute__((vector_size(8 * sizeof(double))));
typedef int64_t km_v8l __attribute__((vector_size(8 * sizeof(int64_t))));
typedef double km_v4d __attribute__((vector_size(4 * sizeof(double))));
typedef int64_t km_v4l __attribute__((vector_size(4 * sizeof(int64_t))));
typedef double km_v2d __attribute__((vector_size(2 * sizeof(double))));
typedef int64_t km_v2l __attribute__((vector_size(2 * sizeof(int64_t))));

/* m ? a : b lane by lane, m a comparison's mask (all ones or all zeros). */
#define KM_BLEND(VT, VI, m, a, b) ((VT) (((m) & (VI) (a)) | (~(m) & (VI) (b))))

/* One halving of the merge: lanes l and l + h/2 of (v1, v2, w1), h lanes of
 * VT/VI, into (o1, o2, oi), h/2 lanes of HT/HI. The upper half wins a lane
 * when its distance is smaller, or equal at a lower position; the loser's
 * nearest joins the winner's second. */
#define KM_HALVE(HT, HI, v1, v2, w1, o1, o2, oi)                              \
    do {                                                                      \
        HT a1_, b1_, a2_, b2_, sa_, sb_;                                      \
        HI ai_, bi_, take_;                                                   \
        memcpy(&a1_, &(v1), sizeof a1_);                                      \
        memcpy(&b1_, (const char *) &(v1) + sizeof a1_, sizeof b1_);          \
        memcpy(&a2_, &(v2), sizeof a2_);                                      \
        memcpy(&b2_, (const char *) &(v2) + sizeof a2_, sizeof b2_);          \
        memcpy(&ai_, &(w1), sizeof ai_);                                      \
        memcpy(&bi_, (const char *) &(w1) + sizeof ai_, sizeof bi_);          \
        take_ = (HI) (b1_ < a1_) | ((HI) (b1_ == a1_) & (HI) (bi_ < ai_));    \
        sa_ = KM_BLEND(HT, HI, (HI) (a2_ < b1_), a2_, b1_);                  \
        sb_ = KM_BLEND(HT, HI, (HI) (b2_ < a1_), b2_, a1_);                  \
        o1 = KM_BLEND(HT, HI, take_, b1_, a1_);                               \
        oi = KM_BLEND(HI, HI, take_, bi_, ai_);                               \
        o2 = KM_BLEND(HT, HI, take_, sb_, sa_);                               \
    } while (0)

#define KM_NEAREST_TWO(NAME, R, T, IT, VT, VI, V8, I8, V4, I4, V2, I2)        \
KM_CLONES static void NAME(                                                   \
    const T *__restrict x, ptrdiff_t ldx, const T *__restrict tab,            \
    ptrdiff_t d, ptrdiff_t nb, T *best, T *second, ptrdiff_t *pos)            \
{                                                                             \
    VT v1[R], v2[R], acc[R], col, t, inf;                                     \
    VI w1[R], lt, lt2, at, step;                                              \
    V8 p1, p2; I8 pi;                                                         \
    V4 q1, q2; I4 qi;                                                         \
    V2 r1, r2; I2 ri;                                                         \
    T b1[KM_LANES], b2[KM_LANES];                                             \
    IT i1[KM_LANES];                                                          \
    ptrdiff_t b, j, l, h, r;                                                  \
    for (l = 0; l < KM_LANES; l++) {                                          \
        inf[l] = (T) INFINITY;                                                \
        at[l] = (IT) l;                                                       \
        step[l] = (IT) KM_LANES;                                              \
    }                                                                         \
    for (r = 0; r < R; r++) {                                                 \
        v1[r] = inf;                                                          \
        v2[r] = inf;                                                          \
        w1[r] = at;                                                           \
    }                                                                         \
    for (b = 0; b < nb; b++) {                                                \
        const T *__restrict blk = tab + b * d * KM_LANES;                     \
        memcpy(&col, blk, sizeof col);                                        \
        for (r = 0; r < R; r++) {                                             \
            t = x[r * ldx] - col;                                             \
            acc[r] = t * t;                                                   \
        }                                                                     \
        for (j = 1; j < d; j++) {                                             \
            memcpy(&col, blk + j * KM_LANES, sizeof col);                     \
            for (r = 0; r < R; r++) {                                         \
                t = x[r * ldx + j] - col;                                     \
                acc[r] += t * t;                                              \
            }                                                                 \
        }                                                                     \
        for (r = 0; r < R; r++) {                                             \
            lt = (VI) (acc[r] < v1[r]);                                       \
            lt2 = (VI) (acc[r] < v2[r]);                                      \
            v2[r] = KM_BLEND(VT, VI, lt, v1[r], KM_BLEND(VT, VI, lt2, acc[r], v2[r])); \
            v1[r] = KM_BLEND(VT, VI, lt, acc[r], v1[r]);                      \
            w1[r] = KM_BLEND(VI, VI, lt, at, w1[r]);                          \
        }                                                                     \
        at += step;                                                           \
    }                                                                         \
    for (r = 0; r < R; r++) {                                                 \
        KM_HALVE(V8, I8, v1[r], v2[r], w1[r], p1, p2, pi);                    \
        KM_HALVE(V4, I4, p1, p2, pi, q1, q2, qi);                             \
        KM_HALVE(V2, I2, q1, q2, qi, r1, r2, ri);                             \
        /* The last two lanes, by the scalar step (h = 1). */                 \
        memcpy(b1, &r1, sizeof r1);                                           \
        memcpy(b2, &r2, sizeof r2);                                           \
        memcpy(i1, &ri, sizeof ri);                                           \
        h = 1;                                                                \
        l = 0;                                                                \
        KM_MERGE_PAIR(T, IT)                                                  \
        best[r] = b1[0];                                                      \
        pos[r] = (ptrdiff_t) i1[0];                                           \
        second[r] = b2[0];                                                    \
    }                                                                         \
}
#else
#define KM_NEAREST_TWO(NAME, R, T, IT, VT, VI, V8, I8, V4, I4, V2, I2)        \
KM_CLONES static void NAME(                                                   \
    const T *__restrict rows, ptrdiff_t ldx, const T *__restrict tab,         \
    ptrdiff_t d, ptrdiff_t nb, T *bests, T *seconds, ptrdiff_t *poss)         \
{                                                                             \
    T b1[KM_LANES], b2[KM_LANES], acc[KM_LANES];                              \
    IT i1[KM_LANES];                                                          \
    ptrdiff_t b, j, l, h, r;                                                  \
    for (r = 0; r < R; r++) {                                                 \
    const T *__restrict x = rows + r * ldx;                                   \
    T *best = bests + r, *second = seconds + r;                               \
    ptrdiff_t *pos = poss + r;                                                \
    for (l = 0; l < KM_LANES; l++) {                                          \
        b1[l] = (T) INFINITY;                                                 \
        b2[l] = (T) INFINITY;                                                 \
        i1[l] = (IT) l;                                                       \
    }                                                                         \
    for (b = 0; b < nb; b++) {                                                \
        const T *__restrict blk = tab + b * d * KM_LANES;                     \
        for (l = 0; l < KM_LANES; l++) {                                      \
            T t = x[0] - blk[l];                                              \
            acc[l] = t * t;                                                   \
        }                                                                     \
        for (j = 1; j < d; j++) {                                             \
            for (l = 0; l < KM_LANES; l++) {                                  \
                T t = x[j] - blk[j * KM_LANES + l];                           \
                acc[l] += t * t;                                              \
            }                                                                 \
        }                                                                     \
        for (l = 0; l < KM_LANES; l++) {                                      \
            T v = acc[l];                                                     \
            int lt = v < b1[l];                                               \
            T nb2 = v < b2[l] ? v : b2[l];                                    \
            b2[l] = lt ? b1[l] : nb2;                                         \
            b1[l] = lt ? v : b1[l];                                           \
            i1[l] = lt ? (IT) (b * KM_LANES + l) : i1[l];                     \
        }                                                                     \
    }                                                                         \
    KM_MERGE_LANES(T, IT)                                                     \
    }                                                                         \
}
#endif

/* One row (ldx unused), and in float32 KM_ROWS rows ldx apart at once:
 * their distances are independent sums, so interleaving them hides the
 * latency of each sum's chain of adds and loads every block of centers
 * once for all of them; each row's arithmetic is the one-row loop's. (Not
 * in float64: there the vectors of KM_ROWS rows do not fit the registers.) */
#define KM_ROWS 4
#if defined(__GNUC__) || defined(__clang__)
KM_NEAREST_TWO(km_nearest_two_f32, 1, float, int32_t, km_v16f, km_v16i, km_v8f, km_v8i, km_v4f,
               km_v4i, km_v2f, km_v2i)
KM_NEAREST_TWO(km_nearest_two_rows_f32, KM_ROWS, float, int32_t, km_v16f, km_v16i, km_v8f,
               km_v8i, km_v4f, km_v4i, km_v2f, km_v2i)
KM_NEAREST_TWO(km_nearest_two_f64, 1, double, int64_t, km_v16d, km_v16l, km_v8d, km_v8l, km_v4d,
               km_v4l, km_v2d, km_v2l)
#else
KM_NEAREST_TWO(km_nearest_two_f32, 1, float, int32_t, , , , , , , , )
KM_NEAREST_TWO(km_nearest_two_rows_f32, KM_ROWS, float, int32_t, , , , , , , , )
KM_NEAREST_TWO(km_nearest_two_f64, 1, double, int64_t, , , , , , , , )
#endif

/* Rows per chunk of km_hamerly_filter: its flags stay in L1. */
#define KM_FILTER_CHUNK 256

/* The first test of Hamerly's filter over the n rows of one slice (labels,
 * upper and lower point at the slice's first row, ``start`` its index):
 * u = upper + drift[a], g = max(lower - (the largest drift among the other
 * centers), 0); a row keeps its label when u * slack < max(g, half_gap[a]),
 * and then its lower bound becomes g. upper takes u for every row; a row
 * that fails keeps its previous lower bound and its index goes to
 * ``failed`` (in row order). Returns how many failed.
 *
 * Every row of a late iteration goes through this test and few fail it, so
 * it is a branch-free loop the compiler vectorises (the drifts and
 * half-gaps gathered by label), and the failing rows are collected after
 * each chunk by a branch-free compaction. The labels must lie in [0, k)
 * (km_labels_in_range). The arithmetic is that of the scalar test, in the
 * same order: the same bounds bit for bit. */
KM_CLONES static ptrdiff_t km_hamerly_filter(
    const ptrdiff_t *__restrict labels, double *__restrict upper,
    double *__restrict lower, const double *__restrict drift,
    const double *__restrict half_gap, double drift1, double drift2,
    ptrdiff_t drift_arg, double slack, ptrdiff_t n, ptrdiff_t start,
    ptrdiff_t *__restrict failed)
{
    ptrdiff_t fails[KM_FILTER_CHUNK];
    ptrdiff_t c, i, e, m = 0;
    for (c = 0; c < n; c += KM_FILTER_CHUNK) {
        e = n - c < KM_FILTER_CHUNK ? n - c : KM_FILTER_CHUNK;
        for (i = 0; i < e; i++) {
            ptrdiff_t a = labels[c + i];
            double u = upper[c + i] + drift[a];
            double l = lower[c + i];
            double g = l - (a == drift_arg ? drift2 : drift1);
            double h = half_gap[a];
            double top;
            g = g > 0 ? g : 0;
            top = g > h ? g : h;
            upper[c + i] = u;
            lower[c + i] = u * slack < top ? g : l;
            fails[i] = !(u * slack < top);
        }
        /* m <= c + i: the index written is always within the slice. */
        for (i = 0; i < e; i++) {
            failed[m] = start + c + i;
            m += fails[i];
        }
    }
    return m;
}

/* Whether every one of the n labels lies in [0, k): one vectorised pass
 * (an unsigned compare catches the negative ones too). */
KM_CLONES static int km_labels_in_range(const ptrdiff_t *__restrict labels, ptrdiff_t n,
                                        ptrdiff_t k)
{
    size_t bad = 0;
    ptrdiff_t i;
    for (i = 0; i < n; i++) bad |= (size_t) labels[i] >= (size_t) k;
    return bad == 0;
}

#endif
