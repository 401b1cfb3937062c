/* general.c: GroupNorm with every framework's options (gnk.h, "General
 * GroupNorm"): any rank, channel axis anywhere, contiguous or interleaved
 * grouping, a subset of reduced axes, per-channel or per-group affine,
 * frequency-weight masks, accurate or sum-of-squares variance, GELU.
 *
 * gnk_general_plan_create validates the descriptor and sends plain problems to
 * the generated kernels (gnk_plan_create_ex: cache, wisdom and threads as
 * usual). The rest runs here. The tensor is viewed as (N, A, C, B) around the
 * channel axis: A = product of the axes between batch and channel, B = product
 * of the axes after it. A statistics set is (n, k, g) where k is the row-major
 * index over the kept (not reduced) axes; k = kA[a] + kB[b] with the two
 * tables built at planning time (NULL when that side has no kept axis, or
 * computed per position past KEPT_TABLE_MAX entries).
 *
 * Per sample: pass 1 accumulates W = sum w and sum w x (and sum w x^2 for
 * SUMSQ) in double, pass 2 (ACCURATE) sum w (x - mean)^2 in double, pass 3
 * writes y = act((x - mean) * rstd * gamma + beta) computed in double and
 * rounded once to f32 (then to f16/bf16). Every sample is computed in one
 * fixed order, so splitting samples over threads never changes a bit. */
#include "gnk_internal.h"
#include "gnk_half.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW_CHUNK 256 /* values converted to double at a time */
#define BLOCK_B 32    /* below this inner size, walk (n, a) blocks of C*B values */
/* The block walk's tables hold C*B entries each; past this many the row walk
 * runs instead (same results): planning a problem of 2^31 channels built
 * 32 GiB of tables before (found by tests/fuzz/fuzz_desc). */
#define BLOCK_TABLE_MAX ((int64_t)1 << 20)
/* Likewise the kept-index tables kA / kB (A or B entries): past this many
 * the index is computed per position (a 2^31-position kept axis asked for a
 * 16 GiB table; found by tests/fuzz/fuzz_desc). */
#define KEPT_TABLE_MAX ((int64_t)1 << 20)

struct gnk_general {
  gnk_general_desc d; /* as validated: channel_axis 0-based, groups resolved, reduce_axes explicit */
  int64_t N, A, C, B, G, D;
  int64_t K;          /* kept positions per sample */
  int64_t R;          /* values per statistics set (without mask) */
  int64_t total;      /* elements of x */
  int keepA, keepB;   /* whether the axes before / after the channel axis keep any (not reduced) */
  int64_t *kA, *kB;   /* kept index of each a / b (kept_at), or NULL: that side keeps nothing or,
                         past KEPT_TABLE_MAX entries, kept_at computes it per position */
  int64_t kstride[GNK_MAX_RANK]; /* kept-index stride of each kept axis */
  /* Small B (channels last and the like): the C*B values of one (n, a) are walked as one
   * block; per position j = c*B + b its set offset kB[b]*G + group(c) and parameter index. */
  int64_t *set_off, *par_ix; /* NULL when B >= BLOCK_B, C*B > BLOCK_TABLE_MAX or the tensor is empty */
  char name[32];
};

/* ---- validation ---- */
static const char *dtype_word(gnk_dtype t) { return gnk_dtype_name(t); }

void gnk_general_desc_init(gnk_general_desc *d) {
  if (!d) return;
  memset(d, 0, sizeof *d);
  d->dtype = d->param_dtype = GNK_DTYPE_F32;
  d->rank = 4;
  for (int i = 0; i < GNK_MAX_RANK; ++i) d->shape[i] = 1;
  d->channel_axis = 1;
  d->groups = 1;
  d->grouping = GNK_GROUPING_CONTIGUOUS;
  d->reduce_axes = 0;
  d->affine = GNK_AFFINE_PER_CHANNEL;
  d->variance = GNK_VARIANCE_ACCURATE;
  d->eps = 1e-5;
  d->act = GNK_ACT_NONE;
}

/* Validates d and writes its resolved form to *r (channel axis 0-based,
 * groups > 0 or 0 for C == 0 with groups == -1, reduce_axes explicit). */
static gnk_status resolve(const gnk_general_desc *d, gnk_general_desc *r) {
  if (!d) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "general descriptor is NULL");
  if (d->dtype != GNK_DTYPE_F32 && d->dtype != GNK_DTYPE_F16 && d->dtype != GNK_DTYPE_BF16)
    return gnk_fail(GNK_ERR_BAD_DTYPE, "unknown dtype %d (expected GNK_DTYPE_F32, GNK_DTYPE_F16 or GNK_DTYPE_BF16)",
                    (int)d->dtype);
  if (d->param_dtype != GNK_DTYPE_F32 && d->param_dtype != d->dtype)
    return gnk_fail(GNK_ERR_BAD_DTYPE, "param_dtype %d: gamma/beta must be f32 or the input dtype", (int)d->param_dtype);
  if (d->rank < 2)
    return gnk_fail(GNK_ERR_BAD_RANK, "tensor rank (%d) must be at least 2 (batch axis and channel axis)", d->rank);
  if (d->rank > GNK_MAX_RANK)
    return gnk_fail(GNK_ERR_BAD_RANK, "tensor rank (%d) exceeds GNK_MAX_RANK (%d)", d->rank, GNK_MAX_RANK);
  for (int i = 0; i < d->rank; ++i)
    if (d->shape[i] < 0)
      return gnk_fail(GNK_ERR_NEGATIVE_SIZE, "shape[%d] (%lld) is negative", i, (long long)d->shape[i]);
  if (d->flags & ~(GNK_AXIS_ONE_BASED | GNK_REDUCE_AXES_EXACT))
    return gnk_fail(GNK_ERR_BAD_FLAGS, "general descriptor flags 0x%x: only GNK_AXIS_ONE_BASED and GNK_REDUCE_AXES_EXACT "
                                       "are defined", d->flags);
  *r = *d;
  const int rank = d->rank;
  int axis = d->channel_axis;
  if ((d->flags & GNK_AXIS_ONE_BASED) && axis == 0)
    return gnk_fail(GNK_ERR_BAD_AXIS, "channel axis 0 is invalid with GNK_AXIS_ONE_BASED: positive axes count from 1 "
                                      "(R convention), negative ones from the end");
  if ((d->flags & GNK_AXIS_ONE_BASED) && axis > 0) --axis;
  if (axis < -rank || axis >= rank)
    return gnk_fail(GNK_ERR_BAD_AXIS, "channel axis %d is out of range for a tensor of rank %d", d->channel_axis, rank);
  if (axis < 0) axis += rank;
  if (axis == 0) {
    if (d->flags & GNK_AXIS_ONE_BASED)
      return gnk_fail(GNK_ERR_BAD_AXIS, "channel axis %d (1-based) is the batch axis: the channel axis must be 2..%d "
                                        "(or negative)", d->channel_axis, rank);
    return gnk_fail(GNK_ERR_BAD_AXIS, "channel axis %d is the batch axis (axis 0): the channel axis must be 1..%d",
                    d->channel_axis, rank - 1);
  }
  r->channel_axis = axis;
  const int64_t C = d->shape[axis];
  if (d->groups == -1) r->groups = C; /* one group per channel */
  else if (d->groups <= 0)
    return gnk_fail(GNK_ERR_BAD_GROUPS, "groups (%lld) must be positive (or -1 for one group per channel)",
                    (long long)d->groups);
  if (r->groups > 0 && C % r->groups != 0) {
    if (r->groups > C)
      return gnk_fail(GNK_ERR_GROUPS_NOT_DIVISOR, "groups (%lld) exceeds channels (%lld)", (long long)r->groups,
                      (long long)C);
    return gnk_fail(GNK_ERR_GROUPS_NOT_DIVISOR, "groups (%lld) does not divide channels (%lld)",
                    (long long)r->groups, (long long)C);
  }
  if (d->grouping != GNK_GROUPING_CONTIGUOUS && d->grouping != GNK_GROUPING_INTERLEAVED)
    return gnk_fail(GNK_ERR_BAD_OPTION, "unknown grouping %d (expected GNK_GROUPING_CONTIGUOUS or GNK_GROUPING_INTERLEAVED)",
                    (int)d->grouping);
  if (d->affine != GNK_AFFINE_PER_CHANNEL && d->affine != GNK_AFFINE_PER_GROUP)
    return gnk_fail(GNK_ERR_BAD_OPTION, "unknown affine %d (expected GNK_AFFINE_PER_CHANNEL or GNK_AFFINE_PER_GROUP)",
                    (int)d->affine);
  if (d->variance != GNK_VARIANCE_ACCURATE && d->variance != GNK_VARIANCE_SUMSQ)
    return gnk_fail(GNK_ERR_BAD_OPTION, "unknown variance %d (expected GNK_VARIANCE_ACCURATE or GNK_VARIANCE_SUMSQ)",
                    (int)d->variance);
  if (d->has_mask != 0 && d->has_mask != 1)
    return gnk_fail(GNK_ERR_BAD_OPTION, "has_mask (%d) must be 0 or 1", d->has_mask);
  const unsigned all = ((1u << rank) - 1u) & ~1u & ~(1u << axis); /* every non-batch, non-channel axis */
  if (d->reduce_axes >> rank) {
    int bad = rank;
    while (!(d->reduce_axes >> bad & 1u)) ++bad;
    return gnk_fail(GNK_ERR_BAD_AXIS, "reduction axis %d is out of range for a tensor of rank %d (reduce_axes 0x%x)",
                    bad, rank, d->reduce_axes);
  }
  if (d->reduce_axes & 1u)
    return gnk_fail(GNK_ERR_BAD_AXIS, "reduction axes include the batch axis (axis 0): every sample has its own "
                                      "statistics");
  if (d->reduce_axes >> axis & 1u)
    return gnk_fail(GNK_ERR_BAD_AXIS, "reduction axes include the channel axis (%d): they must be mutually exclusive "
                                      "with it", axis);
  r->reduce_axes = d->reduce_axes || (d->flags & GNK_REDUCE_AXES_EXACT) ? d->reduce_axes : all;
  if (!(d->eps >= 0.0) || isinf(d->eps)) return gnk_fail(GNK_ERR_BAD_EPS, "eps (%g) must be finite and >= 0", d->eps);
  if (!gnk_act_valid(d->act))
    return gnk_fail(GNK_ERR_BAD_ACTIVATION, "unknown activation %d (expected GNK_ACT_NONE, GNK_ACT_SILU, GNK_ACT_RELU, "
                                            "GNK_ACT_GELU_ERF or GNK_ACT_GELU_TANH)", (int)d->act);
  /* Dimensions of 0 count as 1: an empty tensor is still planned, and the
   * products of its other dimensions (A, B, C*B, the statistics count N*K*G)
   * must fit too (found by tests/fuzz/fuzz_desc). */
  int64_t total = 1, bytes, stats = r->groups > 0 ? r->groups : 1;
  for (int i = 0; i < rank; ++i) {
    const int64_t n1 = d->shape[i] ? d->shape[i] : 1;
    if (__builtin_mul_overflow(total, n1, &total))
      return gnk_fail(GNK_ERR_SIZE_OVERFLOW, "the tensor's element count (product of its %d dimensions) overflows 64 bits",
                      rank);
    if (i != axis && !(r->reduce_axes >> i & 1u) && __builtin_mul_overflow(stats, n1, &stats))
      return gnk_fail(GNK_ERR_SIZE_OVERFLOW, "the statistics count overflows 64 bits");
  }
  if (__builtin_mul_overflow(total, (int64_t)4, &bytes) || (uint64_t)bytes > (uint64_t)SIZE_MAX / 2 ||
      __builtin_mul_overflow(stats, (int64_t)4, &bytes) || (uint64_t)bytes > (uint64_t)SIZE_MAX / 2)
    return gnk_fail(GNK_ERR_SIZE_OVERFLOW, "the tensor's byte size (%lld elements) overflows 64 bits", (long long)total);
  return GNK_OK;
}

/* ---- the resolved problem ---- */
void gnk_general_free(gnk_general *g) {
  if (!g) return;
  free(g->kA);
  free(g->kB);
  free(g->set_off);
  free(g->par_ix);
  free(g);
}

const char *gnk_general_name(const gnk_general *g) { return g ? g->name : NULL; }
int64_t gnk_general_count(const gnk_general *g) { return g->N * g->K * g->G; }

/* Kept index of position j of the axes [lo, hi) (row-major over them): the
 * sum of idx * kstride over the axes that are not reduced. */
static int64_t kept_at(const gnk_general_desc *r, const int64_t *kstride, int lo, int hi, int64_t j) {
  int64_t k = 0;
  for (int i = hi - 1; i >= lo; --i) {
    const int64_t idx = j % r->shape[i];
    j /= r->shape[i];
    if (!(r->reduce_axes >> i & 1u)) k += idx * kstride[i];
  }
  return k;
}

/* Whether the axes [lo, hi) keep any position apart (a kept axis longer than 1). */
static int keeps(const gnk_general_desc *r, int lo, int hi) {
  int any = 0;
  for (int i = lo; i < hi; ++i) any |= !(r->reduce_axes >> i & 1u) && r->shape[i] > 1;
  return any;
}

/* The kept-index table of the axes [lo, hi) (count positions), or NULL where
 * they keep nothing (keep, from keeps()) or it would pass KEPT_TABLE_MAX entries. */
static gnk_status kept_table(const gnk_general_desc *r, const int64_t *kstride, int lo, int hi, int keep,
                             int64_t count, int64_t **out) {
  *out = NULL;
  if (!keep || count == 0 || count > KEPT_TABLE_MAX) return GNK_OK;
  int64_t *t = malloc((size_t)count * sizeof *t);
  if (!t) return gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory for a %lld-entry index table", (long long)count);
  for (int64_t j = 0; j < count; ++j) t[j] = kept_at(r, kstride, lo, hi, j);
  *out = t;
  return GNK_OK;
}

/* Kept index of a (the axes before the channel) and of b0..b0+len (after it). */
static inline int64_t kA_of(const gnk_general *g, int64_t a) {
  return g->kA ? g->kA[a] : g->keepA ? kept_at(&g->d, g->kstride, 1, g->d.channel_axis, a) : 0;
}
static void kB_chunk(const gnk_general *g, int64_t b0, int64_t len, int64_t *out) {
  if (g->kB) memcpy(out, g->kB + b0, (size_t)len * sizeof *out);
  else
    for (int64_t i = 0; i < len; ++i) out[i] = kept_at(&g->d, g->kstride, g->d.channel_axis + 1, g->d.rank, b0 + i);
}

static gnk_status build(const gnk_general_desc *r, gnk_general **out) {
  *out = NULL;
  gnk_general *g = calloc(1, sizeof *g);
  if (!g) return gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory for a general plan");
  g->d = *r;
  const int axis = r->channel_axis, rank = r->rank;
  g->N = r->shape[0];
  g->C = r->shape[axis];
  g->G = r->groups;
  g->D = g->G ? g->C / g->G : 0;
  g->A = g->B = 1;
  for (int i = 1; i < axis; ++i) g->A *= r->shape[i];
  for (int i = axis + 1; i < rank; ++i) g->B *= r->shape[i];
  int64_t *kstride = g->kstride, K = 1, R = g->D;
  for (int i = rank - 1; i >= 1; --i) {
    if (i == axis) continue;
    if (r->reduce_axes >> i & 1u) R *= r->shape[i];
    else { kstride[i] = K; K *= r->shape[i]; }
  }
  g->keepA = keeps(r, 1, axis);
  g->keepB = keeps(r, axis + 1, rank);
  g->K = K;
  g->R = R;
  g->total = g->N * g->A * g->C * g->B;
  snprintf(g->name, sizeof g->name, "general_%s", dtype_word(r->dtype));
  /* an empty tensor runs nothing: no tables (they are sized by C, A and B, not by N) */
  gnk_status st = g->total > 0 ? kept_table(r, kstride, 1, axis, g->keepA, g->A, &g->kA) : GNK_OK;
  if (st == GNK_OK && g->total > 0) st = kept_table(r, kstride, axis + 1, rank, g->keepB, g->B, &g->kB);
  if (st == GNK_OK && g->total > 0 && g->B < BLOCK_B && g->C * g->B <= BLOCK_TABLE_MAX) {
    const int64_t cb = g->C * g->B;
    g->set_off = malloc((size_t)cb * sizeof *g->set_off);
    g->par_ix = malloc((size_t)cb * sizeof *g->par_ix);
    if (!g->set_off || !g->par_ix) st = gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory for %lld-entry tables", (long long)cb);
    else
      for (int64_t c = 0; c < g->C; ++c) {
        const int64_t grp = r->grouping == GNK_GROUPING_INTERLEAVED ? c % g->G : c / g->D;
        for (int64_t b = 0; b < g->B; ++b) {
          g->set_off[c * g->B + b] = (g->keepB ? kept_at(r, kstride, axis + 1, rank, b) : 0) * g->G + grp;
          g->par_ix[c * g->B + b] = r->affine == GNK_AFFINE_PER_GROUP ? grp : c;
        }
      }
  }
  if (st != GNK_OK) { gnk_general_free(g); return st; }
  *out = g;
  return GNK_OK;
}

gnk_status gnk_general_from_desc(gnk_general **out, const gnk_desc *d) {
  gnk_general_desc gd, r;
  gnk_general_desc_init(&gd);
  gd.dtype = d->dtype;
  gd.param_dtype = d->param_dtype;
  gd.rank = 3;
  gd.shape[0] = d->n;
  if (d->layout == GNK_LAYOUT_NHWC) { gd.shape[1] = d->spatial; gd.shape[2] = d->c; gd.channel_axis = 2; }
  else { gd.shape[1] = d->c; gd.shape[2] = d->spatial; gd.channel_axis = 1; }
  gd.groups = d->groups;
  gd.eps = d->eps;
  gd.act = d->act;
  gnk_status st = resolve(&gd, &r);
  return st != GNK_OK ? st : build(&r, out);
}

/* ---- execution ---- */
typedef struct stat3 { double w, s, q; } stat3; /* pass 1: W, sum wx, sum wx^2; then mean (s) and rstd (q) */

typedef struct grun {
  const gnk_general *g;
  const void *x;
  void *y;
  const void *gamma, *beta;
  const double *gd, *bd; /* gamma/beta as doubles (NULL: ones / zeros) */
  const float *mask;
  stat3 *st; /* [N][K][G] */
  float *mean, *rstd;
  int64_t parts;
} grun;

static void load(gnk_dtype t, const void *p, int64_t off, int64_t n, double *out) {
  switch (t) {
  case GNK_DTYPE_F16: for (int64_t i = 0; i < n; ++i) out[i] = gnk_f16_to_f32(((const uint16_t *)p)[off + i]); break;
  case GNK_DTYPE_BF16: for (int64_t i = 0; i < n; ++i) out[i] = gnk_bf16_to_f32(((const uint16_t *)p)[off + i]); break;
  default: for (int64_t i = 0; i < n; ++i) out[i] = ((const float *)p)[off + i];
  }
}

static void store(gnk_dtype t, void *p, int64_t off, int64_t n, const double *v) {
  switch (t) {
  case GNK_DTYPE_F16: for (int64_t i = 0; i < n; ++i) ((uint16_t *)p)[off + i] = gnk_f32_to_f16((float)v[i]); break;
  case GNK_DTYPE_BF16: for (int64_t i = 0; i < n; ++i) ((uint16_t *)p)[off + i] = gnk_f32_to_bf16((float)v[i]); break;
  default: for (int64_t i = 0; i < n; ++i) ((float *)p)[off + i] = (float)v[i];
  }
}

static void activate(gnk_act act, double *z, int64_t n) {
  switch (act) {
  case GNK_ACT_SILU: for (int64_t i = 0; i < n; ++i) z[i] = z[i] / (1.0 + exp(-z[i])); break;
  case GNK_ACT_RELU: for (int64_t i = 0; i < n; ++i) z[i] = z[i] > 0.0 ? z[i] : (z[i] == z[i] ? 0.0 : z[i]); break;
  case GNK_ACT_GELU_ERF:
    for (int64_t i = 0; i < n; ++i) z[i] = 0.5 * z[i] * (1.0 + erf(z[i] * M_SQRT1_2));
    break;
  case GNK_ACT_GELU_TANH: {
    const double k = sqrt(2.0 / M_PI);
    for (int64_t i = 0; i < n; ++i) z[i] = 0.5 * z[i] * (1.0 + tanh(k * (z[i] + 0.044715 * z[i] * z[i] * z[i])));
    break;
  }
  default: break;
  }
}

static int64_t group_of(const gnk_general *g, int64_t c) {
  return g->d.grouping == GNK_GROUPING_INTERLEAVED ? c % g->G : c / g->D;
}

/* Block walk of (n, a) for small B: the C*B contiguous values at once. */
static void accumulate_block(const grun *r, stat3 *st, int64_t off0, int phase) {
  const gnk_general *g = r->g;
  const int sumsq = g->d.variance == GNK_VARIANCE_SUMSQ;
  const int64_t cb = g->C * g->B;
  double xv[ROW_CHUNK], wv[ROW_CHUNK];
  for (int64_t j0 = 0; j0 < cb; j0 += ROW_CHUNK) {
    const int64_t len = cb - j0 < ROW_CHUNK ? cb - j0 : ROW_CHUNK;
    const int64_t *so = g->set_off + j0;
    load(g->d.dtype, r->x, off0 + j0, len, xv);
    if (r->mask) for (int64_t i = 0; i < len; ++i) wv[i] = r->mask[off0 + j0 + i];
    else for (int64_t i = 0; i < len; ++i) wv[i] = 1.0;
    if (phase == 0) {
      for (int64_t i = 0; i < len; ++i) {
        stat3 *s = &st[so[i]];
        s->w += wv[i];
        s->s += wv[i] * xv[i];
        if (sumsq) s->q += wv[i] * xv[i] * xv[i];
      }
    } else {
      for (int64_t i = 0; i < len; ++i) {
        stat3 *s = &st[so[i]];
        const double d = xv[i] - s->s;
        s->q += wv[i] * (d * d);
      }
    }
  }
}

/* Row walk of (n, a, c) for large B: one contiguous row of B values. */
static void accumulate_row(const grun *r, stat3 *st, int64_t off0, int64_t grp, int phase) {
  const gnk_general *g = r->g;
  const int sumsq = g->d.variance == GNK_VARIANCE_SUMSQ;
  double xv[ROW_CHUNK], wv[ROW_CHUNK];
  double sw = 0, s1 = 0, s2 = 0; /* the row's sums when the whole row is one set */
  const double m = st[grp].s;
  for (int64_t b0 = 0; b0 < g->B; b0 += ROW_CHUNK) {
    const int64_t len = g->B - b0 < ROW_CHUNK ? g->B - b0 : ROW_CHUNK;
    load(g->d.dtype, r->x, off0 + b0, len, xv);
    if (r->mask) for (int64_t i = 0; i < len; ++i) wv[i] = r->mask[off0 + b0 + i];
    if (!g->keepB) {
      if (phase == 0 && !r->mask) {
        for (int64_t i = 0; i < len; ++i) s1 += xv[i];
        if (sumsq) for (int64_t i = 0; i < len; ++i) s2 += xv[i] * xv[i];
      } else if (phase == 0) {
        for (int64_t i = 0; i < len; ++i) { sw += wv[i]; s1 += wv[i] * xv[i]; }
        if (sumsq) for (int64_t i = 0; i < len; ++i) s2 += wv[i] * xv[i] * xv[i];
      } else if (!r->mask) {
        for (int64_t i = 0; i < len; ++i) s2 += (xv[i] - m) * (xv[i] - m);
      } else {
        for (int64_t i = 0; i < len; ++i) s2 += wv[i] * ((xv[i] - m) * (xv[i] - m));
      }
    } else {
      int64_t kb[ROW_CHUNK];
      kB_chunk(g, b0, len, kb);
      for (int64_t i = 0; i < len; ++i) {
        stat3 *s = &st[kb[i] * g->G + grp];
        const double w = r->mask ? wv[i] : 1.0;
        if (phase == 0) {
          s->w += w;
          s->s += w * xv[i];
          if (sumsq) s->q += w * xv[i] * xv[i];
        } else {
          s->q += w * ((xv[i] - s->s) * (xv[i] - s->s));
        }
      }
    }
  }
  if (!g->keepB) {
    if (phase == 0) { st[grp].w += sw; st[grp].s += s1; st[grp].q += s2; }
    else st[grp].q += s2;
  }
}

/* Pass 1 (phase 0: W, sums) or pass 2 (phase 1: weighted squared deviations) over sample n. */
static void accumulate(const grun *r, int64_t n, int phase) {
  const gnk_general *g = r->g;
  stat3 *st = r->st + n * g->K * g->G;
  for (int64_t a = 0; a < g->A; ++a) {
    stat3 *sa = st + kA_of(g, a) * g->G;
    if (g->set_off) {
      accumulate_block(r, sa, (n * g->A + a) * g->C * g->B, phase);
      continue;
    }
    for (int64_t c = 0; c < g->C; ++c)
      accumulate_row(r, sa, ((n * g->A + a) * g->C + c) * g->B, group_of(g, c), phase);
  }
}

/* Pass 3 over sample n: y = act((x - mean) * rstd * gamma + beta). */
static void normalize(const grun *r, int64_t n) {
  const gnk_general *g = r->g;
  const stat3 *st = r->st + n * g->K * g->G;
  const int per_group = g->d.affine == GNK_AFFINE_PER_GROUP;
  double xv[ROW_CHUNK];
  for (int64_t a = 0; a < g->A; ++a) {
    const stat3 *sa = st + kA_of(g, a) * g->G;
    if (g->set_off) { /* block walk */
      const int64_t cb = g->C * g->B, off0 = (n * g->A + a) * cb;
      for (int64_t j0 = 0; j0 < cb; j0 += ROW_CHUNK) {
        const int64_t len = cb - j0 < ROW_CHUNK ? cb - j0 : ROW_CHUNK;
        const int64_t *so = g->set_off + j0, *pi = g->par_ix + j0;
        load(g->d.dtype, r->x, off0 + j0, len, xv);
        for (int64_t i = 0; i < len; ++i) {
          const stat3 *s = &sa[so[i]];
          xv[i] = (xv[i] - s->s) * (s->q * r->gd[pi[i]]) + r->bd[pi[i]];
        }
        activate(g->d.act, xv, len);
        store(g->d.dtype, r->y, off0 + j0, len, xv);
      }
      continue;
    }
    for (int64_t c = 0; c < g->C; ++c) { /* row walk */
      const int64_t grp = group_of(g, c), pi = per_group ? grp : c, off0 = ((n * g->A + a) * g->C + c) * g->B;
      const double gam = r->gd[pi], bet = r->bd[pi];
      for (int64_t b0 = 0; b0 < g->B; b0 += ROW_CHUNK) {
        const int64_t len = g->B - b0 < ROW_CHUNK ? g->B - b0 : ROW_CHUNK;
        load(g->d.dtype, r->x, off0 + b0, len, xv);
        if (!g->keepB) {
          const double m = sa[grp].s, sc = sa[grp].q * gam;
          for (int64_t i = 0; i < len; ++i) xv[i] = (xv[i] - m) * sc + bet;
        } else {
          int64_t kb[ROW_CHUNK];
          kB_chunk(g, b0, len, kb);
          for (int64_t i = 0; i < len; ++i) {
            const stat3 *s = &sa[kb[i] * g->G + grp];
            xv[i] = (xv[i] - s->s) * (s->q * gam) + bet;
          }
        }
        activate(g->d.act, xv, len);
        store(g->d.dtype, r->y, off0 + b0, len, xv);
      }
    }
  }
}

static void run_sample(const grun *r, int64_t n) {
  const gnk_general *g = r->g;
  const int64_t sets = g->K * g->G;
  stat3 *st = r->st + n * sets;
  memset(st, 0, (size_t)sets * sizeof *st);
  accumulate(r, n, 0);
  const int sumsq = g->d.variance == GNK_VARIANCE_SUMSQ;
  for (int64_t i = 0; i < sets; ++i) { /* mean (and SUMSQ variance) */
    const double W = r->mask ? st[i].w : (double)g->R;
    const double mean = W != 0.0 ? st[i].s / W : 0.0; /* 0/0 := 0 */
    st[i].s = mean;
    st[i].q = sumsq ? (W != 0.0 ? st[i].q / W - mean * mean : 0.0) : 0.0;
  }
  if (!sumsq) accumulate(r, n, 1);
  for (int64_t i = 0; i < sets; ++i) {
    const double W = r->mask ? st[i].w : (double)g->R;
    const double var = sumsq ? st[i].q : (W != 0.0 ? st[i].q / W : 0.0); /* unclamped */
    st[i].q = 1.0 / sqrt(var + g->d.eps);
    if (r->mean) r->mean[n * sets + i] = (float)st[i].s;
    if (r->rstd) r->rstd[n * sets + i] = (float)st[i].q;
  }
  normalize(r, n);
}

static void task(void *ctx, int64_t i) {
  const grun *r = ctx;
  const int64_t N = r->g->N, b = N * i / r->parts, e = N * (i + 1) / r->parts;
  for (int64_t n = b; n < e; ++n) run_sample(r, n);
}

gnk_status gnk_general_run(const gnk_general *g, const gnk_exec_cfg *cfg, const void *x, void *y,
                           const void *gamma, const void *beta, const void *mask, float *mean, float *rstd) {
  if (mask && !g->d.has_mask)
    return gnk_fail(GNK_ERR_BAD_OPTION, "a mask was given but the plan was created without has_mask");
  const int64_t total = g->total;
  if (total == 0) /* empty: every existing statistics set gets mean 0, rstd NaN (1/sqrt(eps) with a mask) */
    return gnk_empty_stats(mean, rstd, gnk_general_count(g), mask ? (float)(1.0 / sqrt(g->d.eps)) : NAN);
  if (!x || !y) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "%s is NULL", !x ? "x" : "y");
  const int64_t npar = g->d.affine == GNK_AFFINE_PER_GROUP ? g->G : g->C;
  {
    const size_t es = gnk_dtype_size(g->d.dtype), ps = gnk_dtype_size(g->d.param_dtype);
    const gnk_buffers b = {.x = x, .y = y, .es = es, .xbytes = (size_t)total * es,
                           .gamma = gamma, .beta = beta, .ps = ps, .pbytes = (size_t)npar * ps,
                           .mask = mask, .mbytes = (size_t)total * sizeof(float),
                           .mean = mean, .rstd = rstd, .sbytes = (size_t)gnk_general_count(g) * sizeof(float)};
    const gnk_status st = gnk_check_buffers(&b);
    if (st != GNK_OK) return st;
  }
  grun r = {g, x, y, gamma, beta, NULL, NULL, mask, NULL, mean, rstd, 1};
  const size_t bytes = (size_t)gnk_general_count(g) * sizeof(stat3);
  double *pd = malloc((size_t)(2 * npar + 1) * sizeof *pd);
  r.st = malloc(bytes ? bytes : 1);
  if (!r.st || !pd) {
    free(r.st);
    free(pd);
    return gnk_fail(GNK_ERR_OUT_OF_MEMORY, "no memory for %zu bytes of statistics", bytes);
  }
  for (int64_t i = 0; i < npar; ++i) {
    pd[i] = gamma ? gnk_value_at(g->d.param_dtype, gamma, i) : 1.0;
    pd[npar + i] = beta ? gnk_value_at(g->d.param_dtype, beta, i) : 0.0;
  }
  r.gd = pd;
  r.bd = pd + npar;
  const int threads = cfg && cfg->threads > 1 ? cfg->threads : 1;
  r.parts = g->N < threads ? g->N : threads;
  gnk_status st = GNK_OK;
  if (r.parts <= 1) { r.parts = 1; task(&r, 0); }
  else if (cfg->parallel_for) st = gnk_caller_parallel_for(cfg->parallel_for, cfg->parallel_for_ctx, task, &r, r.parts);
  else gnk_pool_parallel_for(threads, task, &r, r.parts);
  free(r.st);
  free(pd);
  return st;
}

/* ---- public ---- */
/* The plain descriptor of a fast-eligible problem; 0 if it is not one. */
static int fast_desc(const gnk_general_desc *r, gnk_desc *fd) {
  const int axis = r->channel_axis, rank = r->rank;
  const int64_t C = r->shape[axis], G = r->groups;
  const unsigned all = ((1u << rank) - 1u) & ~1u & ~(1u << axis);
  int64_t total = 1;
  for (int i = 0; i < rank; ++i) total *= r->shape[i];
  if (total == 0 || G <= 0) return 0;
  if (axis != 1 && axis != rank - 1) return 0;
  if (r->grouping != GNK_GROUPING_CONTIGUOUS && G != 1 && G != C) return 0;
  if (r->reduce_axes != all) return 0;
  if (r->affine == GNK_AFFINE_PER_GROUP && G != C) return 0;
  if (r->has_mask || r->variance != GNK_VARIANCE_ACCURATE) return 0;
  if (r->act != GNK_ACT_NONE && r->act != GNK_ACT_SILU && r->act != GNK_ACT_RELU) return 0;
  gnk_desc_init(fd);
  fd->layout = axis == 1 ? GNK_LAYOUT_NCHW : GNK_LAYOUT_NHWC;
  fd->dtype = r->dtype;
  fd->param_dtype = r->param_dtype;
  fd->n = r->shape[0];
  fd->c = C;
  fd->spatial = total / (fd->n * C);
  fd->groups = G;
  fd->eps = r->eps;
  fd->act = r->act;
  return 1;
}

gnk_status gnk_general_plan_create(gnk_plan **plan, const gnk_general_desc *d, const gnk_plan_options *opt) {
  if (!plan) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "plan output pointer is NULL");
  *plan = NULL;
  gnk_general_desc r;
  gnk_status st = resolve(d, &r);
  if (st != GNK_OK) return st;
  const gnk_plan_options defaults = {GNK_ESTIMATE, 0, NULL, NULL};
  const gnk_plan_options *o = opt ? opt : &defaults;
  if ((st = gnk_plan_options_validate(o)) != GNK_OK) return st;
  gnk_desc fd;
  if (fast_desc(&r, &fd)) {
    st = gnk_plan_create_ex(plan, &fd, o);
    if (st != GNK_ERR_NO_KERNEL) return st; /* no generated kernel: the general one runs it */
  }
  gnk_general *g;
  st = build(&r, &g);
  if (st != GNK_OK) return st;
  /* What gnk_plan_desc reports: the nearest plain problem. */
  gnk_desc_init(&fd);
  fd.layout = r.channel_axis == r.rank - 1 && r.channel_axis != 1 ? GNK_LAYOUT_NHWC : GNK_LAYOUT_NCHW;
  fd.dtype = r.dtype;
  fd.param_dtype = r.param_dtype;
  fd.n = g->N;
  fd.c = g->C;
  fd.spatial = g->A * g->B;
  fd.groups = g->G;
  fd.eps = r.eps;
  fd.act = r.act;
  return gnk_plan_wrap_general(plan, g, &fd, o);
}

gnk_status gnk_general_execute(const gnk_plan *plan, const void *x, void *y, const void *gamma, const void *beta,
                               const void *mask, float *mean, float *rstd) {
  if (!plan) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "plan is NULL");
  const gnk_exec_cfg *cfg;
  const gnk_general *g = gnk_plan_general(plan, &cfg);
  if (!g) {
    if (mask) return gnk_fail(GNK_ERR_BAD_OPTION, "a mask was given but the plan was created without has_mask");
    return gnk_execute_stats(plan, x, y, gamma, beta, mean, rstd);
  }
  return gnk_general_run(g, cfg, x, y, gamma, beta, mask, mean, rstd);
}

int64_t gnk_general_stats_count(const gnk_plan *plan) {
  if (!plan) return -1;
  const gnk_general *g = gnk_plan_general(plan, NULL);
  if (g) return gnk_general_count(g);
  const gnk_desc *d = gnk_plan_desc(plan);
  return d->n * d->groups;
}
