#!/usr/bin/env bash
# One sitting against ONNX Runtime (issue 5's end-to-end target): ORT through
# ../shared/baselines/encoder.sh on BERT-base and MiniLM at 1x16, 1x128, 1x512 and 8x128, then
# right after it `tfenc bench` on the same shapes with the default kernels and, on hosts with
# AMX, with TFENC_ISA=avx512 (what a CPU without AMX runs), all on THREADS threads under
# OMP_WAIT_POLICY=passive; prints a Markdown table of p50s and tfenc/ORT ratios. Needs
# ../shared/baselines/setup.sh run once (it installs onnxruntime-node and exports the models).
# The host is noisy: a ratio is only good for the sitting it was measured in.
#   bench/ort_sitting.sh [BUILD_DIR] [THREADS]     (defaults: build-bench, 2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build-bench} threads=${2:-2}
tfenc=$root/$build/tfenc
[ -x "$tfenc" ] || { echo "ort_sitting: no $tfenc (build first)" >&2; exit 1; }
baselines=$root/../shared/baselines
export OMP_WAIT_POLICY=passive
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tfenc-ort-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
shapes=1x16,1x128,1x512,8x128
# The AVX-512 column only where the default differs from it (hosts with AMX).
cap_col=0
"$tfenc" info 2>/dev/null | grep -q '^isa:.* amx' && cap_col=1
echo "# ORT (encoder.sh ort $threads) ..." >&2
bash "$baselines/encoder.sh" ort "$threads" --models bert,minilm --shapes "$shapes" \
    >"$tmp/ort.csv"
for model in bert minilm; do
    preset=$([ $model = bert ] && echo bert-base || echo minilm)
    for shape in ${shapes//,/ }; do
        b=${shape%x*} s=${shape#*x}
        echo "# tfenc $preset ${b}x$s ..." >&2
        run=("$tfenc" bench --preset "$preset" --batch "$b" --seq "$s" --threads "$threads" --json)
        env -u TFENC_ISA "${run[@]}" >"$tmp/$model-$shape-default.json" 2>/dev/null
        if [ $cap_col = 1 ]; then
            TFENC_ISA=avx512 "${run[@]}" >"$tmp/$model-$shape-avx512.json" 2>/dev/null
        fi
    done
done
python3 - "$tmp" "$cap_col" <<'EOF'
import csv, json, sys
tmp, cap_col = sys.argv[1], sys.argv[2] == "1"
rows = {}
with open(f"{tmp}/ort.csv") as f:
    for r in csv.DictReader(line for line in f if not line.startswith("#")):
        rows[(r["model"], f'{r["batch"]}x{r["seq"]}')] = float(r["ms_median"])
print("| model | B×S | ORT p50 ms | tfenc GEMM | tfenc p50 ms | tfenc / ORT |"
      + (" `TFENC_ISA=avx512` p50 ms | avx512 / ORT |" if cap_col else ""))
print("|---|---|---:|---|---:|---:|" + ("---:|---:|" if cap_col else ""))
for (model, shape), ort in rows.items():
    d = json.load(open(f"{tmp}/{model}-{shape}-default.json"))
    name = "BERT-base" if model == "bert" else "MiniLM"
    line = (f"| {name} | {shape.replace('x', '×')} | {ort:.2f} | {d['isa']} "
            f"| {d['p50_ms']:.2f} | {d['p50_ms'] / ort:.2f} |")
    if cap_col:
        a = json.load(open(f"{tmp}/{model}-{shape}-avx512.json"))
        line += f" {a['p50_ms']:.2f} | {a['p50_ms'] / ort:.2f} |"
    print(line)
EOF
