#!/usr/bin/env python3
"""Turn bench.py CSVs into a compact Markdown table (roof ratio per peer, gnk's speed-up
over PyTorch) for README files:  python bench/csv2md.py bench/results/sd15_unet_nchw_t1.csv ..."""
import csv
import sys

COLS = ["gnk", "gnk-generic", "onednn", "onednn-2prim", "torch", "onnxruntime"]


def table(path):
    rows = list(csv.DictReader(open(path)))
    if not rows:
        return ""
    r0 = rows[0]
    probs, val = [], {}
    for r in rows:
        key = (r["problem"], r["n"], r["c"], r["h"], r["w"], r["act"])
        if key not in val:
            probs.append(key)
            val[key] = {}
        val[key][r["peer"]] = r
    cols = [c for c in COLS if any(c in v and v[c]["status"] == "ok" for v in val.values())]
    out = [f"**{r0['workload']}, {r0['layout']}, {r0['threads']} thread(s)** — roof ratio "
           "(memcpy time / kernel time; higher is better), gnk µs, and gnk's speed-up over PyTorch", "",
           "| problem | count | memcpy µs | gnk µs | " + " | ".join(cols) + " | gnk vs torch |",
           "|---|---:|---:|---:|" + "---:|" * len(cols) + "---:|"]
    for key in probs:
        v = val[key]
        name, n, c, h, w, act = key

        def roof(p):
            r = v.get(p)
            if not r or r["status"] != "ok":
                return "n/a" if r and r["status"] == "n/a" else "—"
            s = f"{float(r['roof_ratio']):.2f}"
            return s + " (ref)" if r["impl"].startswith("ref") else s
        mc = v.get("memcpy", {}).get("median_us") or "—"
        g = v.get("gnk", {}).get("median_us") or "—"
        t = v.get("torch", {})
        sp = f"{float(t['gnk_speedup']):.2f}×" if t.get("gnk_speedup") else "—"
        out.append(f"| {name} {n}x{c}x{h}x{w} {act} | {v.get('gnk', r0)['count']} | "
                   f"{float(mc):.0f} | {float(g):.0f} | " + " | ".join(roof(p) for p in cols) + f" | {sp} |"
                   if mc != "—" and g != "—" else f"| {name} | — |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print("\n".join(table(p) for p in sys.argv[1:]))
