#!/bin/bash
# Thread scaling of tfenc against PyTorch and ONNX Runtime (Python packages) on a many-core
# machine: tfenc bench for bert-base 1x128, 8x128 and minilm 1x128 at each thread count, then
# peers.py on the same shapes (nn.TransformerEncoder as in ../shared/baselines, exported
# per shape to ONNX for onnxruntime). Writes cpu.txt, info.txt, tfenc.jsonl, peers.csv
# into $OUT (default /tmp/tfenc-scaling).
#
#   bench/scaling/run.sh                 uses build/tfenc
#   TFENC_BIN=DIR bench/scaling/run.sh   uses DIR/tfenc (and the libraries beside it), for a
#                                        machine without the build dependencies: copy tfenc,
#                                        libtfenc.so.0, libcjson.so.1 and libgomp.so.1 to DIR
# Environment: THREADS (default 1,2,4,8,16), SKIP_TFENC=1, PEER_TIMEOUT (s, default 300);
#   ISAS="default avx512" also runs each cell under TFENC_ISA=avx512, right after the default
#   session (side by side on the same machine state), into tfenc-avx512.jsonl;
#   PROFILE_THREADS=16 (a list) adds tfenc bench --profile of bert-base 1x128 per ISA there.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${TFENC_BIN:-$here/../../build}
export LD_LIBRARY_PATH=$bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} OMP_WAIT_POLICY=passive
O=${OUT:-/tmp/tfenc-scaling}
mkdir -p "$O"
{ nproc; lscpu | grep -E "Model name|Socket|Core|Thread|L1d|L2|L3|NUMA node\(s\)"; } > "$O/cpu.txt" 2>&1
cat "$O/cpu.txt"
"$bin/tfenc" info --preset bert-base 2>&1 | tee "$O/info.txt"
T=${THREADS:-1,2,4,8,16}
"$bin/tfenc" bench --preset minilm --threads 16 --iters 200 >/dev/null 2>&1 # warm-up: clocks, pages
# Run "$@" with TFENC_ISA set to $1, or unset for "default"; its results file.
with_isa() {
    local isa=$1
    shift
    if [ "$isa" = default ]; then env -u TFENC_ISA "$@"; else env TFENC_ISA="$isa" "$@"; fi
}
jsonl() { if [ "$1" = default ]; then echo tfenc.jsonl; else echo "tfenc-$1.jsonl"; fi; }
for isa in ${ISAS:-default}; do : > "$O/$(jsonl "$isa")"; done
for t in ${T//,/ }; do
    [ -n "${SKIP_TFENC:-}" ] && break
    for spec in "bert-base 1 128 20" "bert-base 8 128 4" "minilm 1 128 60"; do
        set -- $spec
        for isa in ${ISAS:-default}; do
            echo "tfenc bench --preset $1 --batch $2 --seq $3 --threads $t ($isa)" >&2
            with_isa "$isa" timeout 120 "$bin/tfenc" bench --preset "$1" --batch "$2" \
                --seq "$3" --threads "$t" --iters "$4" --json 2>/dev/null | tee -a "$O/$(jsonl "$isa")"
        done
    done
done
P=${PROFILE_THREADS:-}
for t in ${P//,/ }; do
    for isa in ${ISAS:-default}; do
        echo "== $isa, $t threads" | tee -a "$O/profile.txt"
        with_isa "$isa" timeout 120 "$bin/tfenc" bench --preset bert-base \
            --seq 128 --threads "$t" --iters 20 --profile 2>&1 | tee -a "$O/profile.txt"
    done
done
timeout "${PEER_TIMEOUT:-300}" env PYTHONUNBUFFERED=1 python3 "$here/peers.py" "$T" 2>&1 |
    grep -v -i warn | tee "$O/peers.csv"
