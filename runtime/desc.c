/* desc.c: problem descriptors, their validation, status codes and messages. */
#include "gnk_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Thread_local char last_error[512];

gnk_status gnk_fail(gnk_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return s;
}

const char *gnk_last_error(void) { return last_error; }

const char *gnk_version(void) { return GNK_VERSION_STRING; }

const char *gnk_status_string(gnk_status s) {
  static const char *const names[GNK_STATUS_COUNT_] = {
      [GNK_OK] = "GNK_OK",
      [GNK_ERR_NULL_ARGUMENT] = "GNK_ERR_NULL_ARGUMENT",
      [GNK_ERR_BAD_LAYOUT] = "GNK_ERR_BAD_LAYOUT",
      [GNK_ERR_BAD_DTYPE] = "GNK_ERR_BAD_DTYPE",
      [GNK_ERR_BAD_ACTIVATION] = "GNK_ERR_BAD_ACTIVATION",
      [GNK_ERR_BAD_GROUPS] = "GNK_ERR_BAD_GROUPS",
      [GNK_ERR_GROUPS_NOT_DIVISOR] = "GNK_ERR_GROUPS_NOT_DIVISOR",
      [GNK_ERR_NEGATIVE_SIZE] = "GNK_ERR_NEGATIVE_SIZE",
      [GNK_ERR_SIZE_OVERFLOW] = "GNK_ERR_SIZE_OVERFLOW",
      [GNK_ERR_BAD_EPS] = "GNK_ERR_BAD_EPS",
      [GNK_ERR_BAD_FLAGS] = "GNK_ERR_BAD_FLAGS",
      [GNK_ERR_BAD_THREADS] = "GNK_ERR_BAD_THREADS",
      [GNK_ERR_NO_KERNEL] = "GNK_ERR_NO_KERNEL",
      [GNK_ERR_OUT_OF_MEMORY] = "GNK_ERR_OUT_OF_MEMORY",
      [GNK_ERR_WISDOM_ONLY_MISS] = "GNK_ERR_WISDOM_ONLY_MISS",
      [GNK_ERR_WISDOM_IO] = "GNK_ERR_WISDOM_IO",
      [GNK_ERR_WISDOM_CORRUPT] = "GNK_ERR_WISDOM_CORRUPT",
      [GNK_ERR_WISDOM_VERSION] = "GNK_ERR_WISDOM_VERSION",
      [GNK_ERR_WISDOM_CPU] = "GNK_ERR_WISDOM_CPU",
      [GNK_ERR_WISDOM_KERNELS] = "GNK_ERR_WISDOM_KERNELS",
      [GNK_ERR_OVERLAP] = "GNK_ERR_OVERLAP",
      [GNK_ERR_BAD_RANK] = "GNK_ERR_BAD_RANK",
      [GNK_ERR_BAD_AXIS] = "GNK_ERR_BAD_AXIS",
      [GNK_ERR_BAD_OPTION] = "GNK_ERR_BAD_OPTION",
      [GNK_ERR_MISALIGNED] = "GNK_ERR_MISALIGNED",
      [GNK_ERR_PARALLEL_FOR] = "GNK_ERR_PARALLEL_FOR",
  };
  if ((int)s < 0 || s >= GNK_STATUS_COUNT_) return "GNK_ERR_UNKNOWN_STATUS";
  return names[s];
}

void gnk_desc_init(gnk_desc *d) {
  if (!d) return;
  memset(d, 0, sizeof *d);
  d->layout = GNK_LAYOUT_NCHW;
  d->dtype = GNK_DTYPE_F32;
  d->param_dtype = GNK_DTYPE_F32;
  d->n = d->c = d->spatial = d->groups = 1;
  d->eps = 1e-5;
  d->act = GNK_ACT_NONE;
}

static const char *layout_name(gnk_layout l) { return l == GNK_LAYOUT_NHWC ? "nhwc" : "nchw"; }
static const char *act_name(gnk_act a) {
  return a == GNK_ACT_SILU ? "silu" : a == GNK_ACT_RELU ? "relu" : a == GNK_ACT_GELU_ERF ? "gelu" :
         a == GNK_ACT_GELU_TANH ? "gelutanh" : "none";
}

gnk_status gnk_desc_validate(const gnk_desc *d) {
  if (!d) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "descriptor is NULL");
  if (d->layout != GNK_LAYOUT_NCHW && d->layout != GNK_LAYOUT_NHWC)
    return gnk_fail(GNK_ERR_BAD_LAYOUT, "unknown layout %d (expected GNK_LAYOUT_NCHW or GNK_LAYOUT_NHWC)", (int)d->layout);
  if (d->dtype != GNK_DTYPE_F32 && d->dtype != GNK_DTYPE_F16 && d->dtype != GNK_DTYPE_BF16)
    return gnk_fail(GNK_ERR_BAD_DTYPE, "unknown dtype %d (expected GNK_DTYPE_F32, GNK_DTYPE_F16 or GNK_DTYPE_BF16)", (int)d->dtype);
  if (d->param_dtype != GNK_DTYPE_F32 && d->param_dtype != d->dtype)
    return gnk_fail(GNK_ERR_BAD_DTYPE, "param_dtype %d: gamma/beta must be f32 or the input dtype", (int)d->param_dtype);
  if (!gnk_act_valid(d->act)) /* GELU is valid: it runs on the general kernel */
    return gnk_fail(GNK_ERR_BAD_ACTIVATION, "unknown activation %d (expected GNK_ACT_NONE, GNK_ACT_SILU, GNK_ACT_RELU, GNK_ACT_GELU_ERF or GNK_ACT_GELU_TANH)", (int)d->act);
  if (d->n < 0) return gnk_fail(GNK_ERR_NEGATIVE_SIZE, "n (%lld) is negative", (long long)d->n);
  if (d->c < 0) return gnk_fail(GNK_ERR_NEGATIVE_SIZE, "channels (%lld) is negative", (long long)d->c);
  if (d->spatial < 0) return gnk_fail(GNK_ERR_NEGATIVE_SIZE, "spatial size (%lld) is negative", (long long)d->spatial);
  if (d->groups <= 0) return gnk_fail(GNK_ERR_BAD_GROUPS, "groups (%lld) must be positive", (long long)d->groups);
  if (d->c % d->groups != 0) {
    if (d->groups > d->c)
      return gnk_fail(GNK_ERR_GROUPS_NOT_DIVISOR, "groups (%lld) exceeds channels (%lld)", (long long)d->groups, (long long)d->c);
    return gnk_fail(GNK_ERR_GROUPS_NOT_DIVISOR, "groups (%lld) does not divide channels (%lld)", (long long)d->groups, (long long)d->c);
  }
  if (!(d->eps >= 0.0) || isinf(d->eps))
    return gnk_fail(GNK_ERR_BAD_EPS, "eps (%g) must be finite and >= 0", d->eps);
  if (d->flags != 0) return gnk_fail(GNK_ERR_BAD_FLAGS, "descriptor flags 0x%x: no flags are defined", d->flags);
  /* Element count and byte size must fit in int64 (and so in size_t on 64-bit),
   * and so must the products the planner and executor form from them even
   * where another size is 0 (c*spatial per sample, n*groups statistics): an
   * empty tensor is planned too, so sizes of 0 count as 1 here (before,
   * n = 0 with c*spatial past 2^63, or c = 0 with n*groups past it, passed and
   * overflowed signed products later; found by tests/fuzz/fuzz_desc). */
  const int64_t n1 = d->n ? d->n : 1, c1 = d->c ? d->c : 1, s1 = d->spatial ? d->spatial : 1;
  int64_t nc, all, bytes, ng;
  if (__builtin_mul_overflow(n1, c1, &nc) || __builtin_mul_overflow(nc, s1, &all) ||
      __builtin_mul_overflow(all, (int64_t)gnk_dtype_size(d->dtype), &bytes) || (uint64_t)bytes > (uint64_t)SIZE_MAX / 2)
    return gnk_fail(GNK_ERR_SIZE_OVERFLOW, "n*c*spatial (%lld*%lld*%lld) floats overflow 64 bits%s",
                    (long long)d->n, (long long)d->c, (long long)d->spatial,
                    d->n && d->c && d->spatial ? "" : " (a size of 0 counted as 1)");
  if (__builtin_mul_overflow(n1, d->groups, &ng) || __builtin_mul_overflow(ng, (int64_t)sizeof(float), &bytes) ||
      (uint64_t)bytes > (uint64_t)SIZE_MAX / 2)
    return gnk_fail(GNK_ERR_SIZE_OVERFLOW, "n*groups (%lld*%lld) statistics overflow 64 bits", (long long)d->n,
                    (long long)d->groups);
  return GNK_OK;
}

gnk_status gnk_desc_string(const gnk_desc *d, char *buf, size_t size) {
  if (!d || !buf) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "descriptor or buffer is NULL");
  int len = snprintf(buf, size, "%s%s_%s_%s_n%lldc%llds%lldg%lld_eps%.9g", gnk_dtype_name(d->dtype),
                     d->param_dtype != d->dtype ? "p32" : "", layout_name(d->layout), act_name(d->act),
                     (long long)d->n, (long long)d->c, (long long)d->spatial, (long long)d->groups, d->eps);
  if (len < 0 || (size_t)len >= size) return gnk_fail(GNK_ERR_NULL_ARGUMENT, "buffer of %zu bytes is too small", size);
  return GNK_OK;
}

size_t gnk_dtype_size(gnk_dtype t) { return t == GNK_DTYPE_F32 ? 4 : 2; }
const char *gnk_dtype_name(gnk_dtype t) { return t == GNK_DTYPE_F16 ? "f16" : t == GNK_DTYPE_BF16 ? "bf16" : "f32"; }

double gnk_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void gnk_free(void *p) { free(p); }
