#!/bin/bash
# Does the tile-unit check pick the faster engine on this host? For each OpenMP team size in
# TC, what `tfenc info` measured (tile unit against AVX-512 FMA peak, and the choice); then,
# for team sizes TT, RR rounds, tfenc bench with no cap (the check's choice), with
# TFENC_ISA=amx and with TFENC_ISA=avx512, back to back. Writes check.txt and ab.jsonl to
# $OUT and prints one line per bench. Uses the tfenc and libraries in $TFENC_BIN (default
# build/; see run.sh). Defaults: TC="16 8 4 2 1", TT="16 1", RR=2.
set -u
B=${TFENC_BIN:-$(cd "$(dirname "$0")/../../build" && pwd)}
export LD_LIBRARY_PATH=$B OMP_WAIT_POLICY=passive
O=${OUT:-/tmp/tfenc-tile-unit}
mkdir -p "$O"
for t in ${TC:-16 8 4 2 1}; do
    OMP_NUM_THREADS=$t "$B/tfenc" info --preset minilm | grep "tile unit"
done 2>&1 | tee "$O/check.txt"
: > "$O/ab.jsonl"
for _round in $(seq "${RR:-2}"); do
    for t in ${TT:-16 1}; do
        for spec in "bert-base 1 128 20" "minilm 1 128 60" "bert-base 8 128 3"; do
            # shellcheck disable=SC2086 # split on purpose
            set -- $spec
            [ "$t" = 1 ] && [ "$2" = 8 ] && continue # 8x128 on one thread: too long here
            for isa in default amx avx512; do
                if [ "$isa" = default ]; then cap=(-u TFENC_ISA); else cap=("TFENC_ISA=$isa"); fi
                OMP_NUM_THREADS=$t env "${cap[@]}" timeout 60 "$B/tfenc" bench --preset "$1" \
                    --batch "$2" --seq "$3" --threads "$t" --iters "$4" --json 2>/dev/null |
                    sed "s/^{/{\"run\": \"$isa\", /" >> "$O/ab.jsonl"
            done
        done
    done
done
python3 - "$O/ab.jsonl" <<'PY'
import json, sys
print("run model batch seq threads isa p50_ms tile_unit_gain")
for line in open(sys.argv[1]):
    d = json.loads(line)
    print(d["run"], d["model"], d["batch"], d["seq"], d["threads"], d["isa"], d["p50_ms"],
          d["tile_unit_gain"])
PY
