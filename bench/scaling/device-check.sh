#!/bin/bash
# One prepared run on a borrowed x86 machine with AVX-512 (the 16-core VM): unpacks the archive
# of bench/scaling/bundle.sh and, each step under its own time limit, writes into $OUT:
#   cpu.txt      the CPU
#   tests.txt    the whole test suite (plain runner) on this CPU: the AVX-512 and AMX kernels
#                run against the oracle here, which the AVX2-only CI host cannot do
#   ab-gemm.txt  tfenc-ab-gemm (AB_IMPL, default 8x48__avx512), libs/B.so against libs/A.so,
#                both load orders, on the
#                few-rows shapes (AB_CELLS, "M N K THREADS" each; weights 400 MiB, past L3)
#   ab-libs.txt  tfenc-ab-libs, the same two builds end to end (AB_E2E, "PRESET B S T")
#   targets-avx512.json  the issue's AVX-512 rows, interleaved (REPS, default 3; the rows are
#                t1 and t<BENCH_THREADS>, default all cores; the filter keeps t1 and t2)
#   scaling.tar  bench/scaling/run.sh at THREADS (default 2): tfenc and ORT / PyTorch
#
#   OUT=... bench/scaling/device-check.sh BUNDLE.tar.xz A B
# Environment: STEPS (default "cpu tests ab-gemm ab-libs targets scaling").
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bundle=$1 A=$2 B=$3
O=${OUT:-/tmp/tfenc-device}
mkdir -p "$O"
d=$(mktemp -d)
tar -C "$d" -xJf "$bundle" || { echo "cannot unpack $bundle"; exit 1; }
export LD_LIBRARY_PATH=$d/tools:$d/lib OMP_WAIT_POLICY=passive TFENC_FIXTURES=$root/tests/fixtures
t=$d/tools
start=$(date +%s)
stamp() { echo "== $1 at +$(($(date +%s) - start)) s" | tee -a "$O/steps.txt"; }
has() { case " ${STEPS:-cpu tests ab-gemm ab-libs targets scaling} " in *" $1 "*) return 0 ;; esac; return 1; }

if has cpu; then
    stamp cpu
    { nproc; lscpu | grep -E "Model name|Socket|Core|Thread|L1d|L2|L3|NUMA node\(s\)";
      grep -o -w -E 'avx512f|avx512_bf16|avx512_vnni|amx_tile|amx_bf16' /proc/cpuinfo | sort | uniq -c;
      "$t/tfenc" info --preset bert-base 2>&1 | head -20; } > "$O/cpu.txt" 2>&1
    cat "$O/cpu.txt"
fi
if has tests; then
    stamp tests
    timeout 240 "$t/tfenc-tests-plain" > "$O/tests.txt" 2>&1
    echo "rc=$?" >> "$O/tests.txt"
    grep -E "FAIL|passed|rc=" "$O/tests.txt" | tail -15
fi
# ab NAME TOOL ARGS...: TOOL with A then B, and with B then A (the library loaded second can
# sit differently in memory): the two result lines
ab() {
    local f=$1 tool=$2 x y line
    shift 2
    for pair in "$A $B" "$B $A"; do
        read -r x y <<< "$pair"
        line=$(timeout 60 "$t/$tool" "$d/libs/$x.so" "$d/libs/$y.so" "$@" 2>&1 | tail -1)
        echo "[$x first] $*: $line" | tee -a "$O/$f"
    done
}
if has ab-gemm; then
    stamp ab-gemm
    export TFENC_AB_STREAM_MIB=400
    while read -r m n k th; do
        [ -n "$m" ] && ab ab-gemm.txt tfenc-ab-gemm "${AB_IMPL:-8x48__avx512}" "$m" "$n" "$k" "$th" 21
    done <<< "${AB_CELLS:-1 3072 768 1
1 768 3072 1
1 768 768 1
2 3072 768 1
4 3072 768 1
8 3072 768 1
8 768 3072 1
1 3072 768 2
1 768 3072 2
4 768 3072 2
8 3072 768 2}"
    unset TFENC_AB_STREAM_MIB
fi
if has ab-libs; then
    stamp ab-libs
    while read -r p b s th; do
        [ -n "$p" ] && TFENC_ISA=avx512 ab ab-libs.txt tfenc-ab-libs "$p" "$b" "$s" "$th" 15
    done <<< "${AB_E2E:-bert-base 1 1 2
minilm 1 1 2
bert-base 1 4 2}"
fi
if has targets; then
    stamp targets
    big='(128x768x768|128x2304x768|128x3072x768|128x768x3072|512x3072x768)'
    few='(1|16)x(768x768|3072x768|768x3072)'
    TFENC_ISA=avx512 timeout 300 "$t/tfenc-bench" --tfenc_threads="1,${BENCH_THREADS:-$(nproc)}" \
        --benchmark_filter="^(peak/fma_zmm__avx512/|gemm/(8x48__avx512|onednn)/($big|$few)/t[12]\$|encoder/bert-base/(b1s128|b8s128)/t[12]\$)" \
        --benchmark_repetitions="${REPS:-3}" --benchmark_enable_random_interleaving=true \
        --benchmark_out="$O/targets-avx512.json" --benchmark_out_format=json > /dev/null 2>&1
    echo "targets rc=$?"
fi
if has scaling; then
    stamp scaling
    mkdir -p "$O/scaling"
    OUT=$O/scaling TFENC_BIN=$t THREADS=${THREADS:-2} ISAS="default avx512" PEER_TIMEOUT=150 \
        timeout 240 "$here/run.sh" > "$O/scaling/log.txt" 2>&1
    tail -8 "$O/scaling/peers.csv" 2>/dev/null
    # one file back instead of six (the device tool returns at most eight)
    tar -C "$O" -cf "$O/scaling.tar" scaling && rm -rf "$O/scaling"
fi
stamp done
