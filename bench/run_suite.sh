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

# OpenBLAS reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when it is loaded, so they are removed
# from the environment of the process (a machine-wide setting may slow it down otherwise).
run() {
    isa=$1
    shift
    json="$out/$host-$isa.json"
    echo "run_suite.sh: TFENC_ISA=$isa -> $json"
    # shellcheck disable=SC2086  # TFENC_BENCH_ARGS is a list of flags
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE TFENC_ISA="$isa" "$@" \
        "$bin" --benchmark_out="$json" --benchmark_out_format=json ${TFENC_BENCH_ARGS:-}
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
        run avx2 ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell
    elif [ "$isa" = amx ]; then
        # Only the rows AMX changes, with the AVX-512 kernel and the peers beside them in the
        # same run; attention and LayerNorm have no AMX kernel (the avx512 run has them).
        run amx --benchmark_filter='^(peak/|gemm/(bf16x3_16x48__amx|8x48__avx512|onednn|openblas)/|encoder/)'
    else
        run "$isa"
    fi
    ran="$ran $isa"
done

chart_rows='^(peak/|encoder/|gemm/\*/(1|128)x|attention/\*/h12d64/b1|layernorm/\*/d768/)'
case "$ran" in
*" amx avx512"*)
    "$python" "$root/bench/compare.py" --by-shape \
        "$out/$host-amx.json" "$out/$host-avx512.json" \
        --chart-filter "$chart_rows" -o "$out/amx-vs-avx512.png" >"$out/amx-vs-avx512.md"
    echo "run_suite.sh: wrote $out/amx-vs-avx512.md and the chart" ;;
esac
case "$ran" in
*" avx512 avx2"*)
    # The chart keeps a readable subset; the table has every row.
    "$python" "$root/bench/compare.py" --by-shape \
        "$out/$host-avx512.json" "$out/$host-avx2.json" \
        --chart-filter "$chart_rows" -o "$out/avx512-vs-avx2.png" >"$out/avx512-vs-avx2.md"
    echo "run_suite.sh: wrote $out/avx512-vs-avx2.md and the chart" ;;
*) echo "run_suite.sh: avx512 and avx2 are not both usable here; no comparison written" ;;
esac
