#!/usr/bin/env python3
"""Summary of bench/run_targets.sh results: per row the median, min and max over its
repetitions (GFLOP/s and % of the peak of its ISA measured at start-up, as in the suite), and
the ratio of its median to the median of the interleaved peak row of its ISA and thread count
(the start-up peak is one sample, which can sit a few per cent off the median); GEMM rows
against oneDNN (ratio of the medians); encoder rows with their 1 -> 2 thread speed-up (ratio
of the median times).

  python3 bench/targets.py bench/results/<host>-targets-*.json
"""
import json
import re
import statistics
import sys


def load(path):
    d = json.load(open(path))
    reps = {}
    for b in d["benchmarks"]:
        if b.get("run_type", "iteration") == "iteration":
            reps.setdefault(b.get("run_name", b["name"]), []).append(b)
    return d["context"], reps


# The peak row each file's rows are held against (AMX sessions: also the zmm FMA row).
PEAK_ROW = {"avx512": "fma_zmm__avx512", "avx2": "fma_ymm__avx2", "amx": "bf16x3__amx"}


def interleaved_pct(reps, name, gflops, peak):
    """The row's median GFLOP/s as % of the median of peak/<peak>/<its threads>, or None."""
    rows = reps.get(f"peak/{peak}/{name.rsplit('/', 1)[-1]}")
    if name.startswith("peak/") or not rows:
        return None
    return 100.0 * gflops / statistics.median(r["GFLOP/s"] for r in rows)


def stat(values):
    return statistics.median(values), min(values), max(values)


for path in sys.argv[1:]:
    ctx, reps = load(path)
    isa = re.sub(r".*-targets-(\w+)\.json$", r"\1", path)
    n = max(len(v) for v in reps.values()) if reps else 0
    print(f"\n### TFENC_ISA={isa}: {n} interleaved repetitions a row ({path.split('/')[-1]})\n")
    print("| row | GFLOP/s median (min-max) | % of peak median (min-max) "
          "| % of interleaved peak | against |")
    print("|---|---:|---:|---:|---|")
    for name in sorted(reps, key=lambda s: (s.split("/")[0] != "peak", s)):
        rs = reps[name]
        against = ""
        g = stat([r["GFLOP/s"] for r in rs if "GFLOP/s" in r])
        p = stat([r.get("pct_peak", 0.0) for r in rs])
        ip = interleaved_pct(reps, name, g[0], PEAK_ROW.get(isa, ""))
        if "pct_fma_peak" in rs[0]:  # encoder rows: also against the vector FMA peak
            z = stat([r["pct_fma_peak"] for r in rs])
            # the widest vector FMA peak measured in this file: zmm, or ymm on AVX2-only hosts
            fma_isa = "avx512" if f"peak/{PEAK_ROW['avx512']}/t1" in reps else "avx2"
            fma_name = "zmm" if fma_isa == "avx512" else "ymm"
            zi = interleaved_pct(reps, name, g[0], PEAK_ROW[fma_isa])
            against = f"{fma_name} FMA peak {z[0]:.1f}% ({z[1]:.1f}-{z[2]:.1f})"
            against += f", interleaved {zi:.1f}%; " if zi is not None else "; "
        m = re.match(r"gemm/([^/]+)/(.+)$", name)
        if m and m.group(1) != "onednn" and f"gemm/onednn/{m.group(2)}" in reps:
            o = stat([r["GFLOP/s"] for r in reps[f"gemm/onednn/{m.group(2)}"]])
            against += f"{g[0] / o[0]:.3f}x oneDNN"
        m = re.match(r"(encoder/.+)/t2$", name)
        if m and f"{m.group(1)}/t1" in reps:
            t1 = statistics.median(r["real_time"] for r in reps[f"{m.group(1)}/t1"])
            t2 = statistics.median(r["real_time"] for r in rs)
            against += f"1 -> 2 threads {t1 / t2:.3f}x"
        if name.startswith("gemm/onednn/"):
            continue  # shown through the ratio; its own row in the JSON
        ips = f"{ip:.1f}" if ip is not None else ""
        print(f"| {name} | {g[0]:.1f} ({g[1]:.1f}-{g[2]:.1f}) | {p[0]:.1f} ({p[1]:.1f}-{p[2]:.1f}) "
              f"| {ips} | {against} |")
