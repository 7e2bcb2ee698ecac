#!/usr/bin/env python3
"""Markdown tables for the README's Performance section from one tfenc-bench JSON result
(bench/run_suite.sh output): GEMM against the SGEMM baselines, encoder rows, attention rows.

  python3 bench/readme_tables.py bench/results/<host>-avx512.json > /tmp/tables.md
  (also for <host>-amx.json: its GEMM rows with the AVX-512 kernel beside, its encoder rows)
"""
import json
import re
import sys

d = json.load(open(sys.argv[1]))
ctx = d["context"]
rows = {b["name"]: b for b in d["benchmarks"] if b.get("run_type", "iteration") == "iteration"}
impl = ctx.get("kernel_gemm", "8x48__avx512")
attn = ctx.get("kernel_attention", "flash_q32k64__avx512")


def gemm_cell(name):
    b = rows.get(name)
    if not b:
        return "-"
    cell = f"{b['GFLOP/s']:.0f} ({b['pct_peak']:.0f}%)"
    if "GB/s" in b:
        cell += f"; {b['GB/s']:.1f} GB/s ({b['pct_triad']:.0f}%)"
    return cell


# tfenc's columns: the selected GEMM, and the AVX-512 one beside it when the run has both
# (an amx run measures its tile-unit kernel and the FMA kernel in the same process).
impls = [impl] + [i for i in ("8x48__avx512",) if i != impl and any(
    n.startswith(f"gemm/{i}/") for n in rows)]
peers = "zmm" if ctx.get("baseline_peak_isa", "avx512") == "avx512" else "ymm"
print("**GEMM** `C = A·Wᵀ`, GFLOP/s (% of the measured peak of the kernel's ISA for that thread "
      f"count: the {peers} FMA peak for {impl.split('__')[-1].upper()} and the peers, the tile "
      "unit's fp32-equivalent rate for AMX); M ≤ 16 rows also GB/s of weights streamed (% of "
      "triad). Same binary, same run.\n")
head = " | ".join(f"tfenc {i}" for i in impls)
ratios = " | ".join(f"{i.split('__')[-1]} / oneDNN" for i in impls)
print(f"| M×N×K | threads | {head} | oneDNN | OpenBLAS | {ratios} |")
print("|---|---:|" + "---:|" * (2 * len(impls) + 2))
shapes = ["128x768x768", "128x2304x768", "128x3072x768", "128x768x3072", "512x3072x768",
          "512x768x3072", "1024x3072x768", "1024x768x3072", "16x768x768", "16x3072x768",
          "16x768x3072", "1x768x768", "1x3072x768", "1x768x3072"]
for s in shapes:
    for t in (1, 2):
        dnn = rows.get(f"gemm/onednn/{s}/t{t}")
        if not rows.get(f"gemm/{impl}/{s}/t{t}"):
            continue
        ours = " | ".join(gemm_cell(f"gemm/{i}/{s}/t{t}") for i in impls)
        rs = " | ".join(f"{rows[f'gemm/{i}/{s}/t{t}']['GFLOP/s'] / dnn['GFLOP/s']:.2f}"
                        if dnn and f"gemm/{i}/{s}/t{t}" in rows else "-" for i in impls)
        print(f"| {s} | {t} | {ours} | "
              f"{gemm_cell(f'gemm/onednn/{s}/t{t}')} | {gemm_cell(f'gemm/openblas/{s}/t{t}')} | {rs} |")

print("\n**Encoder** (`encoder/<preset>/b<B>s<S>/t<n>`): p50 ms, GFLOP/s (% of the peak of "
      "the session's GEMM engine; for AMX sessions also / % of the zmm FMA peak)\n")
print("| preset | B×S | 1 thread | 2 threads | speed-up |")
print("|---|---|---:|---:|---:|")
def shape_key(shape):
    m = re.match(r"b(\d+)s(\d+)", shape)
    return (0, int(m.group(1)), int(m.group(2))) if m else (1, 0, 0)
enc = sorted({re.sub(r"/t\d+$", "", n) for n in rows if n.startswith("encoder/")},
             key=lambda n: (n.split("/")[1], shape_key(n.split("/")[2])))
for base in enc:
    _, preset, shape = base.split("/")
    one, two = rows.get(base + "/t1"), rows.get(base + "/t2")
    m = re.match(r"b(\d+)s(\d+)", shape)
    label = f"{m.group(1)}×{m.group(2)}" if m else "8 × (16..128)"
    def cell(b):
        if not b:
            return "-"
        pct = f"{b['pct_peak']:.0f}%"
        if "pct_fma_peak" in b and abs(b["pct_fma_peak"] - b["pct_peak"]) > 0.5:
            pct += f" / {b['pct_fma_peak']:.0f}%"
        return f"{b['p50_ms']:.1f} ms, {b['GFLOP/s']:.0f} ({pct})"
    sp = f"{one['p50_ms'] / two['p50_ms']:.2f}×" if one and two else "-"
    print(f"| {preset} | {label} | {cell(one)} | {cell(two)} | {sp} |")

# The selected attention kernel, and the AVX-512 one beside it when the run has both (an amx
# run measures the tile-unit kernel and the FMA kernel in the same process).
attns = [attn] + [a for a in ("flash_q32k64__avx512",)
                  if a != attn and any(n.startswith(f"attention/{a}/") for n in rows)]
print(f"\n**Attention** ({', '.join(f'`attention/{a}/...`' for a in attns)}), GFLOP/s (% of "
      "the peak of the kernel's ISA)\n")
head = " | ".join(f"{a.split('__')[1]} {t}" for a in attns for t in ("1 thread", "2 threads"))
ratio = len(attns) == 2
print(f"| heads×d_head | B×S | {head} |" + (" time ratio 1 / 2 threads |" if ratio else ""))
print("|---|---|" + "---:|" * (2 * len(attns) + ratio))
for hd in ("h12d64", "h12d32"):
    for bs in ("b1s128", "b1s512", "b8s128"):
        cells, got = [], {}
        for a in attns:
            for t in (1, 2):
                b = rows.get(f"attention/{a}/{hd}/{bs}/t{t}")
                got[(a, t)] = b
                cells.append(f"{b['GFLOP/s']:.0f} ({b['pct_peak']:.0f}%)" if b else "-")
        if ratio:
            r = [f"{got[(attns[0], t)]['real_time'] / got[(attns[1], t)]['real_time']:.2f}"
                 if got[(attns[0], t)] and got[(attns[1], t)] else "-" for t in (1, 2)]
            cells.append(" / ".join(r))
        h, dh = hd[1:].split("d")
        b_, s_ = bs[1:].split("s")
        print(f"| {h}×{dh} | {b_}×{s_} | " + " | ".join(cells) + " |")

amx = (f"AMX (fp32-equivalent) {ctx['peak_gflops_amx_t1']} / {ctx['peak_gflops_amx_t2']}, "
       if "peak_gflops_amx_t1" in ctx else "")
zmm = (f"zmm {ctx['peak_gflops_avx512_t1']} / {ctx['peak_gflops_avx512_t2']} GFLOP/s (1 / 2 "
       "threads), " if ctx.get("peak_gflops_avx512_t1") is not None else "")
print(f"\nPeaks measured at start-up: {amx}{zmm}ymm "
      f"{ctx.get('peak_gflops_avx2_t1')} / {ctx.get('peak_gflops_avx2_t2')} GFLOP/s; triad "
      f"{ctx.get('triad_gbs_t1')} / {ctx.get('triad_gbs_t2')} GB/s.")
