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

# shellcheck source=bench/suite_lib.sh
. "$(dirname "$0")/suite_lib.sh"
python=${PYTHON:-python3}
BENCH_FLAGS=${TFENC_BENCH_ARGS:-}
echo "run_suite.sh: $host, usable ISAs:$usable"

# run ISA FILTER [VAR=VALUE...]: the suite under TFENC_ISA=ISA into <host>-<isa>.json.
run() {
    isa=$1 filter=$2
    shift 2
    bench_run "$out/$host-$isa.json" "$isa" "$filter" "$@"
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
        # Only the rows AMX changes, with the AVX-512 kernels and the peers beside them in the
        # same run; LayerNorm has no AMX kernel (the avx512 run has it).
        kernels='(ukernel|gemm)/(bf16x3_16x48__amx|8x48__avx512|onednn|openblas)/'
        run amx "^(peak/|$kernels|attention/flash_q32k64__(amx|avx512)/|encoder/)"
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
