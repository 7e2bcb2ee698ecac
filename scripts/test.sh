#!/bin/sh
# The full check of tfenc on a Debian 12 machine: installs what is missing, then builds and
# tests with gcc (-Werror), ASan+UBSan, clang, the aarch64 cross build under qemu, the
# native build again under each ISA cap, and a fixed-seed fuzzing pass over the input files.
# Prints a summary; exits non-zero if any step failed.
#
# Build directories live under build-ci/ (reused between runs; TFENC_CI_CLEAN=1 wipes them),
# logs under build-ci/logs/. TFENC_CI_STEPS="gcc asan" runs only the named steps.
set -u
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
ci=$root/build-ci
logs=$ci/logs
jobs=$(nproc 2>/dev/null || echo 2)
steps=${TFENC_CI_STEPS:-"gcc asan clang arm64 setups fuzz"}
for s in $steps; do
    case $s in
    gcc | asan | clang | arm64 | setups | fuzz) ;;
    *) echo "unknown step '$s' (known: gcc asan clang arm64 setups fuzz)"; exit 2 ;;
    esac
done
mkdir -p "$logs"

# ---- dependencies -----------------------------------------------------------------------
. scripts/deps.sh
ensure_packages gcc g++ meson ninja-build pkg-config libcriterion-dev libcjson-dev \
    libbenchmark-dev libomp-dev clang gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user \
    libopenblas-dev libdnnl-dev || { echo "installing the build dependencies failed"; exit 1; }

# ---- steps --------------------------------------------------------------------------------
summary=""
failed=0

# step NAME COMMAND...: runs the command with its output in build-ci/logs/NAME.log, records
# PASS/FAIL and the time, and shows the end of the log on failure.
step() {
    name=$1
    shift
    printf '== %-28s ' "$name"
    start=$(date +%s)
    "$@" >"$logs/$name.log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    if [ $rc -eq 0 ]; then
        result=PASS
    else
        result=FAIL
        failed=$((failed + 1))
    fi
    # meson test's tally ("Ok: 11 Fail: 0 ..."), when the step ran tests.
    tally=$(grep -E '^(Ok|Fail|Skipped|Timeout): ' "$logs/$name.log" | tr -s ' ' | sed 's/ *$//' | paste -sd' ')
    echo "$result (${secs}s) $tally"
    [ $rc -eq 0 ] || { tail -n 60 "$logs/$name.log"; echo "   (full log: $logs/$name.log)"; }
    summary="$summary$(printf '%-30s %s %5ss  %s' "$name" "$result" "$secs" "$tally")
"
}

# setup DIR CC CXX OPTIONS...: configures DIR with those compilers, afresh when it holds no
# configured build or TFENC_CI_CLEAN=1.
setup() {
    dir=$1 cc=$2 cxx=$3
    shift 3
    if [ -f "$dir/meson-private/coredata.dat" ] && [ "${TFENC_CI_CLEAN:-0}" != 1 ]; then
        CC=$cc CXX=$cxx meson setup --reconfigure "$dir" "$@"
    else
        rm -rf "$dir"
        CC=$cc CXX=$cxx meson setup "$dir" "$@"
    fi
}

build_and_test() { # DIR MESON_TEST_ARGS...
    dir=$1
    shift
    ninja -C "$dir" -j "$jobs" && meson test -C "$dir" --print-errorlogs "$@"
}

# UBSan only prints unless told to stop; ASan's leak check is on by default.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1

# The aarch64 build links an arm64 cJSON, unpacked into .deps/ by scripts/arm64-sysroot.sh.
arm64() {
    if [ ! -f .deps/arm64-sysroot.ini ] || [ "${TFENC_CI_CLEAN:-0}" = 1 ]; then
        scripts/arm64-sysroot.sh || return 1
    fi
    setup "$ci/arm64" gcc g++ --cross-file cross/aarch64-linux-gnu.ini \
        --cross-file .deps/arm64-sysroot.ini -Dbenchmarks=disabled && build_and_test "$ci/arm64"
}

for s in $steps; do
    case $s in
    gcc)
        step gcc-setup setup "$ci/gcc" gcc g++ -Dbuildtype=release -Dwerror=true
        step gcc-build-test build_and_test "$ci/gcc" ;;
    asan)
        # gcc's -fsanitize=undefined leaves out float-cast-overflow (a double cast to an
        # integer type it does not fit), which input parsing must never do
        step asan-setup setup "$ci/asan" gcc g++ -Db_sanitize=address,undefined \
            -Dc_args=-fsanitize=float-cast-overflow -Dcpp_args=-fsanitize=float-cast-overflow \
            -Dbuildtype=debug -Dbenchmarks=disabled
        step asan-build-test build_and_test "$ci/asan" --timeout-multiplier 3 ;;
    clang)
        step clang-setup setup "$ci/clang" clang clang++ -Dbuildtype=release -Dwerror=true
        step clang-build-test build_and_test "$ci/clang" ;;
    arm64)
        step arm64-cross-qemu arm64 ;;
    setups)
        for isa in scalar avx2 avx512; do
            step "gcc-setup-$isa" meson test -C "$ci/gcc" --print-errorlogs --setup="$isa"
        done ;;
    fuzz) # 20,000 inputs a target from a fixed seed: the same inputs every run (scripts/fuzz.sh)
        step fuzz-inputs env FUZZ_RUNS=20000 scripts/fuzz.sh ;;
    esac
done

echo
echo "== summary"
printf '%s' "$summary"
if [ $failed -ne 0 ]; then
    echo "$failed step(s) FAILED"
    exit 1
fi
echo "all steps passed"
