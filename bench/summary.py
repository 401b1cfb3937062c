"""Summarise bench/results/<workload>_<layout>_t<threads>.csv against the speed targets:
geometric-mean and minimum roof ratio, fused SiLU cost over plain GN (same shape),
speed-up over PyTorch's faster layout (GN and GN+SiLU separately) and over oneDNN.
    .venv/bin/python bench/summary.py [WORKLOAD] [THREADS...] [--dtype f16|bf16] [--dir DIR]
(DIR: where the CSVs are, default bench/results; e.g. bench/results/zen3)"""
import csv
import math
import os
import sys

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def load(workload, layout, t, dtype="f32", where=HERE):
    path = os.path.join(where, f"{workload}_{layout}_t{t}" + ("" if dtype == "f32" else f"_{dtype}") + ".csv")
    probs = {}
    for r in csv.DictReader(open(path)):
        key = (r["n"], r["c"], r["h"], r["w"], r["act"])
        probs.setdefault(key, {})[r["peer"]] = r
    return probs


def med(r):
    return float(r["median_us"]) if r and r.get("status") == "ok" and r.get("median_us") else None


def gmean(v):
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else float("nan")


def main():
    args = sys.argv[1:]

    def option(flag, default):  # "--flag VALUE", removed from args
        if flag not in args:
            return default
        i = args.index(flag)
        if i + 1 == len(args):
            sys.exit(f"summary.py: {flag} needs a value")
        value = args[i + 1]
        del args[i:i + 2]
        return value

    dtype = option("--dtype", "f32")
    where = option("--dir", HERE)
    workload = args[0] if args else "sd15_unet"
    threads = args[1:] or ["1", "2"]
    for t in threads:
        data = {lay: load(workload, lay, t, dtype, where) for lay in ("nchw", "nhwc")}
        print(f"== {workload}, {t} thread(s), {dtype}")
        for lay, probs in data.items():
            roofs = [float(p["gnk"]["roof_ratio"]) for p in probs.values()]
            worst = min(probs.items(), key=lambda kv: float(kv[1]["gnk"]["roof_ratio"]))
            print(f"  {lay}: roof ratio geomean {gmean(roofs):.2f}, min {min(roofs):.2f} "
                  f"({'x'.join(worst[0][:4])} {worst[0][4]})")
            silu = []
            for (n, c, h, w, act), p in probs.items():
                plain = probs.get((n, c, h, w, "none"))
                if act == "silu" and plain:
                    silu.append((f"{n}x{c}x{h}x{w}", med(p["gnk"]) / med(plain["gnk"]) - 1))
            print("    fused SiLU cost over GN alone: " + ", ".join(f"{k} {v * 100:+.0f}%" for k, v in silu))
            od = [med(p["onednn-best"] if "onednn-best" in p else None) for p in probs.values()]
            slower = []
            for key, p in probs.items():
                g = med(p["gnk"])
                best = min(x for x in (med(p.get("onednn")), med(p.get("onednn-2prim"))) if x) if (med(p.get("onednn")) or med(p.get("onednn-2prim"))) else None
                if best and best < g:
                    slower.append("x".join(key[:4]))
            print(f"    slower than oneDNN on: {slower or 'no problem'}")
        # speed-up over PyTorch's faster layout, per problem, gnk in this layout
        for lay in ("nchw", "nhwc"):
            for act_kind in ("none", "silu"):
                ups = []
                for key, p in data[lay].items():
                    if key[4] != act_kind:
                        continue
                    tt = [med(data[l][key].get("torch")) for l in ("nchw", "nhwc") if key in data[l]]
                    tt = [x for x in tt if x]
                    if tt:
                        ups.append(min(tt) / med(p["gnk"]))
                if ups:
                    print(f"  gnk {lay} vs PyTorch's faster layout, act={act_kind}: geomean {gmean(ups):.2f}x, "
                          f"min {min(ups):.2f}x over {len(ups)} problems")


if __name__ == "__main__":
    main()
