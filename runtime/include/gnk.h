/*
 * gnk — GroupNorm kernel compiler: public C API (the only header users include).
 *
 * Shape of the API (FFTW-like):
 *   gnk_desc d; gnk_desc_init(&d);            describe the problem
 *   d.n = 2; d.c = 320; d.spatial = 64*64; d.groups = 32; d.act = GNK_ACT_SILU;
 *   gnk_plan *p; gnk_plan_create(&p, &d, GNK_MEASURE);   pick a kernel (cached)
 *   gnk_execute(p, x, y, gamma, beta);        run it, as often as wanted, any thread
 *   gnk_plan_destroy(p);
 *
 * Every function returns a gnk_status. gnk_status_string() names a status;
 * gnk_last_error() gives the detailed message of the last failure on the
 * calling thread (e.g. "groups (3) does not divide channels (320)").
 *
 * Semantics: x has N samples, C channels split into G contiguous groups of
 * D = C/G channels, and S spatial positions (S = product of all spatial
 * dimensions, 1 for a rank-2 tensor). For each (sample, group):
 *   mean = avg(x), var = avg((x - mean)^2)  (biased), rstd = 1/sqrt(var + eps)
 *   y = (x - mean) * rstd * gamma[c] + beta[c], then the optional activation.
 * gamma == NULL means all ones, beta == NULL all zeros. y may equal x (in place);
 * otherwise x and y must not overlap. Pointers need no alignment beyond their
 * element's own (4 bytes for f32, 2 for f16/bf16, as C requires of a float * or
 * uint16_t *); one off it is refused with GNK_ERR_MISALIGNED. An output (y,
 * mean, rstd) must not share memory with any other argument except y == x
 * (GNK_ERR_OVERLAP); inputs may share memory with each other.
 */
#ifndef GNK_H
#define GNK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GNK_VERSION_MAJOR 0
#define GNK_VERSION_MINOR 1
#define GNK_VERSION_PATCH 0
#define GNK_VERSION_STRING "0.1.0"

typedef enum gnk_status {
  GNK_OK = 0,
  GNK_ERR_NULL_ARGUMENT,       /* a required pointer is NULL */
  GNK_ERR_BAD_LAYOUT,          /* unknown gnk_layout value */
  GNK_ERR_BAD_DTYPE,           /* unknown or unsupported gnk_dtype */
  GNK_ERR_BAD_ACTIVATION,      /* unknown gnk_act value */
  GNK_ERR_BAD_GROUPS,          /* groups <= 0 */
  GNK_ERR_GROUPS_NOT_DIVISOR,  /* channels % groups != 0 (includes groups > channels) */
  GNK_ERR_NEGATIVE_SIZE,       /* n, c or spatial < 0 */
  GNK_ERR_SIZE_OVERFLOW,       /* n*c*spatial or n*groups (or their byte sizes) overflow 64 bits;
                                  a size of 0 counts as 1 here (empty tensors are planned too) */
  GNK_ERR_BAD_EPS,             /* eps < 0, NaN or infinite */
  GNK_ERR_BAD_FLAGS,           /* unknown flag bits or planning mode */
  GNK_ERR_BAD_THREADS,         /* thread count < 0 or above GNK_MAX_THREADS */
  GNK_ERR_NO_KERNEL,           /* no kernel in the list can run this problem here */
  GNK_ERR_OUT_OF_MEMORY,
  GNK_ERR_WISDOM_ONLY_MISS,    /* GNK_WISDOM_ONLY and the wisdom has no entry */
  GNK_ERR_WISDOM_IO,           /* wisdom file cannot be read or written */
  GNK_ERR_WISDOM_CORRUPT,      /* wisdom text malformed, truncated or checksum wrong */
  GNK_ERR_WISDOM_VERSION,      /* wisdom made by another library version */
  GNK_ERR_WISDOM_CPU,          /* wisdom made on another CPU */
  GNK_ERR_WISDOM_KERNELS,      /* wisdom made for another kernel list */
  GNK_ERR_OVERLAP,             /* x and y overlap without being identical */
  GNK_ERR_BAD_RANK,            /* general desc: rank < 2 or > GNK_MAX_RANK */
  GNK_ERR_BAD_AXIS,            /* general desc: channel or reduction axis out of range, on the batch
                                  axis, or reduction axes overlapping the channel axis */
  GNK_ERR_BAD_OPTION,          /* general desc: unknown grouping/affine/variance/has_mask value, or a
                                  mask given to a plan made without has_mask */
  GNK_ERR_MISALIGNED,          /* x, y, gamma, beta, mean, rstd or mask not aligned to its element size */
  GNK_ERR_PARALLEL_FOR,        /* the caller's parallel_for returned before running every task exactly once */
  GNK_STATUS_COUNT_
} gnk_status;

typedef enum gnk_layout {
  GNK_LAYOUT_NCHW = 0, /* channels-first: (N, C, spatial...) contiguous */
  GNK_LAYOUT_NHWC = 1  /* channels-last: (N, spatial..., C) contiguous */
} gnk_layout;

/* Storage types of x and y. Statistics and arithmetic are always f32 (merged
 * in f64); 16-bit values are never accumulated in their own type. */
typedef enum gnk_dtype {
  GNK_DTYPE_F32 = 0,
  GNK_DTYPE_F16 = 1,  /* IEEE binary16 */
  GNK_DTYPE_BF16 = 2  /* bfloat16 */
} gnk_dtype;

typedef enum gnk_act {
  GNK_ACT_NONE = 0,
  GNK_ACT_SILU = 1, /* y = z * sigmoid(z) after the affine (z) */
  GNK_ACT_RELU = 2, /* y = max(z, 0) */
  GNK_ACT_GELU_ERF = 3,  /* y = z * (1 + erf(z / sqrt 2)) / 2 (general path) */
  GNK_ACT_GELU_TANH = 4  /* tanh approximation of GELU (general path) */
} gnk_act;

typedef enum gnk_isa {
  GNK_ISA_SCALAR = 0,
  GNK_ISA_AVX2 = 1,   /* AVX2 + FMA + F16C */
  GNK_ISA_AVX512 = 2, /* AVX-512 F/BW/VL/DQ */
  GNK_ISA_AVX512_BF16 = 3, /* AVX-512 + AVX512-BF16 conversions */
  GNK_ISA_NEON = 4          /* AArch64 Advanced SIMD (only on aarch64 builds) */
} gnk_isa;

/* Planning modes (gnk_plan_create's flags). */
#define GNK_ESTIMATE 0u      /* heuristic choice, no timing */
#define GNK_MEASURE 1u       /* time every candidate on this problem, keep the fastest */
#define GNK_WISDOM_ONLY 2u   /* use imported wisdom only; a miss is GNK_ERR_WISDOM_ONLY_MISS */
#define GNK_NO_CACHE 0x100u  /* bypass the plan cache (always decide anew) */

#define GNK_MAX_THREADS 256

typedef struct gnk_desc {
  gnk_layout layout;
  gnk_dtype dtype;
  int64_t n;       /* samples */
  int64_t c;       /* channels */
  int64_t spatial; /* product of spatial dims; 1 for rank 2 */
  int64_t groups;
  double eps;
  gnk_act act;
  unsigned flags;  /* reserved, must be 0 */
  gnk_dtype param_dtype; /* gamma/beta: GNK_DTYPE_F32 (default) or the same as dtype */
} gnk_desc;

/* A caller-supplied parallel-for: run task(task_ctx, i) for every i in
 * [0, count), possibly concurrently, and return when all are done. gnk checks
 * it: an execute whose callback returned early, or skipped or repeated an
 * index, fails with GNK_ERR_PARALLEL_FOR (y is then unspecified; a task still
 * running after the callback returned is the callback's bug and may crash). */
typedef void (*gnk_task_fn)(void *task_ctx, int64_t i);
typedef void (*gnk_parallel_for_fn)(void *pool_ctx, gnk_task_fn task,
                                    void *task_ctx, int64_t count);

typedef struct gnk_plan_options {
  unsigned flags;  /* GNK_ESTIMATE / GNK_MEASURE / GNK_WISDOM_ONLY, | GNK_NO_CACHE */
  int threads;     /* 0 = default (GNK_NUM_THREADS, else 1) */
  gnk_parallel_for_fn parallel_for; /* NULL = gnk's own thread pool */
  void *parallel_for_ctx;
} gnk_plan_options;

typedef struct gnk_plan gnk_plan;

/* Library-wide. Initialisation is automatic and thread-safe. */
const char *gnk_version(void);
const char *gnk_status_string(gnk_status s);
const char *gnk_last_error(void);  /* message of this thread's last failure */
gnk_isa gnk_cpu_isa(void);         /* best ISA of this CPU, after GNK_MAX_ISA */
/* The cache sizes (bytes) gnk chooses its schedules by: level 2 = the L2 of
 * one core, level 3 = the last-level cache; 0 for other levels. Read once
 * from Linux's sysfs (else sysconf, else 1 MiB / 16 MiB); GNK_CACHE_L2 and
 * GNK_CACHE_L3 (bytes, or with a K/M/G suffix) override them. They steer
 * speed decisions only: results never depend on them. */
size_t gnk_cpu_cache_bytes(int level);
const char *gnk_isa_name(gnk_isa isa);

/* Descriptor. */
void gnk_desc_init(gnk_desc *d); /* NCHW, f32 (params f32), n=c=spatial=groups=1, eps=1e-5, no act */
gnk_status gnk_desc_validate(const gnk_desc *d);
/* "f32_nchw_silu_n2c320s4096g32_eps1e-05" (f16/bf16 with f32 params:
 * "f16p32_..."): the problem as one word. */
gnk_status gnk_desc_string(const gnk_desc *d, char *buf, size_t size);

/* Plans. Plans are immutable after creation: gnk_execute may be called on one
 * plan from many threads at once. */
gnk_status gnk_plan_create(gnk_plan **plan, const gnk_desc *d, unsigned flags);
gnk_status gnk_plan_create_ex(gnk_plan **plan, const gnk_desc *d,
                              const gnk_plan_options *opt);
void gnk_plan_destroy(gnk_plan *plan);
const char *gnk_plan_kernel_name(const gnk_plan *plan);
/* Where the choice came from: "estimate", "measured", "wisdom" or "cache". */
const char *gnk_plan_source(const gnk_plan *plan);
/* How the work is scheduled (chosen with the kernel): "units" (statistics,
 * merge and normalization per NCHW group or NHWC sample), "fused" (the next
 * unit's statistics inside this unit's normalization loop), "pipeline" (the
 * next unit's statistics between this unit's normalization chunks; measure
 * mode times it for NCHW groups over half of L2) or "phases" (each phase
 * spread over all threads); "general" for a general plan. Any schedule gives
 * the same bits. */
const char *gnk_plan_schedule(const gnk_plan *plan);
int gnk_plan_threads(const gnk_plan *plan);
const gnk_desc *gnk_plan_desc(const gnk_plan *plan);

/* x, y: elements of d.dtype; gamma, beta: C elements of d.param_dtype (or NULL). */
gnk_status gnk_execute(const gnk_plan *plan, const void *x, void *y,
                       const void *gamma, const void *beta);
/* Same, also writing mean and rstd = 1/sqrt(var + eps) (each N*G floats,
 * (n, g) order, always f32); either may be NULL. */
gnk_status gnk_execute_stats(const gnk_plan *plan, const void *x, void *y,
                             const void *gamma, const void *beta,
                             float *mean, float *rstd);

/* One-shot convenience for servers: looks up (or makes, GNK_ESTIMATE or
 * wisdom) the cached decision for d and runs it with GNK_NUM_THREADS threads.
 * After the first call for a problem it allocates nothing. */
gnk_status gnk_group_norm(const gnk_desc *d, const void *x, void *y, const void *gamma, const void *beta);

/* Plan cache. */
size_t gnk_plan_cache_size(void);
void gnk_plan_cache_clear(void);

/* Wisdom: the planner's MEASURE decisions. Import is all-or-nothing: a file
 * from another CPU, library version or kernel list, or a corrupt one, is
 * rejected whole and leaves the current wisdom unchanged. */
gnk_status gnk_wisdom_export_file(const char *path); /* atomic: temp + fsync + rename */
gnk_status gnk_wisdom_import_file(const char *path);
/* *out is malloc'd; free it with gnk_free. */
gnk_status gnk_wisdom_export_string(char **out);
gnk_status gnk_wisdom_import_string(const char *text);
void gnk_wisdom_forget(void);
size_t gnk_wisdom_size(void);
void gnk_free(void *p);

/* Kernel list introspection (tests, benchmarks, tools). */
typedef struct gnk_kernel_info {
  const char *name;   /* e.g. "gnk_f32_nchw_gnsilu_g32c320__avx512_u2" */
  gnk_isa isa;        /* ISA the kernel needs */
  gnk_dtype dtype;
  gnk_layout layout;
  gnk_act act;
  int64_t groups;     /* baked-in groups, 0 for a generic kernel */
  int64_t channels;   /* baked-in channels, 0 for a generic kernel */
  int unroll;         /* tuning variant: vectors per loop iteration */
} gnk_kernel_info;

int gnk_kernel_count(void);
const char *gnk_kernel_name(int index);
gnk_status gnk_kernel_get_info(int index, gnk_kernel_info *info);
/* Runs kernel `index` directly on problem d (threads = 1), bypassing the planner.
 * A channels-last kernel baked for W channels of G' groups also runs a problem
 * of C = k*W channels and k*G' groups, block by block of W channels (the
 * schedule measure mode may choose; the plan's kernel name then shows W).
 * GNK_ERR_NO_KERNEL if that kernel cannot run d or this CPU lacks its ISA. */
gnk_status gnk_kernel_run(int index, const gnk_desc *d, const void *x, void *y,
                          const void *gamma, const void *beta);
int gnk_kernel_supported(int index); /* 1 when this CPU (and GNK_MAX_ISA) allows it */

/* ---- General GroupNorm: every framework's options ----
 * Tensor of any rank >= 2 (axis 0 = batch), channel axis anywhere, contiguous
 * or interleaved grouping, a chosen subset of reduced axes, per-channel or
 * per-group affine, frequency-weight masks, either variance algorithm, GELU.
 * Problems that are plain channels-first / channels-last GroupNorm run on
 * the generated kernels; the rest on a general (slower, still exact) kernel.
 * The plan it returns is executed with gnk_general_execute.
 *
 * The tensor is dense row-major (C order) of `shape`. Statistics sets: one per
 * (sample, position on every axis that is neither reduced nor the channel
 * axis, group); each set covers the group's C/G channels times every reduced
 * axis. With a mask w (x's shape, always f32): W = sum w, mean = sum(w x) / W,
 * var = sum(w (x - mean)^2) / W, and 0/0 := 0 (a fully masked set has
 * mean = var = 0); masked positions are still normalized. Then
 *   rstd = 1 / sqrt(var + eps)       (no clamp: a negative SUMSQ var gives NaN)
 *   y = act((x - mean) * rstd * gamma + beta)
 * Statistics are accumulated in double (two passes for ACCURATE; sum and sum
 * of squares for SUMSQ), the normalization is computed in double and rounded
 * once to the output type (via f32 for f16/bf16). Empty tensors succeed
 * without touching x or y; every statistics set that exists gets mean 0 and
 * rstd NaN (PyTorch's convention), or rstd 1/sqrt(eps) when a mask is passed
 * (0/0 := 0).
 * The general kernel splits work by sample over the plan's threads; every
 * sample is computed in one fixed order, so results never depend on the
 * thread count. */
typedef enum gnk_grouping {
  GNK_GROUPING_CONTIGUOUS = 0, /* channel c in group c / (C/G) (PyTorch, Keras, ONNX) */
  GNK_GROUPING_INTERLEAVED = 1 /* channel c in group c % G (MLX default) */
} gnk_grouping;
typedef enum gnk_affine {
  GNK_AFFINE_PER_CHANNEL = 0, /* gamma, beta have C elements */
  GNK_AFFINE_PER_GROUP = 1    /* gamma, beta have G elements (ONNX opset 18) */
} gnk_affine;
typedef enum gnk_variance {
  GNK_VARIANCE_ACCURATE = 0, /* two-pass quality (default) */
  GNK_VARIANCE_SUMSQ = 1     /* E[x^2] - mean^2, unclamped (tf.contrib mean_close_to_zero, ONNX body) */
} gnk_variance;
#define GNK_MAX_RANK 8
#define GNK_AXIS_ONE_BASED 1u /* flags: a positive channel_axis counts from 1 (R); 0 is an error */
#define GNK_REDUCE_AXES_EXACT 2u /* flags: reduce_axes as given even when 0 (0 = the group's channels only) */

typedef struct gnk_general_desc {
  gnk_dtype dtype, param_dtype;  /* x/y; gamma/beta: GNK_DTYPE_F32 or the same as dtype */
  int rank;                      /* 2..GNK_MAX_RANK */
  int64_t shape[GNK_MAX_RANK];
  int channel_axis;              /* 1..rank-1, or negative from the end (-1 = last) */
  int64_t groups;                /* > 0, or -1 for one group per channel */
  gnk_grouping grouping;
  unsigned reduce_axes;          /* bit i: axis i (0-based, whatever flags say) is reduced;
                                    0 = every axis but batch and channel (unless
                                    GNK_REDUCE_AXES_EXACT) */
  gnk_affine affine;
  gnk_variance variance;
  double eps;
  gnk_act act;
  int has_mask;                  /* 0 or 1: execute takes frequency weights of x's shape */
  unsigned flags;                /* 0, GNK_AXIS_ONE_BASED | GNK_REDUCE_AXES_EXACT */
} gnk_general_desc;

void gnk_general_desc_init(gnk_general_desc *d); /* f32, rank 4 (1,1,1,1), axis 1, groups 1, eps 1e-5 */
/* Validates d (errors: GNK_ERR_BAD_RANK, GNK_ERR_BAD_AXIS, GNK_ERR_BAD_OPTION
 * and the gnk_desc ones), then builds a fast plan (gnk_plan_kernel_name
 * starts with "gnk_") when the problem is plain GroupNorm: channel axis 1 or
 * last, contiguous grouping (or G == 1 or G == C), every other non-batch axis
 * reduced, per-channel affine (or per-group with G == C), no mask, ACCURATE
 * variance, act none/SiLU/ReLU, non-empty; otherwise a general plan (kernel
 * name "general_<dtype>"). opt: as for gnk_plan_create_ex (NULL = defaults). */
gnk_status gnk_general_plan_create(gnk_plan **plan, const gnk_general_desc *d, const gnk_plan_options *opt);
/* x, y: dtype elements of the tensor (y may equal x); gamma/beta: C (or G)
 * param_dtype elements; mask: f32 weights of x's shape, only on a plan made
 * with has_mask (else GNK_ERR_BAD_OPTION).
 * mean/rstd: one value per statistics set, in row-major order of
 * (batch, every axis neither reduced nor the channel axis, group); may be NULL.
 * gamma/beta/mask may be NULL (ones / zeros / all weights 1).
 * Also accepts plans from gnk_plan_create (mask must be NULL), and gnk_execute
 * / gnk_execute_stats accept general plans (no mask). */
gnk_status gnk_general_execute(const gnk_plan *plan, const void *x, void *y, const void *gamma,
                               const void *beta, const void *mask, float *mean, float *rstd);
/* Number of statistics sets (length of mean/rstd) of a plan; -1 for NULL. */
int64_t gnk_general_stats_count(const gnk_plan *plan);

#ifdef __cplusplus
}
#endif
#endif /* GNK_H */
