#!/usr/bin/env python3
"""Markdown table from a bench/scaling/run.sh result folder (tfenc.jsonl + peers.csv, and
tfenc-avx512.jsonl when the run also measured TFENC_ISA=avx512: then a column for it).
Usage: summary.py DIR_OR_PREFIX   (e.g. bench/results/scaling/xeon-16core-)"""
import csv, json, os, sys

pre = sys.argv[1]
if os.path.isdir(pre):
    pre = os.path.join(pre, "")
def runs(path):
    out = {}
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                if line.startswith("{"):
                    d = json.loads(line)
                    out[(d["model"].replace("bert-base", "bert"), d["batch"], d["seq"], d["threads"])] = d
    return out
ours, peers = runs(pre + "tfenc.jsonl"), {}
avx512 = runs(pre + "tfenc-avx512.jsonl")
with open(pre + "peers.csv") as fh:
    for r in csv.DictReader(l for l in fh if l[:1].isalpha()):
        if r.get("engine", "").startswith(("torch-", "onnxruntime-")):
            e = "ort" if r["engine"].startswith("onnx") else "torch"
            peers[(e, r["model"], int(r["batch"]), int(r["seq"]), int(r["threads"]))] = float(r["ms_median"])
isa = next(iter(ours.values()))["isa"] if ours else "?"
extra = " tfenc avx512 ms |" if avx512 else ""
print(f"| model | shape | threads | tfenc ({isa}) p50 ms | speed-up vs 1 thread | % of peak | ORT ms | PyTorch ms | tfenc / ORT | tfenc / PyTorch |{extra}")
print("|---|---|---|---|---|---|---|---|---|---|" + ("---|" if avx512 else ""))
for (m, b, s) in sorted({k[:3] for k in ours}, key=lambda k: (k[0] != "bert", k[1], k[2])):
    threads = sorted(t for (mm, bb, ss, t) in ours if (mm, bb, ss) == (m, b, s))
    t1 = ours[(m, b, s, threads[0])]["p50_ms"]
    for t in threads:
        d = ours[(m, b, s, t)]
        o, p = peers.get(("ort", m, b, s, t)), peers.get(("torch", m, b, s, t))
        r = lambda x: f"{d['p50_ms'] / x:.2f}" if x else "-"
        print(f"| {m} | {b}x{s} | {t} | {d['p50_ms']:.1f} | {t1 / d['p50_ms']:.2f}x | {d['peak_pct']:.0f}% | "
              f"{o if o else '-'} | {p if p else '-'} | {r(o)} | {r(p)} |", end="")
        a = avx512.get((m, b, s, t))
        print(f" {a['p50_ms']:.1f} |" if a else (" - |" if avx512 else ""))
