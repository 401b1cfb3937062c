/*
 * The contract between generated kernels and the runtime (internal header).
 *
 * A GroupNorm runs in three phases so that work can be split across threads
 * without changing a single bit of the result:
 *
 *   1. stats  (kernel)  for each chunk: partial mean and M2 of every group the
 *                       chunk touches, written to part[(n*G + g)*nchunk + k];
 *   2. merge  (runtime) per (n, g): Chan-merge the chunk partials in chunk
 *                       order (in double), then per channel the apply
 *                       parameters sub/scale/shift;
 *   3. apply  (kernel)  for each chunk: y = act((x - sub[c]) * scale[c] + shift[c]).
 *
 * The chunking depends only on the problem (never on the thread count), and
 * the merge order is fixed, so 1, 2 or 64 threads give identical bits.
 *
 * Chunks ("items"):
 *   NCHW: a group's D*S values are contiguous; its item k covers values
 *         [k*chunk, min((k+1)*chunk, D*S)). Items are numbered
 *         (n*G + g)*nchunk + k.
 *   NHWC: a sample's S positions hold C contiguous values each; item k covers
 *         positions [k*chunk, min((k+1)*chunk, S)) of all channels, numbered
 *         n*nchunk + k, and produces a partial for each of the G groups.
 *         Channel blocks (nblk > 1): the kernel's c channels and `groups`
 *         groups are one block of whole groups of rows nblk*c wide; unit
 *         v = n*nblk + b is block b of sample n, its items v*nchunk + k. The
 *         kernel indexes a unit as it would a sample of c channels (partials
 *         (v*groups + g)*nchunk + k, parameters v*c + j), which is exactly the
 *         whole problem's (n*G + b*groups + g, n*C + b*c + j); only x and y
 *         rows are addressed with the full width. A block of a sample that
 *         exceeds L2 can stay in L2 between its statistics and its apply.
 *
 * Why (x - sub) * scale + shift instead of the folded x * scale + shift':
 * when |mean| >> std the folded form cancels catastrophically in f32. With
 * sub = (float)mean the subtraction is exact for values near the mean and
 * shift absorbs the rounding of sub (shift = beta - (mean - sub) * scale).
 */
#ifndef GNK_KERNEL_ABI_H
#define GNK_KERNEL_ABI_H

#include <stdint.h>

typedef struct gnk_partial {
  double mean;  /* mean of the chunk's values of this group */
  double m2;    /* sum of squared deviations from that mean */
  double count; /* number of values */
} gnk_partial;

enum { GNK_PREFETCH_NONE = 0, GNK_PREFETCH_L1 = 1, GNK_PREFETCH_L2 = 2 };

typedef struct gnk_kargs {
  const void *x; /* elements of the kernel's dtype */
  void *y;
  int64_t n, c, s, groups; /* problem (NHWC: of a channel block, see above); specialized
                              kernels bake c and groups in */
  int64_t nblk;            /* NHWC channel blocks per row (1: c is the whole row); NCHW: 1 */
  int64_t chunk;           /* values (NCHW) or positions (NHWC) per item */
  int64_t nchunk;          /* items per group (NCHW) or per sample (NHWC) */
  gnk_partial *part;       /* [n][g][nchunk] */
  const float *sub, *scale, *shift; /* [n][c] apply parameters */
  /* Nonzero when units run one after another on a thread (statistics, merge,
   * apply per (n, g)) and a unit fits in L2: the apply of one NCHW group then
   * prefetches the next group's x, so that its statistics pass finds it in
   * cache and the memory reads overlap the apply's writes. GNK_PREFETCH_L1
   * when the whole tensor fits in L2, GNK_PREFETCH_L2 when it streams. */
  int prefetch_next;
  /* NHWC statistics and apply: prefetch x this many rows ahead into L2 (0:
   * none). Set when the tensor streams from memory (gnk_stream_bytes()): the
   * hardware prefetchers alone leave the statistics at half a plain read's
   * rate there (their four-row steps are four short streams) and, on the Intel
   * VM, the apply ~25% slower (GN+SiLU on 32-128 MiB), while on tensors the
   * last-level cache holds the extra instructions cost up to 3%. */
  int64_t pf_rows;
  /* The apply's row prefetch goes into L1 (nonzero) rather than L2: faster on
   * the Intel VM, slower on Zen 4 (gnk_cpu_apply_pf_l1). No effect on values. */
  int pf_l1;
} gnk_kargs;

typedef void (*gnk_phase_fn)(const gnk_kargs *a, int64_t item0, int64_t item1);

/* The apply of item ia fused with the statistics of item is (the same chunk
 * of the next NCHW group or NHWC sample); the same bits as
 * apply(a, ia, ia + 1) followed by stats(a, is, is + 1). */
typedef void (*gnk_fused_fn)(const gnk_kargs *a, int64_t ia, int64_t is);

typedef struct gnk_kernel_fns {
  gnk_phase_fn stats;
  gnk_phase_fn apply;
  gnk_fused_fn fused; /* NULL: no fused phase (the fused split then runs as units) */
} gnk_kernel_fns;

/* Channels-last streaming (non-temporal) stores start on a cache line,
 * whatever the vector width: 32-byte AVX2 streaming stores from the middle of
 * a line ran 4.4x the time of line-aligned ones in the channels-last apply
 * (Intel VM, 2026-12-04, bench/kernel_ab.sh
 * gnk_f32_nhwc_gn_g32c320__avx2_u4_nt_row 2x320x4096, YOFF=8 against 0: 5.4
 * against 1.23 ms). Channels-first ones start on a vector (see vec_head in
 * the template: there half a line off cost 5-10%). */
#define GNK_NT_LINE 64

/* Floats from p to its next `align`-byte boundary (a power of two): 0 when
 * p is on one. The streaming-store paths' head before aligned stores. */
static inline int64_t gnk_floats_to_boundary(const void *p, uintptr_t align) {
  return (int64_t)(((align - ((uintptr_t)p & (align - 1))) & (align - 1)) / sizeof(float));
}

/* Largest channel tile an NHWC stats kernel keeps per-channel sums for on
 * its stack (floats); wider tensors are processed in tiles of whole groups. */
#define GNK_NHWC_TILE_C 1024

#endif
