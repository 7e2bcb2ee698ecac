#!/bin/sh
# Produces the checked-in results: the full tfenc-bench suite under TFENC_ISA=amx (where the
# host has AMX), avx512 and avx2 on this host, then the side-by-side comparisons.
#
#   bench/run_suite.sh [BUILD_DIR]          (default BUILD_DIR: build)
#
# Writes bench/results/<host>-<isa>.json for each, bench/results/avx512-vs-avx2.md with the
# chart avx512-vs-avx2.png (.svg without matplotlib), and amx-vs-avx512.md/.png when AMX ran.
# Environment:
#   TFENC_BENCH_HOST      name used in the file names (default: hostname -s)
#   TFENC_BENCH_ARGS      extra tfenc-bench flags, e.g. "--benchmark_min_time=0.5"
#   TFENC_BENCH_RESULTS   output folder (default: bench/results)
#   BASELINES_FOLLOW_ISA  1 (default): in the avx2 run, cap the baselines too
#                         (ONEDNN_MAX_CPU_ISA=AVX2, OPENBLAS_CORETYPE=Haswell), so the avx2
#                         file reads as "this CPU without AVX-512"; 0: leave them uncapped
#   PYTHON                interpreter for compare.py (default: python3)
# Each run takes up to ~10 minutes on 2 cores. Run it on an otherwise idle machine: every row
# reports other_cores (CPU that other processes used meanwhile); values above ~0.15 mean noise.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build"}
bin="$build/bench/tfenc-bench"
out=${TFENC_BENCH_RESULTS:-"$root/bench/results"}
host=${TFENC_BENCH_HOST:-$(hostname -s 2>/dev/null || echo host)}
python=${PYTHON:-python3}

if [ ! -x "$bin" ]; then
    echo "run_suite.sh: $bin not found; build first: meson setup build && ninja -C build" >&2
    exit 1
fi
mkdir -p "$out"

# ISAs this build can run on this host, as tfenc-bench reports them.
usable=$("$bin" --tfenc_info | awk '$1 == "isa_usable" { $1 = ""; print }')
echo "run_suite.sh: $host, usable ISAs:$usable"

# run ISA FILTER [VAR=VALUE...]: the suite under TFENC_ISA=ISA, rows matching FILTER ('' for
# all), with those variables set. OpenBLAS reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when it
# is loaded, so they are removed from the environment of the process first (a machine-wide
# setting may slow it down otherwise).
run() {
    isa=$1 filter=$2
    shift 2
    json="$out/$host-$isa.json"
    echo "run_suite.sh: TFENC_ISA=$isa -> $json"
    # shellcheck disable=SC2086  # TFENC_BENCH_ARGS is a list of flags
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE TFENC_ISA="$isa" "$@" \
        "$bin" --benchmark_filter="$filter" --benchmark_out="$json" \
        --benchmark_out_format=json ${TFENC_BENCH_ARGS:-}
}

# compare A B NAME: the side-by-side table NAME.md of two runs and its chart NAME.png (the
# chart keeps a readable subset; the table has every row).
compare() {
    "$python" "$root/bench/compare.py" --by-shape "$out/$host-$1.json" "$out/$host-$2.json" \
        --chart-filter '^(peak/|encoder/|gemm/\*/(1|128)x|attention/\*/h12d64/b1|layernorm/\*/d768/)' \
        -o "$out/$3.png" >"$out/$3.md"
    echo "run_suite.sh: wrote $out/$3.md and the chart"
}

ran=""
for isa in amx avx512 avx2; do
    case " $usable " in
    *" $isa "*) ;;
    *)
        echo "run_suite.sh: skipping $isa (not usable here)"
        continue
        ;;
    esac
    if [ "$isa" = avx2 ] && [ "${BASELINES_FOLLOW_ISA:-1}" = 1 ]; then
        run avx2 '' ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell
    elif [ "$isa" = amx ]; then
        # Only the rows AMX changes, with the AVX-512 kernel and the peers beside them in the
        # same run; attention and LayerNorm have no AMX kernel (the avx512 run has them).
        run amx '^(peak/|(ukernel|gemm)/(bf16x3_16x48__amx|8x48__avx512|onednn|openblas)/|encoder/)'
    else
        run "$isa" ''
    fi
    ran="$ran $isa"
done

case "$ran" in
*" amx avx512"*) compare amx avx512 amx-vs-avx512 ;;
esac
case "$ran" in
*" avx512 avx2"*) compare avx512 avx2 avx512-vs-avx2 ;;
*) echo "run_suite.sh: avx512 and avx2 are not both usable here; no comparison written" ;;
esac
