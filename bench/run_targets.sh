#!/bin/sh
# The rows the issues' speed targets hang on, each repeated REPS times (default 9) in random
# interleaved order (Google Benchmark's --benchmark_enable_random_interleaving), so every
# row's median and spread come from one process with drift shared out evenly; then
# bench/targets.py prints medians, min-max and the ratios.
#   avx512: zmm peak; the AVX-512 kernel and oneDNN on the M = 128 / 512 shapes and on
#           M = 1 and 16 with K, N = 768 / 3072; BERT-base encoder 1x128 and 8x128
#   avx2:   ymm peak; the AVX2 kernel on the M = 128 shapes; on hosts without AVX-512, the
#           avx512 set with the AVX2 kernel (against oneDNN's AVX2 kernels)
#   amx:    (hosts with AMX) both peaks; BERT-base encoder 1x128 and 8x128
#
#   bench/run_targets.sh [BUILD_DIR]    writes bench/results/<host>-targets-<isa>.json
# Environment: TFENC_BENCH_HOST, TFENC_BENCH_RESULTS, REPS, PYTHON (as bench/run_suite.sh).
set -eu
# shellcheck source=bench/suite_lib.sh
. "$(dirname "$0")/suite_lib.sh"
BENCH_FLAGS="--benchmark_repetitions=${REPS:-9} --benchmark_enable_random_interleaving=true"
big='(128x768x768|128x2304x768|128x3072x768|128x768x3072|512x3072x768)'
few='(1|16)x(768x768|3072x768|768x3072)'
enc='encoder/bert-base/(b1s128|b8s128)/t[12]$'
run() {
    isa=$1 filter=$2
    shift 2
    bench_run "$out/$host-targets-$isa.json" "$isa" "$filter" "$@" >/dev/null
}
for isa in avx512 avx2 amx; do
    case " $usable " in *" $isa "*) ;; *) continue ;; esac
    case $isa in
    avx512) run avx512 "^(peak/fma_zmm__avx512/|gemm/(8x48__avx512|onednn)/($big|$few)/t[12]\$|$enc)" ;;
    avx2)
        case " $usable " in
        *" avx512 "*) run avx2 "^(peak/fma_ymm__avx2/|gemm/6x16__avx2/$big/t[12]\$)" ;;
        # AVX2 is this host's best ISA: the AVX-512 set with the AVX2 kernel (oneDNN then
        # runs its AVX2 kernels too)
        *) run avx2 "^(peak/fma_ymm__avx2/|gemm/(6x16__avx2|onednn)/($big|$few)/t[12]\$|$enc)" ;;
        esac
        ;;
    amx) run amx "^(peak/(fma_zmm__avx512|bf16x3__amx)/|$enc)" ;;
    esac
done
"${PYTHON:-python3}" "$root/bench/targets.py" "$out/$host"-targets-*.json
