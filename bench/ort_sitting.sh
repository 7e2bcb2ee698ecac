#!/usr/bin/env bash
# One sitting against ONNX Runtime (issue 5's end-to-end target): ORT through
# ../shared/baselines/encoder.sh on BERT-base and MiniLM at 1x16, 1x128, 1x512 and 8x128, then
# right after it `tfenc bench` on the same shapes with the default kernels and, on hosts with
# AMX, with TFENC_ISA=avx512 (what a CPU without AMX runs), all on THREADS threads under
# OMP_WAIT_POLICY=passive; prints a Markdown table of p50s and tfenc/ORT ratios. Needs
# ../shared/baselines/setup.sh run once (it installs onnxruntime-node and exports the models).
# The host is noisy: a ratio is only good for the sitting it was measured in. REPS=n (default
# 1) repeats the sitting n times in a row (ORT, tfenc, ORT, tfenc, ...) and reports the
# medians of the p50s and the median (min-max) of the per-sitting ratios. INTERLEAVE=1 runs
# ORT and tfenc shape by shape instead (ORT on one shape, tfenc on it, the next shape...), so
# the two runs of a ratio are seconds apart, not minutes: steadier on a VM whose speed drifts.
#   [REPS=n] [INTERLEAVE=1] bench/ort_sitting.sh [BUILD_DIR] [THREADS]   (build-bench, 2)
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
reps=${REPS:-1}
for rep in $(seq 1 "$reps"); do
    echo "# sitting $rep of $reps" >&2
    if [ "${INTERLEAVE:-0}" != 1 ]; then
        bash "$baselines/encoder.sh" ort "$threads" --models bert,minilm --shapes "$shapes" \
            >"$tmp/ort-$rep.csv"
    fi
    for model in bert minilm; do
        preset=$([ $model = bert ] && echo bert-base || echo minilm)
        for shape in ${shapes//,/ }; do
            b=${shape%x*} s=${shape#*x}
            if [ "${INTERLEAVE:-0}" = 1 ]; then
                # one shape's ORT row; the CSV header only once per sitting
                bash "$baselines/encoder.sh" ort "$threads" --models $model --shapes "$shape" \
                    >"$tmp/ort-one.csv"
                if [ -f "$tmp/ort-$rep.csv" ]; then
                    grep -v -e '^#' -e '^engine,' "$tmp/ort-one.csv" >>"$tmp/ort-$rep.csv"
                else
                    grep -v '^#' "$tmp/ort-one.csv" >"$tmp/ort-$rep.csv"
                fi
            fi
            echo "# tfenc $preset ${b}x$s ..." >&2
            run=("$tfenc" bench --preset "$preset" --batch "$b" --seq "$s" --threads "$threads"
                --json)
            env -u TFENC_ISA "${run[@]}" >"$tmp/$model-$shape-default-$rep.json" 2>/dev/null
            if [ $cap_col = 1 ]; then
                TFENC_ISA=avx512 "${run[@]}" >"$tmp/$model-$shape-avx512-$rep.json" 2>/dev/null
            fi
        done
    done
done
python3 - "$tmp" "$cap_col" "$reps" <<'EOF'
import csv, json, statistics, sys
tmp, cap_col, reps = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
ort = {}  # (model, shape) -> [p50 per sitting]
for rep in range(1, reps + 1):
    with open(f"{tmp}/ort-{rep}.csv") as f:
        for r in csv.DictReader(line for line in f if not line.startswith("#")):
            ort.setdefault((r["model"], f'{r["batch"]}x{r["seq"]}'), []).append(
                float(r["ms_median"]))


def column(model, shape, kind, ort_ms):
    """p50 median over the sittings and the per-sitting ratios' median (min-max)."""
    runs = [json.load(open(f"{tmp}/{model}-{shape}-{kind}-{rep}.json"))
            for rep in range(1, reps + 1)]
    ratios = [r["p50_ms"] / o for r, o in zip(runs, ort_ms)]
    spread = f" ({min(ratios):.2f}-{max(ratios):.2f})" if reps > 1 else ""
    return (runs[0]["isa"], f"{statistics.median(r['p50_ms'] for r in runs):.2f}",
            f"{statistics.median(ratios):.2f}{spread}")


print("| model | B×S | ORT p50 ms | tfenc GEMM | tfenc p50 ms | tfenc / ORT |"
      + (" `TFENC_ISA=avx512` p50 ms | avx512 / ORT |" if cap_col else ""))
print("|---|---|---:|---|---:|---:|" + ("---:|---:|" if cap_col else ""))
for (model, shape), ort_ms in ort.items():
    isa, p50, ratio = column(model, shape, "default", ort_ms)
    name = "BERT-base" if model == "bert" else "MiniLM"
    line = (f"| {name} | {shape.replace('x', '×')} | {statistics.median(ort_ms):.2f} | {isa} "
            f"| {p50} | {ratio} |")
    if cap_col:
        _, p50a, ratioa = column(model, shape, "avx512", ort_ms)
        line += f" {p50a} | {ratioa} |"
    print(line)
EOF
