-- gen/isa.lua: the instruction sets gnk generates kernels for.
-- `enum` is the runtime's gnk_isa value; `cflags` are added when compiling a
-- kernel of that ISA (and only that kernel: the library runs on any x86-64);
-- `unrolls` are the tuning variants generated for specialized kernels;
-- `dtypes` the storage types it gets kernels for; `arch` the target
-- architecture whose builds compile and list its kernels ("any", "x86" or
-- "aarch64"; see gnk_gen.lua); `stream = false` skips the streaming-store
-- variants (for ISAs whose v_stream is a plain store); `silu_div = true`
-- adds a variant of every SiLU kernel of the widest unroll whose SiLU divides
-- (v_silu_div) instead of refining a reciprocal estimate (v_silu): the header
-- must define v_silu_div.
return {
  { name = "scalar", enum = "GNK_ISA_SCALAR", header = "gnk_vec_scalar.h",
    cflags = "", unrolls = {}, generic_unroll = 4, dtypes = { "f32", "f16", "bf16" }, arch = "any" },
  { name = "avx2", enum = "GNK_ISA_AVX2", header = "gnk_vec_avx2.h",
    cflags = "-mavx2 -mfma -mf16c", unrolls = { 2, 4 }, generic_unroll = 4, dtypes = { "f32", "f16", "bf16" },
    arch = "x86", silu_div = true },
  { name = "avx512", enum = "GNK_ISA_AVX512", header = "gnk_vec_avx512.h",
    cflags = "-mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c", unrolls = { 2, 4 }, generic_unroll = 4,
    dtypes = { "f32", "f16", "bf16" }, arch = "x86", silu_div = true },
  -- AVX512-BF16 only changes how f32 is rounded to bf16 (vcvtneps2bf16).
  { name = "avx512bf16", enum = "GNK_ISA_AVX512_BF16", header = "gnk_vec_avx512.h",
    cflags = "-mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c -mavx512bf16", unrolls = { 4 }, generic_unroll = 4,
    dtypes = { "bf16" }, arch = "x86", silu_div = true },
  -- AArch64 Advanced SIMD: baseline on every AArch64 CPU (no flags). One
  -- tuning variant (unroll 4: 4 x 128-bit accumulators) and no streaming
  -- variant keep the aarch64 build (cross-compiled and run under qemu in CI) small.
  { name = "neon", enum = "GNK_ISA_NEON", header = "gnk_vec_neon.h",
    cflags = "", unrolls = { 4 }, generic_unroll = 4, dtypes = { "f32", "f16", "bf16" },
    arch = "aarch64", stream = false },
}
