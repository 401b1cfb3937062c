"""The things bench.py times, all behind one interface:

    peer.name, peer.impl, peer.note
    peer.run(warmup, reps) -> numpy array of per-repetition times in ns
    peer.output()          -> the result as a logical (N, C, H, W) float32 array, or None
    peer.close()

C peers (memcpy, gnk, gnk's generic kernel, oneDNN) time themselves in
build/libgnkbench.so; Python peers (PyTorch, ONNX Runtime) are timed here with
time.perf_counter_ns around each call, Python overhead included (it is what a
user of those libraries pays). set_clock(lib, True) makes both use the process's
CPU time instead (bench.py --clock cpu).
"""
import ctypes as C
import os
import time

import numpy as np

from specs import ACTS, LAYOUTS

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class CProblem(C.Structure):
    _fields_ = [("layout", C.c_int), ("act", C.c_int), ("n", C.c_int64), ("c", C.c_int64),
                ("h", C.c_int64), ("w", C.c_int64), ("groups", C.c_int64), ("eps", C.c_double),
                ("dtype", C.c_int)]


DTYPES = {"f32": 0, "f16": 1, "bf16": 2}


def np_dtype(dtype):
    """numpy dtype of x/y: float32, float16, or ml_dtypes.bfloat16."""
    if dtype == "bf16":
        import ml_dtypes
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(np.float16 if dtype == "f16" else np.float32)


def load_lib(path=None):
    path = path or os.path.join(ROOT, "build", "libgnkbench.so")
    lib = C.CDLL(path)
    vp, cp, i, d = C.c_void_p, C.c_char_p, C.c_int, C.POINTER(C.c_double)
    P = C.POINTER(CProblem)
    sig = {
        "bench_last_error": (cp, []),
        "bench_set_clock": (i, [i]),
        "bench_alloc": (vp, [C.c_size_t]),
        "bench_free": (None, [vp]),
        "bench_fill": (None, [vp, C.c_size_t, C.c_uint64]),
        "bench_memcpy": (i, [vp, vp, C.c_size_t, i, i, i, d]),
        "bench_gnk_plan": (vp, [P, i]),
        "bench_gnk_plan_kernel": (cp, [vp]),
        "bench_gnk_plan_source": (cp, [vp]),
        "bench_gnk_run": (i, [vp, vp, vp, vp, vp, i, i, d]),
        "bench_gnk_destroy": (None, [vp]),
        "bench_gnk_version": (cp, []),
        "bench_gnk_isa": (cp, []),
        "bench_gnk_generic_index": (i, [i, i, i]),
        "bench_gnk_kernel_name": (cp, [i]),
        "bench_gnk_kernel": (i, [i, P, vp, vp, vp, vp, i, i, d]),
        "bench_onednn_create": (vp, [P, i, vp, vp, vp, vp]),
        "bench_onednn_impl": (cp, [vp]),
        "bench_onednn_run": (i, [vp, i, i, d]),
        "bench_onednn_destroy": (None, [vp]),
        "bench_onednn_set_threads": (i, [i]),
        "bench_onednn_version": (cp, []),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


# The Python peers' clock; set_clock() switches it together with libgnkbench's.
CLOCK = time.perf_counter_ns


def set_clock(lib, cpu):
    global CLOCK
    lib.bench_set_clock(1 if cpu else 0)
    CLOCK = (lambda: time.clock_gettime_ns(time.CLOCK_PROCESS_CPUTIME_ID)) if cpu else time.perf_counter_ns


def _s(b):
    return b.decode() if isinstance(b, bytes) else (b or "")


class Buffer:
    """A 64-byte aligned, pre-touched buffer from bench_alloc (float32 unless told)."""

    def __init__(self, lib, count, dtype=np.float32):
        self.lib, self.count, dtype = lib, count, np.dtype(dtype)
        self.ptr = lib.bench_alloc(count * dtype.itemsize)
        if not self.ptr:
            raise MemoryError(_s(lib.bench_last_error()))
        raw = (C.c_uint8 * (count * dtype.itemsize)).from_address(self.ptr)
        self.array = np.frombuffer(raw, dtype=dtype, count=count)

    def free(self):
        if self.ptr:
            self.array = None
            self.lib.bench_free(self.ptr)
            self.ptr = None


class Data:
    """x, y, gamma, beta of one problem in one layout (x in that layout's memory order)."""

    def __init__(self, lib, prob, layout, seed=1, dtype="f32"):
        self.lib, self.prob, self.layout, self.dtype = lib, prob, layout, dtype
        n, c, h, w = prob.n, prob.c, prob.h, prob.w
        t = np_dtype(dtype)
        self.x, self.y = Buffer(lib, prob.elems, t), Buffer(lib, prob.elems, t)
        self.gamma, self.beta = Buffer(lib, c), Buffer(lib, c)
        if dtype == "f32":
            lib.bench_fill(self.x.ptr, prob.elems, seed)
        else:  # the same values, rounded to the dtype (the reference uses the rounded ones)
            tmp = Buffer(lib, prob.elems)
            lib.bench_fill(tmp.ptr, prob.elems, seed)
            self.x.array[:] = tmp.array.astype(t)
            tmp.free()
        rng = np.random.default_rng(seed)
        self.gamma.array[:] = rng.uniform(0.5, 1.5, c)
        self.beta.array[:] = rng.uniform(-0.5, 0.5, c)
        self.bytes = prob.elems * t.itemsize
        self.cprob = CProblem(LAYOUTS[layout], ACTS[prob.act], n, c, h, w, prob.groups, prob.eps, DTYPES[dtype])

    def mem_shape(self):
        p = self.prob
        return (p.n, p.c, p.h, p.w) if self.layout == "nchw" else (p.n, p.h, p.w, p.c)

    def logical(self, flat):
        """(N, C, H, W) view of a buffer in this layout's memory order."""
        a = flat.reshape(self.mem_shape())
        return a if self.layout == "nchw" else a.transpose(0, 3, 1, 2)

    def reference(self):
        """float64 GroupNorm (+ activation) of x, logical (N, C, H, W)."""
        p = self.prob
        x = self.logical(self.x.array).astype(np.float64).reshape(p.n, p.groups, -1)
        mean = x.mean(axis=2, keepdims=True)
        var = np.square(x - mean).mean(axis=2, keepdims=True)
        z = ((x - mean) / np.sqrt(var + p.eps)).reshape(p.n, p.c, p.h, p.w)
        z = z * self.gamma.array[None, :, None, None] + self.beta.array[None, :, None, None]
        if p.act == "silu":
            z = z / (1.0 + np.exp(-z))
        elif p.act == "relu":
            z = np.maximum(z, 0.0)
        return z

    def free(self):
        for b in (self.x, self.y, self.gamma, self.beta):
            b.free()


class PeerError(RuntimeError):
    pass


class CPeer:
    """Common part of the peers timed inside libgnkbench."""

    note = ""

    def __init__(self, lib, data):
        self.lib, self.data = lib, data

    def _samples(self, reps):
        return np.zeros(max(reps, 1), dtype=np.float64)

    def _check(self, rc):
        if rc != 0:
            raise PeerError(_s(self.lib.bench_last_error()))

    def output(self):
        return self.data.logical(self.data.y.array)

    def close(self):
        pass


class Memcpy(CPeer):
    name = "memcpy"

    def __init__(self, lib, data, threads):
        super().__init__(lib, data)
        self.threads = threads
        self.impl = f"memcpy, {threads} thread{'s' if threads > 1 else ''}"

    def run(self, warmup, reps):
        s = self._samples(reps)
        d = self.data
        self._check(self.lib.bench_memcpy(d.y.ptr, d.x.ptr, d.bytes, self.threads, warmup, reps,
                                          s.ctypes.data_as(C.POINTER(C.c_double))))
        return s[:reps]

    def output(self):
        return None


class Gnk(CPeer):
    name = "gnk"

    def __init__(self, lib, data, threads):
        super().__init__(lib, data)
        t0 = time.perf_counter()
        self.plan = lib.bench_gnk_plan(C.byref(data.cprob), threads)
        if not self.plan:
            raise PeerError(_s(lib.bench_last_error()))
        self.plan_s = time.perf_counter() - t0
        self.impl = _s(lib.bench_gnk_plan_kernel(self.plan))
        self.note = f"plan {_s(lib.bench_gnk_plan_source(self.plan))} in {self.plan_s * 1e3:.0f} ms"

    def run(self, warmup, reps):
        s, d = self._samples(reps), self.data
        self._check(self.lib.bench_gnk_run(self.plan, d.x.ptr, d.y.ptr, d.gamma.ptr, d.beta.ptr,
                                           warmup, reps, s.ctypes.data_as(C.POINTER(C.c_double))))
        return s[:reps]

    def close(self):
        if self.plan:
            self.lib.bench_gnk_destroy(self.plan)
            self.plan = None


class GnkGeneric(CPeer):
    name = "gnk-generic"
    note = "gnk_kernel_run: always 1 thread"

    def __init__(self, lib, data):
        super().__init__(lib, data)
        self.index = lib.bench_gnk_generic_index(data.cprob.layout, data.cprob.act, data.cprob.dtype)
        if self.index < 0:
            raise PeerError(_s(lib.bench_last_error()))
        self.impl = _s(lib.bench_gnk_kernel_name(self.index))

    def run(self, warmup, reps):
        s, d = self._samples(reps), self.data
        self._check(self.lib.bench_gnk_kernel(self.index, C.byref(d.cprob), d.x.ptr, d.y.ptr,
                                              d.gamma.ptr, d.beta.ptr, warmup, reps,
                                              s.ctypes.data_as(C.POINTER(C.c_double))))
        return s[:reps]


class OneDNN(CPeer):
    """mode 0: GN primitive (with the eltwise post-op for act problems);
    mode 1: GN primitive, then an eltwise primitive in place on y."""

    def __init__(self, lib, data, mode):
        super().__init__(lib, data)
        self.mode = mode
        self.name = "onednn" if mode == 0 else "onednn-2prim"
        d = data
        self.h = lib.bench_onednn_create(C.byref(d.cprob), mode, d.x.ptr, d.y.ptr, d.gamma.ptr,
                                         d.beta.ptr)
        if not self.h:
            raise PeerError(_s(lib.bench_last_error()))
        self.impl = _s(lib.bench_onednn_impl(self.h))
        if mode == 0 and d.prob.act != "none":
            self.impl += f" (post-op eltwise_{'swish' if d.prob.act == 'silu' else 'relu'})"
        if self.impl.startswith("ref"):
            self.note = "oneDNN's reference implementation"

    def run(self, warmup, reps):
        s = self._samples(reps)
        self._check(self.lib.bench_onednn_run(self.h, warmup, reps,
                                              s.ctypes.data_as(C.POINTER(C.c_double))))
        return s[:reps]

    def close(self):
        if self.h:
            self.lib.bench_onednn_destroy(self.h)
            self.h = None


class Torch:
    """F.group_norm on the same x (contiguous for nchw, channels_last for nhwc);
    for act problems followed by F.silu / F.relu (not in place), under inference_mode."""

    name = "torch"

    def __init__(self, data):
        import torch
        import torch.nn.functional as F
        self.torch, self.F, self.data = torch, F, data
        p = data.prob
        if data.dtype == "bf16":  # numpy has no bfloat16: share the bits
            x = torch.from_numpy(data.x.array.view(np.int16)).view(torch.bfloat16)
        else:
            x = torch.from_numpy(data.x.array)
        x = x.view(*data.mem_shape())
        self.x = x if data.layout == "nchw" else x.permute(0, 3, 1, 2)
        # weight and bias in the input's dtype, as nn.GroupNorm(...).to(dtype) holds them
        self.gamma = torch.from_numpy(data.gamma.array).to(x.dtype)
        self.beta = torch.from_numpy(data.beta.array).to(x.dtype)
        act = {"none": None, "silu": F.silu, "relu": F.relu}[p.act]
        g, eps = p.groups, p.eps

        def call():
            y = F.group_norm(self.x, g, self.gamma, self.beta, eps)
            return act(y) if act else y
        self.call = call
        fmt = "contiguous" if data.layout == "nchw" else "channels_last"
        self.impl = f"F.group_norm ({fmt})" + (f" + F.{p.act}" if act else "")
        self.note = ""
        self.y = None

    def run(self, warmup, reps):
        out = np.zeros(reps)
        call, clock = self.call, CLOCK
        with self.torch.inference_mode():
            for _ in range(warmup):
                self.y = call()
            for i in range(reps):
                t0 = clock()
                self.y = call()
                out[i] = clock() - t0
        return out

    def output(self):
        with self.torch.inference_mode():
            y = self.call()
        if self.data.layout == "nhwc" and not y.is_contiguous(memory_format=self.torch.channels_last):
            self.note = "output not channels_last"
        return y.float().numpy()

    def close(self):
        self.y = None


class OnnxRuntime:
    """ONNX GroupNormalization-21 on ORT's CPU execution provider (NCHW only: the ONNX
    op is channels-first), plus Sigmoid*Mul (SiLU) or Relu nodes; input and output
    bound to our buffers through IOBinding."""

    name = "onnxruntime"

    def __init__(self, data, threads):
        import onnxruntime as ort
        from onnx import TensorProto, helper
        p = data.prob
        if data.layout != "nchw":
            raise PeerError("n/a: ONNX GroupNormalization is channels-first only")
        if data.dtype != "f32":
            raise PeerError("n/a: f32 only here (on CPU, ORT runs GroupNormalization as its ONNX function body)")
        self.data = data
        shape = [p.n, p.c, p.h, p.w]
        vi = helper.make_tensor_value_info
        nodes = [helper.make_node("GroupNormalization", ["x", "scale", "bias"],
                                  ["z" if p.act != "none" else "y"], num_groups=p.groups,
                                  epsilon=p.eps)]
        if p.act == "silu":
            nodes += [helper.make_node("Sigmoid", ["z"], ["s"]), helper.make_node("Mul", ["z", "s"], ["y"])]
        elif p.act == "relu":
            nodes += [helper.make_node("Relu", ["z"], ["y"])]
        graph = helper.make_graph(nodes, "gn", [vi("x", TensorProto.FLOAT, shape),
                                                vi("scale", TensorProto.FLOAT, [p.c]),
                                                vi("bias", TensorProto.FLOAT, [p.c])],
                                  [vi("y", TensorProto.FLOAT, shape)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
        model.ir_version = 10
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        # Idle ORT workers must not spin, as the OpenMP peers' do not (bench.py MALLOC_ENV):
        # on 2 vCPUs a spinning one starves the next peer's threads.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.log_severity_level = 3
        self.sess = ort.InferenceSession(model.SerializeToString(), so,
                                         providers=["CPUExecutionProvider"])
        io = self.sess.io_binding()
        io.bind_cpu_input("x", data.x.array.reshape(shape))
        io.bind_cpu_input("scale", data.gamma.array)
        io.bind_cpu_input("bias", data.beta.array)
        io.bind_output("y", "cpu", 0, np.float32, shape, data.y.ptr)
        self.io = io
        self.impl = "GroupNormalization-21" + {"none": "", "silu": " + Sigmoid*Mul",
                                                 "relu": " + Relu"}[p.act]
        self.note = "no CPU kernel: ORT runs the op's ONNX function body"

    def run(self, warmup, reps):
        out = np.zeros(reps)
        run, io, clock = self.sess.run_with_iobinding, self.io, CLOCK
        for _ in range(warmup):
            run(io)
        for i in range(reps):
            t0 = clock()
            run(io)
            out[i] = clock() - t0
        return out

    def output(self):
        return self.data.logical(self.data.y.array)

    def close(self):
        self.io = self.sess = None
