/* oneDNN peer: the group normalization primitive through oneDNN's C API. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "gnk_bench.h"
#include "bench_internal.h"

typedef struct onednn_bench {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  dnnl_primitive_t gn, elt;   /* elt: separate eltwise primitive (mode 1), else NULL */
  dnnl_memory_t src, dst, scale, shift;
  char impl[256];
} onednn_bench;

static const char *st_name(dnnl_status_t s) {
  switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out_of_memory";
    case dnnl_invalid_arguments: return "invalid_arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_last_impl_reached: return "last_impl_reached";
    case dnnl_runtime_error: return "runtime_error";
    case dnnl_not_required: return "not_required";
    default: return "error";
  }
}

#define CHK(call, what)                                                     \
  do {                                                                      \
    dnnl_status_t s_ = (call);                                              \
    if (s_ != dnnl_success) {                                               \
      bench_set_error("%s%s: %s", s_ == dnnl_unimplemented ? "unsupported: " : "", \
                      what, st_name(s_));                                   \
      goto fail;                                                            \
    }                                                                       \
  } while (0)

void bench_onednn_destroy(void *hp) {
  onednn_bench *h = hp;
  if (!h) return;
  if (h->elt) dnnl_primitive_destroy(h->elt);
  if (h->gn) dnnl_primitive_destroy(h->gn);
  if (h->src) dnnl_memory_destroy(h->src);
  if (h->dst) dnnl_memory_destroy(h->dst);
  if (h->scale) dnnl_memory_destroy(h->scale);
  if (h->shift) dnnl_memory_destroy(h->shift);
  if (h->stream) dnnl_stream_destroy(h->stream);
  if (h->engine) dnnl_engine_destroy(h->engine);
  free(h);
}

static void append_impl(onednn_bench *h, const_dnnl_primitive_desc_t pd) {
  const char *name = NULL;
  if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success || !name)
    name = "?";
  size_t len = strlen(h->impl);
  snprintf(h->impl + len, sizeof h->impl - len, "%s%s", len ? " + " : "", name);
}

void *bench_onednn_create(const bench_problem *p, int mode, const void *x, void *y,
                          const float *gamma, const float *beta) {
  onednn_bench *h = calloc(1, sizeof *h);
  dnnl_memory_desc_t md = NULL, cmd = NULL;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t po = NULL;
  dnnl_primitive_desc_t pd = NULL, epd = NULL;
  if (!h) {
    bench_set_error("out of memory");
    return NULL;
  }
  dnnl_dims_t dims = {p->n, p->c, p->h, p->w};
  dnnl_dims_t cdims = {p->c};
  dnnl_alg_kind_t alg = p->act == 1 ? dnnl_eltwise_swish : dnnl_eltwise_relu;

  CHK(dnnl_engine_create(&h->engine, dnnl_cpu, 0), "engine_create");
  CHK(dnnl_stream_create(&h->stream, h->engine, dnnl_stream_default_flags), "stream_create");
  const dnnl_data_type_t dt = p->dtype == 1 ? dnnl_f16 : p->dtype == 2 ? dnnl_bf16 : dnnl_f32;
  CHK(dnnl_memory_desc_create_with_tag(&md, 4, dims, dt,
                                       p->layout == 1 ? dnnl_nhwc : dnnl_nchw),
      "memory_desc");
  CHK(dnnl_memory_desc_create_with_tag(&cmd, 1, cdims, dnnl_f32, dnnl_a), "memory_desc(C)");
  CHK(dnnl_primitive_attr_create(&attr), "attr_create");
  if (p->act != 0 && mode == 0) {
    CHK(dnnl_post_ops_create(&po), "post_ops_create");
    /* swish(x) = x * sigmoid(alpha * x): alpha = 1 is SiLU; relu: alpha = 0 slope. */
    CHK(dnnl_post_ops_append_eltwise(po, alg, p->act == 1 ? 1.f : 0.f, 0.f), "append_eltwise");
    CHK(dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops");
  }
  CHK(dnnl_group_normalization_forward_primitive_desc_create(
          &pd, h->engine, dnnl_forward_inference, md, md, p->groups, (float)p->eps,
          dnnl_use_scale | dnnl_use_shift, attr),
      p->act != 0 && mode == 0 ? "group_normalization with eltwise post-op"
                               : "group_normalization");
  append_impl(h, pd);
  CHK(dnnl_primitive_create(&h->gn, pd), "primitive_create");
  if (p->act != 0 && mode == 1) {
    CHK(dnnl_eltwise_forward_primitive_desc_create(&epd, h->engine, dnnl_forward_inference,
                                                   alg, md, md, p->act == 1 ? 1.f : 0.f,
                                                   0.f, NULL),
        "eltwise");
    append_impl(h, epd);
    CHK(dnnl_primitive_create(&h->elt, epd), "primitive_create(eltwise)");
  }
  CHK(dnnl_memory_create(&h->src, md, h->engine, (void *)x), "memory_create(src)");
  CHK(dnnl_memory_create(&h->dst, md, h->engine, y), "memory_create(dst)");
  CHK(dnnl_memory_create(&h->scale, cmd, h->engine, (void *)gamma), "memory_create(scale)");
  CHK(dnnl_memory_create(&h->shift, cmd, h->engine, (void *)beta), "memory_create(shift)");
  dnnl_primitive_desc_destroy(pd);
  if (epd) dnnl_primitive_desc_destroy(epd);
  dnnl_primitive_attr_destroy(attr);
  if (po) dnnl_post_ops_destroy(po);
  dnnl_memory_desc_destroy(md);
  dnnl_memory_desc_destroy(cmd);
  return h;
fail:
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (epd) dnnl_primitive_desc_destroy(epd);
  if (attr) dnnl_primitive_attr_destroy(attr);
  if (po) dnnl_post_ops_destroy(po);
  if (md) dnnl_memory_desc_destroy(md);
  if (cmd) dnnl_memory_desc_destroy(cmd);
  bench_onednn_destroy(h);
  return NULL;
}

const char *bench_onednn_impl(const void *hp) { return ((const onednn_bench *)hp)->impl; }

static int run_once(onednn_bench *h) {
  dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, h->src},
                             {DNNL_ARG_DST, h->dst},
                             {DNNL_ARG_SCALE, h->scale},
                             {DNNL_ARG_SHIFT, h->shift}};
  if (dnnl_primitive_execute(h->gn, h->stream, 4, args) != dnnl_success) return -1;
  if (h->elt) {
    dnnl_exec_arg_t eargs[2] = {{DNNL_ARG_SRC, h->dst}, {DNNL_ARG_DST, h->dst}};
    if (dnnl_primitive_execute(h->elt, h->stream, 2, eargs) != dnnl_success) return -1;
  }
  return dnnl_stream_wait(h->stream) == dnnl_success ? 0 : -1;
}

int bench_onednn_run(void *hp, int warmup, int reps, double *samples) {
  onednn_bench *h = hp;
  for (int i = 0; i < warmup; i++)
    if (run_once(h)) goto fail;
  for (int i = 0; i < reps; i++) {
    double t0 = bench_now_ns();
    if (run_once(h)) goto fail;
    samples[i] = bench_now_ns() - t0;
  }
  return 0;
fail:
  bench_set_error("dnnl_primitive_execute failed");
  return -1;
}

/* tbb::global_control(max_allowed_parallelism, n), reached through TBB's stable
 * exported ABI (tbb::detail::r1::create(d1::global_control&)) so that this
 * file stays C. The object must live as long as the setting. */
typedef struct tbb_global_control {
  size_t value;
  intptr_t reserved;
  int param; /* 0 = max_allowed_parallelism */
} tbb_global_control;

static tbb_global_control tbb_gc;
static int tbb_gc_live;

int bench_onednn_set_threads(int threads) {
  void (*create)(tbb_global_control *) =
      (void (*)(tbb_global_control *))dlsym(RTLD_DEFAULT, "_ZN3tbb6detail2r16createERNS0_2d114global_controlE");
  void (*destroy)(tbb_global_control *) =
      (void (*)(tbb_global_control *))dlsym(RTLD_DEFAULT, "_ZN3tbb6detail2r17destroyERNS0_2d114global_controlE");
  size_t (*active)(int) =
      (size_t (*)(int))dlsym(RTLD_DEFAULT, "_ZN3tbb6detail2r127global_control_active_valueEi");
  if (!create || !destroy || !active) {
    bench_set_error("TBB's global_control not found (oneDNN built without TBB?)");
    return -1;
  }
  if (threads < 1) threads = 1;
  if (tbb_gc_live) destroy(&tbb_gc);
  tbb_gc = (tbb_global_control){(size_t)threads, 0, 0};
  create(&tbb_gc);
  tbb_gc_live = 1;
  size_t got = active(0);
  if (got != (size_t)threads) {
    bench_set_error("TBB max_allowed_parallelism is %zu, wanted %d", got, threads);
    return -1;
  }
  return 0;
}

const char *bench_onednn_version(void) {
  static char buf[96];
  const dnnl_version_t *v = dnnl_version();
  const char *rt = v->cpu_runtime == DNNL_RUNTIME_TBB   ? "TBB"
                   : v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP"
                   : v->cpu_runtime == DNNL_RUNTIME_SEQ ? "sequential"
                   : v->cpu_runtime == DNNL_RUNTIME_SYCL ? "SYCL CPU device, TBB threads"
                                                        : "other";
  snprintf(buf, sizeof buf, "%d.%d.%d (%s runtime, git %.8s)", v->major, v->minor, v->patch, rt,
           v->hash ? v->hash : "?");
  return buf;
}
