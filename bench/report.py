"""Statistics, the terminal table, the CSV and the plot of bench.py's results."""
import csv
import math
import os

import numpy as np

CSV_FIELDS = ["workload", "layout", "threads", "problem", "count", "n", "c", "h", "w", "groups",
              "eps", "act", "tensor_bytes", "peer", "impl", "reps", "median_us", "min_us",
              "max_us", "gbps", "roof_ratio", "gnk_speedup", "max_abs_err", "status", "note"]


def summarize(rec, memcpy_rounds, gnk_rounds):
    """Fill a result record's statistics from its per-round samples (lists of ns arrays).
    Ratios are paired: median over rounds of (round median A / round median B)."""
    rounds = rec.get("rounds")
    if not rounds:
        return rec
    allv = np.concatenate(rounds)
    med = [float(np.median(r)) for r in rounds]
    rec["reps"] = int(allv.size)
    rec["median_ns"] = float(np.median(allv))
    rec["min_ns"], rec["max_ns"] = float(allv.min()), float(allv.max())
    rec["gbps"] = 2.0 * rec["tensor_bytes"] / rec["median_ns"]
    if memcpy_rounds:
        rec["roof_ratio"] = float(np.median([float(np.median(m)) / k for m, k in zip(memcpy_rounds, med)]))
    if gnk_rounds:
        rec["gnk_speedup"] = float(np.median([k / float(np.median(g)) for g, k in zip(gnk_rounds, med)]))
    return rec


def _f(v, fmt):
    return format(v, fmt) if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)) else "-"


def _us(ns):
    return ns / 1e3


def format_table(results, title):
    lines = [title]
    hdr = f"  {'peer':<13} {'implementation':<48} {'median µs':>10} {'min–max µs':>19} {'GB/s':>6} {'roof':>5} {'gnk×':>5}  {'err':>7}  note"
    lines.append(hdr)
    lines.append("  " + "-" * (len(hdr) - 2))
    last = None
    for r in results:
        key = (r["problem"], r["label"])
        if key != last:
            lines.append(f"{r['problem']} ({r['label']}, count {r['count']}, {r['tensor_bytes'] / 2**20:.1f} MiB)")
            last = key
        if r["status"] != "ok":
            lines.append(f"  {r['peer']:<13} {r['status']}: {r.get('note', '')}")
            continue
        impl = r["impl"] if len(r["impl"]) <= 48 else r["impl"][:47] + "…"
        mm = f"{_us(r['min_ns']):.1f}–{_us(r['max_ns']):.1f}"
        lines.append(f"  {r['peer']:<13} {impl:<48} {_us(r['median_ns']):>10.1f} {mm:>19} "
                     f"{r['gbps']:>6.1f} {_f(r.get('roof_ratio'), '.2f'):>5} "
                     f"{_f(r.get('gnk_speedup'), '.2f'):>5}  {_f(r.get('max_abs_err'), '.1e'):>7}  {r.get('note', '')}")
    return "\n".join(lines)


def best_onednn(results):
    """Per problem, the faster of oneDNN's fused (post-op) and two-primitive runs."""
    best = {}
    for r in results:
        if r["peer"].startswith("onednn") and r["status"] == "ok":
            b = best.get(r["problem_key"])
            if b is None or r["median_ns"] < b["median_ns"]:
                best[r["problem_key"]] = r
    return [dict(r, peer="onednn-best") for r in best.values()]


def workload_totals(results):
    """Σ count × median per peer over the problems where both the peer and gnk ran."""
    by = {}
    gnk = {r["problem_key"]: r for r in results if r["peer"] == "gnk" and r["status"] == "ok"}
    for r in results + best_onednn(results):
        if r["status"] != "ok" or r["problem_key"] not in gnk:
            continue
        t = by.setdefault(r["peer"], [0.0, 0.0, 0])
        t[0] += r["count"] * r["median_ns"]
        t[1] += r["count"] * gnk[r["problem_key"]]["median_ns"]
        t[2] += 1
    return by


def format_totals(results, nproblems):
    lines = ["workload total (Σ count × median over the problems both the peer and gnk ran):"]
    for peer, (t, g, k) in workload_totals(results).items():
        if peer == "gnk":
            continue
        what = (f"gnk's workload roof ratio {t / g:4.2f}" if peer == "memcpy"
                else f"gnk speed-up {t / g:5.2f}×")
        lines.append(f"  {peer:<13} {t / 1e6:9.3f} ms   gnk {g / 1e6:8.3f} ms   ({k}/{nproblems} problems)   {what}")
    return "\n".join(lines)


def write_csv(path, results):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in results:
            row = dict(r)
            for k in ("median", "min", "max"):
                if f"{k}_ns" in r:
                    row[f"{k}_us"] = f"{r[k + '_ns'] / 1e3:.3f}"
            for k in ("gbps", "roof_ratio", "gnk_speedup"):
                if isinstance(r.get(k), float):
                    row[k] = f"{r[k]:.4f}"
            if isinstance(r.get("max_abs_err"), float):
                row["max_abs_err"] = f"{r['max_abs_err']:.3e}"
            w.writerow(row)


def plot(path, results, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probs, seen = [], set()
    for r in results:
        if r["problem_key"] not in seen:
            seen.add(r["problem_key"])
            probs.append((r["problem_key"], f"{r['problem']}\n{r['label']}"))
    peers = [p for p in dict.fromkeys(r["peer"] for r in results) if p != "memcpy"]
    val = {(r["problem_key"], r["peer"]): r.get("roof_ratio") for r in results if r["status"] == "ok"}
    fig, ax = plt.subplots(figsize=(min(20, max(9, 0.7 * len(probs) + 3)), 6.5))
    width = 0.8 / max(1, len(peers))
    x = np.arange(len(probs))
    for i, peer in enumerate(peers):
        ys = [val.get((k, peer)) or 0.0 for k, _ in probs]
        ax.bar(x + (i - (len(peers) - 1) / 2) * width, ys, width, label=peer)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.text(len(probs) - 0.5, 1.01, "memcpy (roof)", ha="right", va="bottom", fontsize=8)
    ax.set_xticks(x)
    ax.set_xticklabels([lab for _, lab in probs], rotation=55, ha="right", fontsize=7)
    ax.set_ylabel("roof ratio = memcpy time / kernel time (higher is better)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, ncol=min(len(peers), 6))
    ax.set_ylim(0, max(1.1, max([v for v in val.values() if v] + [0]) * 1.1))
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
