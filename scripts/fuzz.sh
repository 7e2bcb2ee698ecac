#!/bin/sh
# Fuzzes what tfenc reads from users' files (tests/fuzz/fuzz_inputs.c): model.safetensors
# (whole, and its JSON header alone), config.json and .npy inputs, each target for SECONDS (default 60) with libFuzzer under
# ASan + UBSan (clang), seeded with the test fixtures. Exits non-zero when a target found a
# crash or a sanitizer report; the input that did it is left in build-fuzz/crashes/.
#   scripts/fuzz.sh [SECONDS] [TARGET...]     targets: weights header config npy (default: all)
# FUZZ_RUNS=N instead runs N inputs per target from a fixed seed: the same inputs on every run
# of the same build, which is how CI runs it (scripts/test.sh, step fuzz).
set -u
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-"weights header config npy"}
out=$root/build-fuzz
fixture=$root/tests/fixtures/post_relu_sin

. scripts/deps.sh
ensure_packages clang meson ninja-build pkg-config libcjson-dev ||
    { echo "installing the fuzzing dependencies failed"; exit 1; }

mkdir -p "$out/crashes"
# The library as a static archive with coverage for libFuzzer and the sanitizers, except in the
# ISA kernels (tests/fuzz/ignorelist.txt): the targets run the scalar ones.
ignore=$root/tests/fuzz/ignorelist.txt
if [ ! -f "$out/lib/meson-private/coredata.dat" ]; then
    CC=clang CXX=clang++ meson setup "$out/lib" -Ddefault_library=static \
        -Db_sanitize=address,undefined \
        -Dc_args="-fsanitize=fuzzer-no-link -fsanitize-ignorelist=$ignore -fsanitize-coverage-ignorelist=$ignore" \
        -Dbuildtype=debugoptimized -Dtests=disabled -Dbenchmarks=disabled -Dopenmp=disabled \
        >"$out/setup.log" 2>&1 || { cat "$out/setup.log"; exit 1; }
fi
ninja -C "$out/lib" libtfenc.a libtfenc_npy.a >/dev/null || exit 1

export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
failed=0
for t in $targets; do
    case $t in
    weights) def=FUZZ_WEIGHTS max=100000 seeds="$fixture/model.safetensors" ;;
    header) def=FUZZ_HEADER max=16384 seeds="$out/seed-header.json"
        # the fixture's header: the 8-byte little-endian length, then that many bytes
        hlen=$(od -An -tu8 -N8 "$fixture/model.safetensors" | tr -d ' ')
        tail -c +9 "$fixture/model.safetensors" | head -c "$hlen" >"$out/seed-header.json" ;;
    config) def=FUZZ_CONFIG max=4096 seeds="$root/tests/fixtures/*/config.json" ;;
    npy) def=FUZZ_NPY max=4096 seeds="$root/tests/fixtures/*/ids.npy $root/tests/fixtures/*/lengths.npy" ;;
    *) echo "unknown target '$t' (known: weights header config npy)"; exit 2 ;;
    esac
    bin=$out/fuzz-$t
    clang -g -O1 -fsanitize=fuzzer,address,undefined -I"$root/include" -D$def \
        -DFUZZ_FIXTURE="\"$fixture\"" tests/fuzz/fuzz_inputs.c "$out/lib/libtfenc_npy.a" \
        "$out/lib/libtfenc.a" -lcjson -lm -o "$bin" || exit 1
    corpus=$out/corpus-$t
    # a fixed-seed run starts from the seeds alone (a timed run keeps what earlier ones found)
    [ -n "${FUZZ_RUNS:-}" ] && rm -rf "$corpus"
    mkdir -p "$corpus"
    for s in $seeds; do cp "$s" "$corpus/$(echo "$s" | tr / _)"; done
    if [ -n "${FUZZ_RUNS:-}" ]; then
        budget="-runs=$FUZZ_RUNS -seed=1"
        printf '== %-8s %s inputs ... ' "$t" "$FUZZ_RUNS"
    else
        budget="-max_total_time=$secs"
        printf '== %-8s %ss ... ' "$t" "$secs"
    fi
    # shellcheck disable=SC2086  # $budget is two flags or one
    if "$bin" $budget -max_len=$max -timeout=20 -rss_limit_mb=4096 \
        -artifact_prefix="$out/crashes/$t-" "$corpus" >"$out/$t.log" 2>&1; then
        echo "no crash: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$out/$t.log")"
    else
        echo "FOUND A CRASH:"
        grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$out/$t.log" | head -8
        failed=$((failed + 1))
    fi
done
exit $failed
