#!/usr/bin/env python3
"""Markdown tables for the README's Performance section from one tfenc-bench JSON result
(bench/run_suite.sh output): GEMM against the SGEMM baselines, encoder rows, attention rows.

  python3 bench/readme_tables.py bench/results/<host>-avx512.json > /tmp/tables.md
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


print("**GEMM** `C = A·Wᵀ`, GFLOP/s (% of the measured zmm peak for that thread count); "
      "M ≤ 16 rows also GB/s of weights streamed (% of triad). Same binary, same run.\n")
print(f"| M×N×K | threads | tfenc {impl} | oneDNN | OpenBLAS | tfenc / oneDNN |")
print("|---|---:|---:|---:|---:|---:|")
shapes = ["128x768x768", "128x2304x768", "128x3072x768", "128x768x3072", "512x3072x768",
          "512x768x3072", "1024x3072x768", "1024x768x3072", "16x768x768", "16x3072x768",
          "16x768x3072", "1x768x768", "1x3072x768", "1x768x3072"]
for s in shapes:
    for t in (1, 2):
        ours, dnn = rows.get(f"gemm/{impl}/{s}/t{t}"), rows.get(f"gemm/onednn/{s}/t{t}")
        if not ours:
            continue
        ratio = f"{ours['GFLOP/s'] / dnn['GFLOP/s']:.2f}" if dnn else "-"
        print(f"| {s} | {t} | {gemm_cell(f'gemm/{impl}/{s}/t{t}')} | "
              f"{gemm_cell(f'gemm/onednn/{s}/t{t}')} | {gemm_cell(f'gemm/openblas/{s}/t{t}')} | {ratio} |")

print("\n**Encoder** (`encoder/<preset>/b<B>s<S>/t<n>`): p50 ms, GFLOP/s (% of peak)\n")
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
    cell = lambda b: f"{b['p50_ms']:.1f} ms, {b['GFLOP/s']:.0f} ({b['pct_peak']:.0f}%)" if b else "-"
    sp = f"{one['p50_ms'] / two['p50_ms']:.2f}×" if one and two else "-"
    print(f"| {preset} | {label} | {cell(one)} | {cell(two)} | {sp} |")

print(f"\n**Attention** (`attention/{attn}/...`), GFLOP/s (% of peak)\n")
print("| heads×d_head | B×S | 1 thread | 2 threads |")
print("|---|---|---:|---:|")
for hd in ("h12d64", "h12d32"):
    for bs in ("b1s128", "b1s512", "b8s128"):
        cells = []
        for t in (1, 2):
            b = rows.get(f"attention/{attn}/{hd}/{bs}/t{t}")
            cells.append(f"{b['GFLOP/s']:.0f} ({b['pct_peak']:.0f}%)" if b else "-")
        h, dh = hd[1:].split("d")
        b_, s_ = bs[1:].split("s")
        print(f"| {h}×{dh} | {b_}×{s_} | {cells[0]} | {cells[1]} |")

print(f"\nPeaks measured at start-up: zmm {ctx.get('peak_gflops_avx512_t1')} / "
      f"{ctx.get('peak_gflops_avx512_t2')} GFLOP/s (1 / 2 threads), ymm "
      f"{ctx.get('peak_gflops_avx2_t1')} / {ctx.get('peak_gflops_avx2_t2')}; triad "
      f"{ctx.get('triad_gbs_t1')} / {ctx.get('triad_gbs_t2')} GB/s.")
