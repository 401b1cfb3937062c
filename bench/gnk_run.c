/* gnk-run: the main job. Tunes (GNK_MEASURE) every problem of a workload —
 * the embedded default (SD 1.5 UNet + VAE decoder) or a spec file — and
 * prints one row per problem: chosen kernel, time, GB/s, the ratio to a
 * memcpy of the same tensor measured in the same run, and the max error
 * against a float64 reference.
 *
 *   gnk-run [--layout nchw|nhwc] [--dtype f32|f16|bf16] [--threads N] [--reps R] [--wisdom FILE] [SPEC]
 * memcpy copies the same bytes as the tensor (half as many for f16/bf16).
 * With --wisdom, decisions are imported from FILE when it exists and saved to it. */
#include "gnk.h"
#include "gnk_half.h"
#include "gnk_internal.h" /* gnk_pool_parallel_for: the memcpy roof runs on gnk's own pool */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct problem {
  char name[64];
  int count;
  int64_t n, c, s, groups;
  double eps;
  gnk_act act;
} problem;

static const problem default_workload[] = {
#define GNK_PROBLEM(name, count, n, c, s, g, eps, act) {name, count, n, c, s, g, eps, act},
#include "gnk_default_workload.inc"
#undef GNK_PROBLEM
};

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- spec file (same format as gen/spec.lua reads) ---- */
static int parse_spec(const char *path, problem **out, int *count) {
  FILE *f = fopen(path, "r");
  if (!f) { perror(path); return 0; }
  char line[1024];
  int n = 0, cap = 0, lineno = 0;
  problem *ps = NULL;
  while (fgets(line, sizeof line, f)) {
    ++lineno;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *tok = strtok(line, " \t\r\n");
    if (!tok) continue;
    if (strcmp(tok, "problem")) continue; /* kernel rows only matter to the generator */
    problem p = {.count = 1, .eps = 1e-5, .act = GNK_ACT_NONE, .s = -1};
    int64_t h = -1, w = -1;
    char *name = strtok(NULL, " \t\r\n");
    if (!name) { fprintf(stderr, "%s:%d: problem needs a name\n", path, lineno); fclose(f); free(ps); return 0; }
    snprintf(p.name, sizeof p.name, "%s", name);
    for (char *kv; (kv = strtok(NULL, " \t\r\n"));) {
      char *eq = strchr(kv, '=');
      if (!eq) { fprintf(stderr, "%s:%d: expected key=value: %s\n", path, lineno, kv); fclose(f); free(ps); return 0; }
      *eq = 0;
      const char *v = eq + 1;
      if (!strcmp(kv, "count")) p.count = atoi(v);
      else if (!strcmp(kv, "n")) p.n = atoll(v);
      else if (!strcmp(kv, "c")) p.c = atoll(v);
      else if (!strcmp(kv, "h")) h = atoll(v);
      else if (!strcmp(kv, "w")) w = atoll(v);
      else if (!strcmp(kv, "spatial")) p.s = atoll(v);
      else if (!strcmp(kv, "groups")) p.groups = atoll(v);
      else if (!strcmp(kv, "eps")) p.eps = atof(v);
      else if (!strcmp(kv, "act")) {
        if (!strcmp(v, "silu")) p.act = GNK_ACT_SILU;
        else if (!strcmp(v, "relu")) p.act = GNK_ACT_RELU;
        else if (!strcmp(v, "none")) p.act = GNK_ACT_NONE;
        else { fprintf(stderr, "%s:%d: unknown act %s\n", path, lineno, v); fclose(f); free(ps); return 0; }
      } else { fprintf(stderr, "%s:%d: unknown key %s\n", path, lineno, kv); fclose(f); free(ps); return 0; }
    }
    if (p.s < 0) p.s = h * w;
    if (n == cap) { cap = cap ? cap * 2 : 16; ps = realloc(ps, (size_t)cap * sizeof *ps); }
    ps[n++] = p;
  }
  fclose(f);
  *out = ps;
  *count = n;
  return 1;
}

/* ---- memcpy roof, with the same thread count as the kernel ---- */
/* The copy is split over gnk's own thread pool, the one gnk_execute uses, so
 * both sides pay the same wake-ups and hand-offs. (A separate copier thread
 * spinning after its copy took the second vCPU from gnk's worker during the
 * kernel's run, and gnk's spinning worker took it from the copier: on a
 * 2-vCPU machine that slowed whichever ran second.) */
typedef struct copy_job { char *dst; const char *src; size_t bytes; int parts; } copy_job;
static void copy_part(void *ctx, int64_t i) {
  const copy_job *j = ctx;
  const size_t b = j->bytes * (size_t)i / (size_t)j->parts, e = j->bytes * (size_t)(i + 1) / (size_t)j->parts;
  memcpy(j->dst + b, j->src + b, e - b);
}
static void roof_copy(char *dst, const char *src, size_t bytes, int threads) {
  if (threads <= 1) { memcpy(dst, src, bytes); return; }
  copy_job j = {dst, src, bytes, threads};
  gnk_pool_parallel_for(threads, copy_part, &j, threads);
}

/* ---- float64 reference ---- */
static double ref_max_error(const problem *p, gnk_layout layout, const float *x, const float *y,
                            const float *gamma, const float *beta) {
  const int64_t D = p->c / p->groups;
  double worst = 0;
  for (int64_t n = 0; n < p->n; ++n)
    for (int64_t g = 0; g < p->groups; ++g) {
#define IDX(c, s) (layout == GNK_LAYOUT_NCHW ? ((n * p->c + (c)) * p->s + (s)) : ((n * p->s + (s)) * p->c + (c)))
      double sum = 0, sq = 0;
      for (int64_t c = g * D; c < (g + 1) * D; ++c)
        for (int64_t s = 0; s < p->s; ++s) sum += x[IDX(c, s)];
      const double cnt = (double)(D * p->s), mean = sum / cnt;
      for (int64_t c = g * D; c < (g + 1) * D; ++c)
        for (int64_t s = 0; s < p->s; ++s) { double t = x[IDX(c, s)] - mean; sq += t * t; }
      const double rstd = 1.0 / sqrt(sq / cnt + p->eps);
      for (int64_t c = g * D; c < (g + 1) * D; ++c)
        for (int64_t s = 0; s < p->s; ++s) {
          double z = (x[IDX(c, s)] - mean) * rstd * gamma[c] + beta[c];
          if (p->act == GNK_ACT_SILU) z = z / (1.0 + exp(-z));
          else if (p->act == GNK_ACT_RELU) z = z > 0 ? z : 0;
          const double err = fabs(y[IDX(c, s)] - z) / (1.0 + fabs(z));
          if (!(err <= worst)) worst = err; /* NaN shows as NaN */
        }
#undef IDX
    }
  return worst;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  gnk_layout layout = GNK_LAYOUT_NCHW;
  gnk_dtype dtype = GNK_DTYPE_F32;
  int threads = 1, reps = 0;
  unsigned mode = GNK_MEASURE; /* --estimate: the heuristic, as gnk_group_norm() uses it */
  const char *spec = NULL, *wisdom = NULL;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--layout") && i + 1 < argc) {
      ++i;
      if (!strcmp(argv[i], "nhwc")) layout = GNK_LAYOUT_NHWC;
      else if (strcmp(argv[i], "nchw")) { fprintf(stderr, "gnk-run: --layout nchw|nhwc\n"); return 2; }
    } else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) {
      ++i;
      if (!strcmp(argv[i], "f16")) dtype = GNK_DTYPE_F16;
      else if (!strcmp(argv[i], "bf16")) dtype = GNK_DTYPE_BF16;
      else if (strcmp(argv[i], "f32")) { fprintf(stderr, "gnk-run: --dtype f32|f16|bf16\n"); return 2; }
    } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--wisdom") && i + 1 < argc) wisdom = argv[++i];
    else if (!strcmp(argv[i], "--estimate")) mode = GNK_ESTIMATE;
    else if (argv[i][0] == '-') {
      fprintf(stderr, "usage: gnk-run [--layout nchw|nhwc] [--dtype f32|f16|bf16] [--threads N] [--reps R] [--wisdom FILE] [--estimate] [SPEC]\n");
      return 2;
    } else spec = argv[i];
  }
  const problem *ps = default_workload;
  int np = (int)(sizeof default_workload / sizeof default_workload[0]);
  problem *loaded = NULL;
  if (spec) {
    if (!parse_spec(spec, &loaded, &np)) return 2;
    ps = loaded;
  }
  if (wisdom) {
    FILE *f = fopen(wisdom, "r");
    if (f) {
      fclose(f);
      gnk_status st = gnk_wisdom_import_file(wisdom);
      printf("wisdom %s: %s%s%s\n", wisdom, st == GNK_OK ? "imported" : gnk_status_string(st), st == GNK_OK ? "" : ": ",
             st == GNK_OK ? "" : gnk_last_error());
    }
  }
  const char *dtype_name = dtype == GNK_DTYPE_F16 ? "f16" : dtype == GNK_DTYPE_BF16 ? "bf16" : "f32";
  /* max_err = max |y - ref| / (1 + |ref|); the bound reflects the dtype's rounding. */
  const double err_bound = dtype == GNK_DTYPE_F32 ? 1e-4 : dtype == GNK_DTYPE_F16 ? 5e-3 : 2e-2;
  const size_t esize = dtype == GNK_DTYPE_F32 ? 4 : 2;
  printf("gnk %s | cpu isa %s | L2 %zu KiB, L3 %zu KiB | layout %s | dtype %s | threads %d | plans %s | workload %s\n",
         gnk_version(), gnk_isa_name(gnk_cpu_isa()), gnk_cpu_cache_bytes(2) >> 10, gnk_cpu_cache_bytes(3) >> 10,
         layout == GNK_LAYOUT_NCHW ? "nchw" : "nhwc", dtype_name, threads, mode == GNK_MEASURE ? "measured" : "estimated",
         spec ? spec : "default (SD 1.5 UNet + VAE decoder)");
  printf("%-28s %-22s %-46s %10s %8s %7s %9s\n", "problem", "shape", "kernel", "time_us", "GB/s", "roof", "max_err");
  double tune_ns = 0, log_roof = 0, total_gnk = 0, total_copy = 0, worst_err = 0;
  int rows = 0, failures = 0;
  for (int i = 0; i < np; ++i) {
    const problem *p = &ps[i];
    gnk_desc d;
    gnk_desc_init(&d);
    d.layout = layout;
    d.dtype = dtype;
    d.n = p->n; d.c = p->c; d.spatial = p->s; d.groups = p->groups; d.eps = p->eps; d.act = p->act;
    gnk_plan *plan;
    gnk_plan_options o = {mode, threads, NULL, NULL};
    const double t0 = now_ns();
    gnk_status st = gnk_plan_create_ex(&plan, &d, &o);
    tune_ns += now_ns() - t0;
    if (st != GNK_OK) {
      printf("%-28s plan failed: %s: %s\n", p->name, gnk_status_string(st), gnk_last_error());
      ++failures;
      continue;
    }
    const int64_t total = p->n * p->c * p->s;
    const size_t bytes = (size_t)total * esize;
    /* x, y: the kernel's buffers in the dtype; xf, yf: their f32 values for the reference. */
    void *x = aligned_alloc(64, bytes + 64), *y = aligned_alloc(64, bytes + 64), *y2 = aligned_alloc(64, bytes + 64);
    float *xf = malloc((size_t)total * sizeof(float) + 64), *yf = malloc((size_t)total * sizeof(float) + 64);
    float *gamma = malloc(sizeof(float) * (size_t)p->c), *beta = malloc(sizeof(float) * (size_t)p->c);
    uint32_t s = 12345u + (uint32_t)i;
    for (int64_t k = 0; k < total; ++k) {
      s = s * 1664525u + 1013904223u;
      const float v = ((float)(s >> 8) / 16777216.0f - 0.5f) * 4.0f + 0.25f;
      if (dtype == GNK_DTYPE_F32) ((float *)x)[k] = xf[k] = v;
      else if (dtype == GNK_DTYPE_F16) xf[k] = gnk_f16_to_f32(((uint16_t *)x)[k] = gnk_f32_to_f16(v));
      else xf[k] = gnk_bf16_to_f32(((uint16_t *)x)[k] = gnk_f32_to_bf16(v));
    }
    for (int64_t c = 0; c < p->c; ++c) { gamma[c] = 0.5f + (float)(c % 7) * 0.25f; beta[c] = (float)(c % 5) * 0.1f - 0.2f; }
    memset(y, 0, bytes);
    memset(y2, 0, bytes);
    gnk_execute(plan, x, y, gamma, beta);
    for (int64_t k = 0; k < total; ++k)
      yf[k] = dtype == GNK_DTYPE_F32 ? ((float *)y)[k]
              : dtype == GNK_DTYPE_F16 ? gnk_f16_to_f32(((uint16_t *)y)[k]) : gnk_bf16_to_f32(((uint16_t *)y)[k]);
    const double err = ref_max_error(p, layout, xf, yf, gamma, beta);
    if (!(err <= worst_err)) worst_err = err;
    /* A B A B: memcpy and kernel alternate so drift hits both alike. */
    int r = reps > 0 ? reps : (int)(2e8 / (double)(bytes + 1)) + 5;
    if (r > 200) r = 200;
    double *tk = malloc(sizeof(double) * (size_t)r), *tc = malloc(sizeof(double) * (size_t)r);
    for (int k = 0; k < r; ++k) {
      double a = now_ns();
      roof_copy((char *)y2, (const char *)x, bytes, threads);
      double b = now_ns();
      gnk_execute(plan, x, y, gamma, beta);
      double c = now_ns();
      tc[k] = b - a;
      tk[k] = c - b;
    }
    qsort(tk, (size_t)r, sizeof *tk, cmp_double);
    qsort(tc, (size_t)r, sizeof *tc, cmp_double);
    const double med_k = tk[r / 2], med_c = tc[r / 2], roof = med_c / med_k;
    char shape[64];
    snprintf(shape, sizeof shape, "%lldx%lldx%lld g%lld%s", (long long)p->n, (long long)p->c, (long long)p->s,
             (long long)p->groups, p->act == GNK_ACT_SILU ? " silu" : p->act == GNK_ACT_RELU ? " relu" : "");
    printf("%-28s %-22s %-46s %10.1f %8.1f %7.2f %9.1e\n", p->name, shape, gnk_plan_kernel_name(plan), med_k / 1e3,
           2.0 * (double)bytes / med_k, roof, err);
    log_roof += log(roof);
    total_gnk += med_k * p->count;
    total_copy += med_c * p->count;
    ++rows;
    free(tk); free(tc); free(x); free(y); free(y2); free(xf); free(yf); free(gamma); free(beta);
    gnk_plan_destroy(plan);
  }
  if (rows) {
    printf("\n%d problems: roof ratio geometric mean %.2f; weighted by layer count: gnk %.2f ms vs memcpy %.2f ms;"
           " tuning took %.2f s; max relative error %.1e\n",
           rows, exp(log_roof / rows), total_gnk / 1e6, total_copy / 1e6, tune_ns / 1e9, worst_err);
    printf("(time = median; roof = memcpy median / kernel median, same run, same threads; GB/s counts read + write)\n");
  }
  if (wisdom) {
    gnk_status st = gnk_wisdom_export_file(wisdom);
    if (st != GNK_OK) printf("wisdom %s: %s: %s\n", wisdom, gnk_status_string(st), gnk_last_error());
  }
  free(loaded);
  if (worst_err > err_bound || failures) {
    fprintf(stderr, "gnk-run: %s (bound %.0e)\n", failures ? "some problems failed" : "error above the dtype's bound", err_bound);
    return 1;
  }
  return 0;
}
