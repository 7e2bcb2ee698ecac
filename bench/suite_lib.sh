# shellcheck shell=sh disable=SC2034  # sets variables for the scripts that source it
# Shared by bench/run_suite.sh and bench/run_targets.sh (sourced, with the script's arguments):
# where the build, the results and the host's name are, which ISAs the build runs here, and
# bench_run, one tfenc-bench process under an ISA cap.
#   root, bin (BUILD_DIR/bench/tfenc-bench; BUILD_DIR is $1, default build), out
#   (TFENC_BENCH_RESULTS, default bench/results), host (TFENC_BENCH_HOST, default hostname -s),
#   usable (the ISAs tfenc-bench reports usable, space-separated)
me=$(basename "$0")
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$root/build"}
bin="$build/bench/tfenc-bench"
out=${TFENC_BENCH_RESULTS:-"$root/bench/results"}
host=${TFENC_BENCH_HOST:-$(hostname -s 2>/dev/null || echo host)}

if [ ! -x "$bin" ]; then
    echo "$me: $bin not found; build first: meson setup build && ninja -C build" >&2
    exit 1
fi
mkdir -p "$out"
usable=$("$bin" --tfenc_info | awk '$1 == "isa_usable" { $1 = ""; print }')

# bench_run JSON ISA FILTER [VAR=VALUE...]: the rows matching FILTER ('' for all) under
# TFENC_ISA=ISA, with those variables set and the flags in BENCH_FLAGS, into JSON. OpenBLAS
# reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when it is loaded, so they are removed from the
# environment of the process first (a machine-wide setting may slow it down otherwise).
bench_run() {
    json=$1 isa=$2 filter=$3
    shift 3
    echo "$me: TFENC_ISA=$isa -> $json" >&2
    # shellcheck disable=SC2086  # BENCH_FLAGS is a list of flags
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE TFENC_ISA="$isa" "$@" \
        "$bin" --benchmark_filter="$filter" --benchmark_out="$json" \
        --benchmark_out_format=json ${BENCH_FLAGS:-}
}
