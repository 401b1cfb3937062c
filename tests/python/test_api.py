"""Calling conventions: out=, in place, strides, stats, empty tensors, introspection."""

import numpy as np
import pytest

import gnk
from reference import ref_group_norm

TOL = dict(rtol=1e-5, atol=1e-5)


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _params(C, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(C).astype(np.float32),
            rng.standard_normal(C).astype(np.float32))


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_in_place(layout):
    x = _x((2, 12, 7, 5) if layout == "nchw" else (2, 7, 5, 12))
    gamma, beta = _params(12)
    ref = ref_group_norm(x, 4, gamma, beta, 1e-5, layout, "silu")
    ptr = x.ctypes.data
    y = gnk.group_norm(x, 4, gamma, beta, layout=layout, act="silu", out=x)
    assert y is x and x.ctypes.data == ptr
    np.testing.assert_allclose(x, ref, **TOL)


def test_in_place_non_contiguous():
    base = _x((2, 8, 10, 10))
    x = base[:, :, ::2, :]
    other = base[:, :, 1::2, :].copy()
    ref = ref_group_norm(x, 4, act="relu")
    y = gnk.group_norm(x, 4, act="relu", out=x)
    assert y is x
    np.testing.assert_allclose(base[:, :, ::2, :], ref, **TOL)
    np.testing.assert_array_equal(base[:, :, 1::2, :], other)  # neighbours untouched


def test_out_preallocated():
    x = _x((3, 6, 4, 4))
    gamma, beta = _params(6)
    out = np.full(x.shape, 7.0, np.float32)
    y = gnk.group_norm(x, 3, gamma, beta, out=out)
    assert y is out
    np.testing.assert_allclose(out, ref_group_norm(x, 3, gamma, beta), **TOL)


def test_out_non_contiguous():
    x = _x((2, 8, 5, 6))
    big = np.zeros((2, 8, 5, 12), np.float32)
    out = big[..., ::2]
    y = gnk.group_norm(x, 2, out=out)
    assert y is out
    np.testing.assert_allclose(big[..., ::2], ref_group_norm(x, 2), **TOL)
    assert not big[..., 1::2].any()


def test_out_partially_overlapping_x():
    shape = (2, 6, 5, 5)
    m = int(np.prod(shape))
    buf = _x((m + 7,))
    x = buf[:m].reshape(shape)
    out = buf[7:].reshape(shape)
    ref = ref_group_norm(x.copy(), 3)
    y = gnk.group_norm(x, 3, out=out)
    assert y is out
    np.testing.assert_allclose(buf[7:].reshape(shape), ref, **TOL)


def _strided_inputs():
    base = _x((4, 16, 9, 10), seed=3)
    return {
        "transpose_hw": base.transpose(0, 1, 3, 2),
        "step_slice": base[::2, :, ::3, 1::2],
        "reversed_channels": base[:, ::-1],
        "fortran": np.asfortranarray(base),
        "broadcast": np.broadcast_to(base[:1], base.shape),
        "channel_slice": base[:, 4:12],
    }


@pytest.mark.parametrize("name", list(_strided_inputs()))
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_non_contiguous_x(name, layout):
    x = _strided_inputs()[name]
    if layout == "nhwc":
        x = np.moveaxis(x, 1, -1)
    C = x.shape[1] if layout == "nchw" else x.shape[-1]
    gamma, beta = _params(C)
    x_before = x.copy()
    y = gnk.group_norm(x, 4, gamma, beta, layout=layout, act="silu")
    assert y.shape == x.shape and y.flags.c_contiguous
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_allclose(y, ref_group_norm(x, 4, gamma, beta, 1e-5, layout, "silu"),
                               **TOL)


def _unaligned(a, off=1):
    """A copy of `a` at a byte address `off` past an aligned one (np.frombuffer-like)."""
    raw = np.zeros(a.nbytes + 16, np.uint8)
    u = raw[off:off + a.nbytes].view(a.dtype).reshape(a.shape)
    u[...] = a
    assert not u.flags.aligned
    return u


def test_unaligned_x():
    shape = (2, 6, 7)
    x = _unaligned(_x(shape), 1)
    out = _unaligned(np.zeros(shape, np.float32), 3)
    y = gnk.group_norm(x, 3, out=out)
    np.testing.assert_allclose(y, ref_group_norm(x, 3), **TOL)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_unaligned_arrays_on_a_streaming_size(dtype):
    # 4 MiB in f32: past L2, where the planner takes streaming-store kernels,
    # which crashed on a y off its element alignment before gnk_execute refused
    # such pointers (GNK_ERR_MISALIGNED) and this layer began copying them.
    shape, G = (1, 64, 128, 128), 32
    x = _x(shape).astype(dtype)
    gamma = np.linspace(0.5, 1.5, 64).astype(np.float32)
    beta = np.linspace(-0.5, 0.5, 64).astype(np.float32)
    want = gnk.group_norm(x, G, gamma, beta, act="silu")
    out = _unaligned(np.zeros(shape, dtype), 3)
    got = gnk.group_norm(_unaligned(x), G, _unaligned(gamma, 2), _unaligned(beta, 1), act="silu",
                         out=out)
    assert got is out
    np.testing.assert_array_equal(got, want)  # the same plan and bits as aligned arrays
    y, mean, rstd = gnk.group_norm(_unaligned(x), G, act="silu", return_stats=True)
    np.testing.assert_array_equal(y, gnk.group_norm(x, G, act="silu"))
    gy = gnk.general_group_norm(_unaligned(x), G, gamma=_unaligned(gamma), act="silu",
                                mask=_unaligned(np.ones(shape, np.float32)),
                                out=np.empty(shape, dtype))
    np.testing.assert_array_equal(gy, gnk.general_group_norm(x, G, gamma=gamma, act="silu",
                                                             mask=np.ones(shape, np.float32)))
    out = _unaligned(np.zeros(shape, dtype), 2 if dtype == "float32" else 1)
    assert gnk.general_group_norm(_unaligned(x, 3), G, out=out) is out
    np.testing.assert_array_equal(out, gnk.general_group_norm(x, G))


def test_general_params_aliasing_out_are_copied():
    # gamma/beta/mask viewing `out`: C refuses an output sharing memory with an input
    # (GNK_ERR_OVERLAP; the values would be read after y overwrote them), so the
    # Python layer copies them first; before, the general path gave wrong numbers.
    shape, G = (2, 8, 64), 4
    x = _x(shape)
    gamma = np.linspace(0.5, 1.5, 8).astype(np.float32)
    want = gnk.general_group_norm(x, G, gamma=gamma, beta=gamma[::-1].copy(),
                                  mask=np.full(shape, 0.5, np.float32))
    out = np.empty(shape, np.float32)
    flat = out.reshape(-1)
    flat[:8] = gamma
    flat[8:16] = gamma[::-1]
    mask = out[1]  # the second sample's rows of out
    mask[...] = 0.5
    m = np.broadcast_to(mask, shape)  # broadcast: the mask is read for both samples
    got = gnk.general_group_norm(x, G, gamma=flat[:8], beta=flat[8:16], mask=m, out=out)
    assert got is out
    np.testing.assert_array_equal(got, want)


def test_strided_gamma_beta_and_python_lists():
    x = _x((2, 6, 3))
    g = _x((12,), seed=5)[::2]
    b = [0.5, -1.0, 2.0, 0.0, 1.0, 3.0]
    y = gnk.group_norm(x, 3, g, b)
    np.testing.assert_allclose(y, ref_group_norm(x, 3, g, np.array(b, np.float32)), **TOL)
    g64 = g.astype(np.float64)  # float32-convertible
    np.testing.assert_array_equal(gnk.group_norm(x, 3, g64, b), y)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("shape,G", [((3, 8, 5, 5), 4), ((2, 7), 7), ((1, 320, 16, 16), 32)])
def test_return_stats(shape, G, layout):
    x = (_x(shape) * 2 + 3).astype(np.float32)
    if layout == "nhwc":
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    C = shape[1]
    gamma, beta = _params(C)
    y, mean, rstd = gnk.group_norm(x, G, gamma, beta, eps=1e-4, layout=layout,
                                   act="relu", return_stats=True)
    ry, rmean, rrstd = ref_group_norm(x, G, gamma, beta, 1e-4, layout, "relu",
                                      return_stats=True)
    assert mean.shape == (shape[0], G) and rstd.shape == (shape[0], G)
    assert mean.dtype == np.float32 and rstd.dtype == np.float32
    np.testing.assert_allclose(y, ry, **TOL)
    np.testing.assert_allclose(mean, rmean, **TOL)
    np.testing.assert_allclose(rstd, rrstd, **TOL)
    np.testing.assert_array_equal(gnk.group_norm(x, G, gamma, beta, eps=1e-4,
                                                 layout=layout, act="relu"), y)


@pytest.mark.parametrize("layout,shape,G", [
    ("nchw", (0, 4, 3, 3), 2), ("nchw", (2, 4, 0), 2), ("nchw", (2, 4, 3, 0), 4),
    ("nhwc", (0, 3, 3, 4), 2), ("nhwc", (2, 0, 4), 4), ("nhwc", (2, 5, 0, 6), 3),
    ("nchw", (0, 6), 3)])
def test_zero_size(layout, shape, G):
    x = np.zeros(shape, np.float32)
    y = gnk.group_norm(x, G, layout=layout, act="silu")
    assert y.shape == shape and y.dtype == np.float32 and y.size == 0
    out = np.empty(shape, np.float32)
    assert gnk.group_norm(x, G, layout=layout, out=out) is out
    if shape[0] == 0:
        y, mean, rstd = gnk.group_norm(x, G, layout=layout, return_stats=True)
        assert mean.shape == (0, G) and rstd.shape == (0, G)


def test_kernel_name():
    for shape, G, layout, act in [((2, 320, 64, 64), 32, "nchw", "silu"),
                                  ((2, 64, 64, 320), 32, "nhwc", None),
                                  ((1, 17, 3), 17, "nchw", "relu"), ((4, 6), 3, "nhwc", None)]:
        name = gnk.kernel_name(shape, G, layout, act)
        assert isinstance(name, str) and name.startswith("gnk_f32_"), name
        assert name in {k["name"] for k in gnk.kernels()}
    with pytest.raises(gnk.GnkError):
        gnk.kernel_name((2, 320, 8), 3)




def test_plan_info_reports_the_planners_choice():
    # The estimate rules (runtime/planner.c, split_for_units) on tensors far below any L2:
    # channels-last fuses the next sample's statistics; a lone sample on two threads has
    # too few units, so its phases spread over the threads; channels-first plain GN in
    # cache fuses, GN+SiLU keeps whole units while there are 4 per thread (32 groups on
    # 3 threads), else phases (2 groups).
    cases = [((2, 4, 4, 64), 32, "nhwc", None, 1, "fused"), ((1, 4, 4, 64), 32, "nhwc", None, 2, "phases"),
             ((1, 64, 4, 4), 32, "nchw", None, 1, "fused"), ((1, 64, 4, 4), 32, "nchw", "silu", 1, "units"),
             ((1, 64, 4, 4), 32, "nchw", "silu", 3, "units"), ((1, 64, 4, 4), 2, "nchw", "silu", 3, "phases")]
    for shape, G, layout, act, threads, schedule in cases:
        info = gnk.plan_info(shape, G, layout, act, threads=threads)
        assert info == {"kernel": gnk.kernel_name(shape, G, layout, act), "schedule": schedule,
                        "threads": threads, "source": "estimate"}, (shape, G, layout, act, threads, info)
    m = gnk.plan_info((1, 32, 8, 8), 8, "nchw", "silu", threads=1, measure=True)
    assert m["source"] in ("measured", "wisdom") and m["schedule"] in ("units", "fused", "phases", "pipeline")
    assert m["kernel"] in {k["name"] for k in gnk.kernels()}
    with pytest.raises(gnk.GnkError):
        gnk.plan_info((2, 320, 8), 3)


def test_measure_returns_kernel():
    name = gnk.measure((1, 32, 8, 8), 8, "nchw", "silu")
    assert name.startswith("gnk_f32_")


def test_kernels_and_isa():
    ks = gnk.kernels()
    assert ks
    for k in ks:
        short = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}[k["dtype"]]
        assert k["name"].startswith(f"gnk_{short}_")
        assert k["isa"] in ("scalar", "avx2", "avx512", "avx512bf16")
        assert k["layout"] in ("nchw", "nhwc")
        assert k["act"] in (None, "silu", "relu")
        assert k["groups"] >= 0 and k["channels"] >= 0 and k["unroll"] >= 1
    assert len({k["name"] for k in ks}) == len(ks)
    assert gnk.cpu_isa() in ("scalar", "avx2", "avx512", "avx512bf16")
    assert any(k["isa"] == "scalar" and k["supported"] for k in ks)
    assert gnk.version() == "0.1.0"


def test_cache_sizes():
    """Detected sizes are plausible; GNK_CACHE_L2 / GNK_CACHE_L3 replace them
    (read once per process, so the override runs in a fresh interpreter)."""
    import os
    import subprocess
    import sys
    c = gnk.cache_sizes()
    assert 64 << 10 <= c["l2"] <= 64 << 20 and c["l3"] >= c["l2"]
    env = dict(os.environ, GNK_CACHE_L2="3M", GNK_CACHE_L3="48m")
    # the child imports this same package, however pytest was started
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(gnk.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg, env.get("PYTHONPATH")) if p)
    code = "import gnk; c = gnk.cache_sizes(); print(c['l2'], c['l3'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(3 << 20), str(48 << 20)]


def test_struct_mirror_round_trip():
    """The ctypes gnk_desc matches the C one: init values, and a plan's copy of it."""
    import ctypes
    from gnk import _api, _lib
    lib = _lib.lib()
    d = _lib.GnkDesc()
    ctypes.memset(ctypes.byref(d), 0xAB, ctypes.sizeof(d))
    lib.gnk_desc_init(ctypes.byref(d))
    assert (d.layout, d.dtype, d.n, d.c, d.spatial, d.groups, d.act, d.flags) == \
        (0, 0, 1, 1, 1, 1, 0, 0)
    assert d.eps == 1e-5
    d = _api._desc((3, 5, 7, 320), 32, "nhwc", "relu", 0.25)
    with _api._Plan(d, threads=2) as plan:
        got = lib.gnk_plan_desc(plan.handle).contents
        assert (got.layout, got.dtype, got.n, got.c, got.spatial, got.groups, got.eps,
                got.act, got.flags) == (1, 0, 3, 320, 35, 32, 0.25, 2, 0)
        assert lib.gnk_plan_threads(plan.handle) == 2
        assert plan.source in ("estimate", "measured", "wisdom", "cache")


def test_run_kernel_out_is_checked():
    # run_kernel wrote through a read-only out (np.frombuffer of immutable
    # bytes); an unaligned out now goes through an aligned temp like group_norm's.
    k = next(k for k in gnk.kernels()
             if k["name"] == "gnk_f32_nchw_gnsilu_generic__scalar_u4")
    shape, G = (2, 8, 5), 4
    x = _x(shape)
    want = gnk.run_kernel(k["index"], x, G)
    np.testing.assert_allclose(want, ref_group_norm(x, G, act="silu"), **TOL)
    buf = bytes(x.nbytes)
    ro = np.frombuffer(buf, np.float32).reshape(shape)
    for bad in (ro, [0.0] * 80, np.empty(shape, np.float16), np.empty((2, 8, 6), np.float32),
                np.empty((2, 5, 8), np.float32).transpose(0, 2, 1)):
        with pytest.raises(gnk.GnkError, match="out must be"):
            gnk.run_kernel(k["index"], x, G, out=bad)
    assert buf == bytes(x.nbytes)
    out = _unaligned(np.zeros(shape, np.float32), 2)
    assert gnk.run_kernel(k["index"], x, G, out=out) is out
    np.testing.assert_array_equal(out, want)


def test_forked_child_computes_the_same_bits():
    """A child forked after the parent ran two-thread plans (multiprocessing's
    default start method on Linux, preforking servers) has none of the parent's
    pool workers: it must start its own (a thread more in /proc/self/task;
    before the fork handlers it ran every job on the calling thread alone),
    and give the parent's bits at one and two threads, without hanging (the
    C test threads::fork_child_gets_its_own_pool_and_plans checks that its
    workers really run tasks)."""
    import os
    x = _x((2, 64, 96, 96), seed=7)  # 4.5 MiB: threaded on gnk's own pool
    g, b = _params(64)
    want = gnk.group_norm(x, 32, g, b, act="silu", threads=2)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            ok = all(np.array_equal(gnk.group_norm(x, 32, g, b, act="silu", threads=t), want) for t in (2, 1, 2))
            threads = len(os.listdir("/proc/self/task"))
            os.write(w, b"1" if ok and threads >= 2 else b"0")
        finally:
            os._exit(0)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    got = os.read(r, 1)
    os.close(r)
    assert os.WIFEXITED(status) and got == b"1", f"child status {status}, reported {got!r}"
