#!/usr/bin/env python3
"""gnk side-by-side benchmark: for every problem of a workload, in one process and with
the same thread count, time memcpy of the tensor (the roof), gnk's planned kernel
(GNK_MEASURE), gnk's generic kernel, oneDNN's group normalization, PyTorch and ONNX
Runtime; print a table, write a CSV and a PNG plot per (workload, layout, threads).

    .venv/bin/python bench/bench.py --spec specs/sd15_unet.spec --layout both --threads 1,2

Needs build/libgnkbench.so (make -f bench/bench.mk bench-lib) and the peers
(bench/install_peers.sh .venv). See bench/README.md.
"""
import argparse
import datetime
import math
import os
import platform
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# glibc settings that give PyTorch (which allocates its output on every call) its best case:
# no mmap'd chunks, no trimming, so freed outputs are reused without page faults.
MALLOC_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": "68719476736",
              "MALLOC_TOP_PAD_": "536870912",
              # Idle OpenMP threads (PyTorch's, ORT's) must not spin: with 2 threads on
              # 2 cores a spinning idle peer starves the next peer's (or memcpy's)
              # helper thread for a whole scheduler slice (seen: 8 ms memcpy outliers).
              "OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "0", "KMP_BLOCKTIME": "0"}
PEERS = ("memcpy", "gnk", "gnk-generic", "onednn", "onednn-2prim", "torch", "onnxruntime")


def reexec_with_env():
    """Re-run this script with MALLOC_* set (glibc reads them at start-up only) and the
    OpenCL ICD that PyPI's oneDNN needs for its SYCL CPU device."""
    env = dict(os.environ)
    changed = False
    for k, v in MALLOC_ENV.items():
        if env.get(k) != v:
            env[k], changed = v, True
    icd = os.path.join(sys.prefix, "lib", "libintelocl.so")
    if "OCL_ICD_FILENAMES" not in env and os.path.exists(icd):
        env["OCL_ICD_FILENAMES"], changed = icd, True
    if changed and env.get("GNK_BENCH_REEXEC") != "1":
        env["GNK_BENCH_REEXEC"] = "1"
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", action="append", required=True, help="workload file (repeatable)")
    ap.add_argument("--layout", default="both", choices=("nchw", "nhwc", "both"))
    ap.add_argument("--threads", default="1", help="comma-separated thread counts, e.g. 1,2")
    ap.add_argument("--reps", type=int, default=0,
                    help="timed repetitions per peer and problem (default: from --budget)")
    ap.add_argument("--budget", type=float, default=0.25,
                    help="seconds of timed runs per peer and problem when --reps is not given")
    ap.add_argument("--min-reps", type=int, default=10)
    ap.add_argument("--max-reps", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=5, help="A B A B rounds the repetitions are split into")
    ap.add_argument("--settle-ms", type=float, default=3.0,
                    help="idle pause before each peer's block of repetitions, so that the runtime threads "
                    "of the peer before it (TBB, SYCL, ORT) stop spinning and leave the cores to it")
    ap.add_argument("--max-run-s", type=float, default=2.0,
                    help="a peer whose first run takes longer is reported as too slow and not timed")
    ap.add_argument("--clock", default="wall", choices=("wall", "cpu"),
                    help="wall: CLOCK_MONOTONIC; cpu: the process's CPU time (all threads), which "
                    "leaves out time spent descheduled on a busy shared machine; threads=1 only")
    ap.add_argument("--dtype", default="f32", choices=("f32", "f16", "bf16"),
                    help="x/y dtype (gamma/beta stay f32; PyTorch gets them in the dtype, as nn.GroupNorm "
                         "converted with .to(dtype) holds them); results get a _<dtype> suffix")
    ap.add_argument("--peers", default=",".join(PEERS), help="comma-separated subset of " + ",".join(PEERS))
    ap.add_argument("--filter", default="", help="only problems whose name or shape matches this regex")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="directory for CSV and PNG files")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--lib", default=None, help="path of libgnkbench.so (default build/libgnkbench.so)")
    a = ap.parse_args(argv)
    a.threads = [int(t) for t in a.threads.split(",") if t]
    a.layouts = ["nchw", "nhwc"] if a.layout == "both" else [a.layout]
    a.peers = [p.strip() for p in a.peers.split(",") if p.strip()]
    if a.clock == "cpu" and any(t != 1 for t in a.threads):
        ap.error("--clock cpu sums the CPU time of all threads: use it with --threads 1 only")
    bad = [p for p in a.peers if p not in PEERS]
    if bad:
        ap.error(f"unknown peer(s): {', '.join(bad)}")
    return a


def machine_info():
    model, cores = platform.processor() or "?", os.cpu_count()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"^Model name:\s*(.+)$", out, re.M)
        model = m.group(1).strip() if m else model
        l3 = re.search(r"^L3 cache:\s*(.+)$", out, re.M)
        if l3:
            model += f", L3 {l3.group(1).strip()}"
    except OSError:
        pass
    return model, cores


def versions(lib):
    v = {"python": platform.python_version()}
    v["gnk"] = f"{lib.bench_gnk_version().decode()} ({lib.bench_gnk_isa().decode()})"
    try:
        v["onednn"] = lib.bench_onednn_version().decode()
    except Exception as e:  # noqa: BLE001
        v["onednn"] = f"unavailable ({e})"
    try:
        import torch
        v["torch"] = f"{torch.__version__} (cpu capability {torch.backends.cpu.get_cpu_capability()})"
    except Exception as e:  # noqa: BLE001
        v["torch"] = f"unavailable ({type(e).__name__}: {e})"
    try:
        import onnxruntime
        v["onnxruntime"] = onnxruntime.__version__
    except Exception as e:  # noqa: BLE001
        v["onnxruntime"] = f"unavailable ({type(e).__name__}: {e})"
    return v


def make_peers(lib, data, threads, wanted, skipped):
    """Create the wanted peers for one problem; a refusal becomes a 'skipped' record."""
    import peers as P
    out = []

    def add(name, fn):
        if name not in wanted:
            return
        try:
            out.append(fn())
        except ImportError as e:
            skipped.append((name, "n/a", f"not installed ({e.name or e}): run bench/install_peers.sh .venv"))
        except Exception as e:  # noqa: BLE001
            msg = str(e)
            status = "unsupported" if msg.startswith("unsupported") else "n/a" if msg.startswith("n/a") else "error"
            skipped.append((name, status, re.sub(r"^(unsupported|n/a): ", "", msg)))

    add("memcpy", lambda: P.Memcpy(lib, data, threads))
    add("gnk", lambda: P.Gnk(lib, data, threads))
    if threads == 1:
        add("gnk-generic", lambda: P.GnkGeneric(lib, data))
    elif "gnk-generic" in wanted:
        skipped.append(("gnk-generic", "n/a", "gnk_kernel_run is single-threaded: measured at threads=1 only"))
    add("onednn", lambda: P.OneDNN(lib, data, 0))
    if data.prob.act != "none":
        add("onednn-2prim", lambda: P.OneDNN(lib, data, 1))
    add("torch", lambda: P.Torch(data))
    add("onnxruntime", lambda: P.OnnxRuntime(data, threads))
    return out


# A peer's max |y - reference| above TOLERANCE * max|reference| is flagged WRONG RESULT
# (16-bit outputs carry their own rounding: 2^-11 and 2^-8 relative).
TOLERANCE = {"f32": 1e-3, "f16": 1e-2, "bf16": 5e-2}


def bench_problem(lib, prob, layout, threads, a, workload):
    import numpy as np
    import peers as P
    import report as R

    data = P.Data(lib, prob, layout, dtype=a.dtype)
    skipped = []
    ps = make_peers(lib, data, threads, a.peers, skipped)
    base = dict(workload=workload, layout=layout, threads=threads, problem=prob.name, label=prob.label,
                problem_key=(prob.name, prob.label), count=prob.count, n=prob.n, c=prob.c, h=prob.h,
                w=prob.w, groups=prob.groups, eps=prob.eps, act=prob.act, tensor_bytes=data.bytes)
    recs = []
    ref = data.reference()
    scale = max(1.0, float(np.abs(ref).max()))
    est = {}
    live = []
    for p in ps:  # warm up, check the result right away (peers share y), estimate the time
        rec = dict(base, peer=p.name, impl=p.impl, note=getattr(p, "note", ""), status="ok")
        try:
            first = float(np.min(p.run(0, 1)))
            if first > a.max_run_s * 1e9:  # oneDNN's reference post-op on the VAE's 256 MiB tensors
                rec.update(status="skipped",
                           note=f"too slow to time: one run took {first / 1e9:.1f} s (> --max-run-s {a.max_run_s:g})")
                recs.append(rec)
                continue
            est[p.name] = max(min(first, float(np.min(p.run(1, 1)))), 1.0)
            y = p.output()
            if y is not None:
                err = float(np.abs(y.astype(np.float64) - ref).max())
                rec["max_abs_err"] = err
                if not err <= TOLERANCE[a.dtype] * scale:
                    rec["note"] = (rec["note"] + "; " if rec["note"] else "") + "WRONG RESULT"
            live.append(p)
        except Exception as e:  # noqa: BLE001
            rec.update(status="error", note=str(e))
        recs.append(rec)
    del ref
    rounds = max(1, a.rounds)
    chunk = {}
    for p in live:
        # Very slow peers (oneDNN's reference implementation) get one repetition per round.
        lo = a.min_reps if est[p.name] * a.min_reps <= 4 * a.budget * 1e9 else rounds
        reps = a.reps or min(a.max_reps, max(lo, int(a.budget * 1e9 / est[p.name])))
        chunk[p.name] = max(1, math.ceil(reps / rounds))
    samples = {p.name: [] for p in live}
    for _ in range(rounds):  # A B A B ...: every peer once per round, same order
        for p in live:
            # With 2 threads on 2 vCPUs, a previous peer's idle runtime thread that still
            # spins preempts this peer's helper thread for a scheduler slice: seen, a 36 us
            # gnk call at 252 us median and a 40 us memcpy at 4 ms. The pause lets them park.
            time.sleep(a.settle_ms / 1e3)
            samples[p.name].append(p.run(1, chunk[p.name]))
    for p in live:
        p.close()
    mc = samples.get("memcpy")
    gk = samples.get("gnk")
    for rec in recs:
        if rec["status"] == "ok":
            rec["rounds"] = samples[rec["peer"]]
            R.summarize(rec, mc, gk)
            if rec["peer"] in ("gnk", "memcpy"):
                rec.pop("gnk_speedup", None)
            rec.pop("rounds")
    for name, status, why in skipped:
        recs.append(dict(base, peer=name, impl="", status=status, note=why))
    data.free()
    order = {n: i for i, n in enumerate(PEERS)}
    recs.sort(key=lambda r: order.get(r["peer"], 99))
    return recs


def main(argv=None):
    reexec_with_env()
    a = parse_args(argv)
    import numpy as np  # noqa: F401  (fail early if the venv lacks it)
    import peers as P
    import report as R
    import specs as S

    try:
        lib = P.load_lib(a.lib)
    except OSError as e:
        sys.exit(f"cannot load libgnkbench.so ({e}); build it with: make -f bench/bench.mk bench-lib")
    P.set_clock(lib, a.clock == "cpu")
    model, cores = machine_info()
    ver = versions(lib)
    env_note = " ".join(f"{k}={v}" for k, v in MALLOC_ENV.items())
    print(f"gnk bench — {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"machine: {model}, {cores} cores; load average {os.getloadavg()[0]:.2f}")
    print("versions: " + "; ".join(f"{k} {v}" for k, v in ver.items()))
    print(f"PyTorch runs with {env_note} (set by bench.py): its per-call output allocation reuses memory "
          "without page faults; torch is timed per call from Python under torch.inference_mode().")
    print("roof = memcpy median / kernel median, paired per round; gnk× = peer time / gnk time "
          "(>1: gnk faster); GB/s counts one read + one write of the tensor.")
    print("clock: " + ("wall time (CLOCK_MONOTONIC)" if a.clock == "wall" else
                       "process CPU time (CLOCK_PROCESS_CPUTIME_ID, all threads): time spent "
                       "descheduled by other load is left out") + "\n")

    for spec in a.spec:
        problems = [p for p in S.load(spec) if not a.filter or re.search(a.filter, f"{p.name} {p.label}")]
        workload = S.workload_name(spec)
        for threads in a.threads:
            if "onednn" in a.peers or "onednn-2prim" in a.peers:
                if lib.bench_onednn_set_threads(threads) != 0:
                    print(f"warning: oneDNN threads: {lib.bench_last_error().decode()}")
            try:
                import torch
                torch.set_num_threads(threads)
            except Exception:  # noqa: BLE001
                pass
            for layout in a.layouts:
                t0 = time.time()
                results = []
                for prob in problems:
                    results += bench_problem(lib, prob, layout, threads, a, workload)
                title = (f"{workload} — {layout} — {threads} thread{'s' if threads > 1 else ''} — {a.dtype} — "
                         f"{a.clock} clock — {model}, {datetime.date.today()}")
                print(R.format_table(results, title))
                print(R.format_totals(results, len(problems)))
                stem = os.path.join(a.out, f"{workload}_{layout}_t{threads}" + ("_cpu" if a.clock == "cpu" else "")
                                    + ("" if a.dtype == "f32" else f"_{a.dtype}"))
                R.write_csv(stem + ".csv", results)
                files = [stem + ".csv"]
                if not a.no_plot:
                    try:
                        R.plot(stem + ".png", results, title)
                        files.append(stem + ".png")
                    except Exception as e:  # noqa: BLE001
                        print(f"plot failed: {e}")
                print(f"wrote {', '.join(os.path.relpath(f) for f in files)} "
                      f"({time.time() - t0:.0f} s; load average now {os.getloadavg()[0]:.2f})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
