#!/bin/bash
# CLI tests (TAP): `tfenc encode` on every fixture, bad inputs that must fail cleanly, and the
# info and bench commands. Usage: test_cli.sh TFENC NPY_COMPARE FIXTURES_DIR
set -u
tfenc=$1 compare=$2 fixtures=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tfenc-cli-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1)) failed=$((failed + 1))
    echo "not ok $n - $1"
    shift
    for line in "$@"; do echo "# $line"; done
}

# Runs tfenc with the given arguments; leaves stdout, stderr and the status in $tmp/{out,err}
# and $status.
run() {
    "$tfenc" "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    status=$?
}

# check_encode NAME DIR ARGS...: encode must succeed and match expected.npy within 1e-4,
# with padded rows exactly 0.
check_encode() {
    local name=$1 dir=$2
    shift 2
    rm -f "$tmp/out.npy"
    run encode --model "$dir" --ids "$dir/ids.npy" --out "$tmp/out.npy" "$@"
    if [ $status -ne 0 ]; then
        not_ok "$name" "exit status $status" "$(cat "$tmp/stderr")"
    elif ! "$compare" "$tmp/out.npy" "$dir/expected.npy" 1e-4 "$dir/lengths.npy" \
            >"$tmp/compare" 2>&1; then
        not_ok "$name" "$(cat "$tmp/compare")"
    else
        ok "$name: $(cat "$tmp/compare")"
    fi
}

# check_rejected NAME ARGS...: must exit non-zero with exactly one line on stderr, and leave no
# output file (nor a temporary one) behind.
check_rejected() {
    local name=$1
    shift
    rm -f "$tmp/out/"*
    run "$@"
    local lines
    lines=$(wc -l <"$tmp/stderr")
    if [ $status -eq 0 ]; then
        not_ok "$name" "exit status 0 for a bad input"
    elif [ "$lines" -ne 1 ]; then
        not_ok "$name" "stderr has $lines lines, expected 1:" "$(cat "$tmp/stderr")"
    elif [ -n "$(ls -A "$tmp/out")" ]; then
        not_ok "$name" "left files behind: $(ls -A "$tmp/out")"
    else
        ok "$name: $(cat "$tmp/stderr")"
    fi
}

# Little-endian integer of N bytes at OFFSET of FILE; VALUE as N little-endian bytes written
# as printf escapes (two's complement, so -1 works); overwriting an int64 inside a file.
read_le() { od -An -tu"$3" -j"$2" -N"$3" "$1" | tr -d ' '; }
le_escapes() {
    local out="" i
    for ((i = 0; i < $2; i++)); do out+=$(printf '\\%03o' $((($1 >> (8 * i)) & 255))); done
    printf '%s' "$out"
}
write_i64() { printf "$(le_escapes "$3" 8)" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
data_offset() { echo $((10 + $(read_le "$1" 8 2))); } # .npy v1: magic, version, header length

# ---- encode on every fixture ----
for dir in "$fixtures"/*/; do
    dir=${dir%/}
    [ -f "$dir/expected.npy" ] || continue
    name=$(basename "$dir")
    check_encode "encode $name" "$dir" --lengths "$dir/lengths.npy"
    check_encode "encode $name, 2 threads" "$dir" --lengths "$dir/lengths.npy" --threads 2
done

# ---- sentence embeddings: encode --pool against the fixtures' PyTorch hidden states pooled ----
for dir in "$fixtures"/*/; do
    dir=${dir%/}
    [ -f "$dir/expected.npy" ] || continue
    name=$(basename "$dir")
    for pool in mean cls mean-normalized cls-normalized; do
        flags=(--pool "${pool%-normalized}")
        [ "$pool" = "${pool%-normalized}" ] || flags+=(--normalize)
        rm -f "$tmp/pooled.npy"
        run encode --model "$dir" --ids "$dir/ids.npy" --lengths "$dir/lengths.npy" \
            --out "$tmp/pooled.npy" --threads 2 "${flags[@]}"
        if [ $status -ne 0 ]; then
            not_ok "encode $name ${flags[*]}" "exit status $status" "$(cat "$tmp/stderr")"
        elif ! "$compare" "$tmp/pooled.npy" "$dir/expected.npy" 1e-4 "$dir/lengths.npy" "$pool" \
                >"$tmp/compare" 2>&1; then
            not_ok "encode $name ${flags[*]}" "$(cat "$tmp/compare")"
        else
            ok "encode $name ${flags[*]}: $(cat "$tmp/compare")"
        fi
    done
done

# ---- encode in parts, streamed into the output (--max-tokens 1: parts of whole sequences
# holding 64 tokens, so one sequence a call from 64 tokens up): the same bytes as one call
# (the determinism guarantee, through the CLI) ----
for dir in "$fixtures"/*/; do
    dir=${dir%/}
    [ -f "$dir/expected.npy" ] || continue
    name=$(basename "$dir")
    for pool in "" mean; do
        flags=(--lengths "$dir/lengths.npy" --threads 2)
        [ -z "$pool" ] || flags+=(--pool "$pool" --normalize)
        rm -f "$tmp/whole.npy" "$tmp/parts.npy"
        run encode --model "$dir" --ids "$dir/ids.npy" --out "$tmp/whole.npy" "${flags[@]}"
        s1=$status
        run encode --model "$dir" --ids "$dir/ids.npy" --out "$tmp/parts.npy" "${flags[@]}" \
            --max-tokens 1
        if [ $s1 -ne 0 ] || [ $status -ne 0 ]; then
            not_ok "encode $name ${pool:+--pool $pool }with --max-tokens 1" "exit status $s1 / $status" \
                "$(cat "$tmp/stderr")"
        elif ! cmp -s "$tmp/whole.npy" "$tmp/parts.npy"; then
            not_ok "encode $name ${pool:+--pool $pool }with --max-tokens 1" "output differs from one call"
        else
            ok "encode $name ${pool:+--pool $pool }with --max-tokens 1: same bytes as one call"
        fi
    done
done

# ids as a 1-d [S] array: one sequence of full length (dhead80 has ids [1,5], length 5).
cp "$fixtures/dhead80/ids.npy" "$tmp/ids_1d.npy"
at=$(grep -obUa "(1, 5)" "$tmp/ids_1d.npy" | head -1 | cut -d: -f1)
printf '(5,)  ' | dd of="$tmp/ids_1d.npy" bs=1 seek="$at" conv=notrunc status=none
rm -f "$tmp/out.npy"
run encode --model "$fixtures/dhead80" --ids "$tmp/ids_1d.npy" --out "$tmp/out.npy"
if [ $status -eq 0 ] && "$compare" "$tmp/out.npy" "$fixtures/dhead80/expected.npy" 1e-4 \
        >"$tmp/compare" 2>&1; then
    ok "encode with 1-d ids: $(cat "$tmp/compare")"
else
    not_ok "encode with 1-d ids" "exit status $status" "$(cat "$tmp/stderr" "$tmp/compare" 2>/dev/null)"
fi

# ids as int32: dhead80's int64 ids [1,5] rewritten as '<i4' (same header length, 4-byte data).
hdr=$(data_offset "$fixtures/dhead80/ids.npy")
{
    head -c "$hdr" "$fixtures/dhead80/ids.npy" | sed "s/'<i8'/'<i4'/"
    for v in $(od -An -td8 -j"$hdr" "$fixtures/dhead80/ids.npy"); do
        printf "$(le_escapes "$v" 4)"
    done
} >"$tmp/ids_i32.npy"
rm -f "$tmp/out.npy"
run encode --model "$fixtures/dhead80" --ids "$tmp/ids_i32.npy" --lengths "$fixtures/dhead80/lengths.npy" --out "$tmp/out.npy"
if [ $status -eq 0 ] && "$compare" "$tmp/out.npy" "$fixtures/dhead80/expected.npy" 1e-4 \
        >"$tmp/compare" 2>&1; then
    ok "encode with int32 ids: $(cat "$tmp/compare")"
else
    not_ok "encode with int32 ids" "exit status $status" "$(cat "$tmp/stderr" "$tmp/compare" 2>/dev/null)"
fi

# ---- bad inputs (all against post_relu_sin: vocab 61, ids int64 [2,9]) ----
base=$fixtures/post_relu_sin
mkdir -p "$tmp/out" "$tmp/bad"
out=$tmp/out/out.npy
ids=$base/ids.npy lens=$base/lengths.npy

cp "$ids" "$tmp/bad/float_ids.npy"
at=$(grep -obUa "<i8" "$tmp/bad/float_ids.npy" | head -1 | cut -d: -f1)
printf '<f4' | dd of="$tmp/bad/float_ids.npy" bs=1 seek="$at" conv=notrunc status=none
check_rejected "ids of dtype float32" encode --model "$base" --ids "$tmp/bad/float_ids.npy" --out "$out"

head -c 100 "$ids" >"$tmp/bad/short_header.npy"
check_rejected "ids .npy cut inside the header" encode --model "$base" --ids "$tmp/bad/short_header.npy" --out "$out"

size=$(wc -c <"$ids")
head -c $((size - 4)) "$ids" >"$tmp/bad/short_data.npy"
check_rejected "ids .npy cut inside the data" encode --model "$base" --ids "$tmp/bad/short_data.npy" --out "$out"

# a header claiming 41 G elements (what the fuzzer found) in a file of a few hundred bytes: the
# same one-line error as any truncated file, before any allocation
sed 's/(2, 9), }          /(2, 20500000000), }/' "$ids" >"$tmp/bad/huge_shape.npy"
check_rejected "ids header claiming 41 G elements" encode --model "$base" --ids "$tmp/bad/huge_shape.npy" --out "$out"
grep -q truncated "$tmp/stderr" || not_ok "ids header claiming 41 G elements: says truncated" "$(cat "$tmp/stderr")"

printf 'not a numpy file at all' >"$tmp/bad/garbage.npy"
check_rejected "ids file that is not .npy" encode --model "$base" --ids "$tmp/bad/garbage.npy" --out "$out"

check_rejected "ids file missing" encode --model "$base" --ids "$tmp/bad/none.npy" --out "$out"

check_rejected "model directory missing" encode --model "$tmp/no-such-model" --ids "$ids" --out "$out"
check_rejected "--pool with an unknown mode" encode --model "$base" --ids "$ids" --out "$out" --pool max
check_rejected "--normalize without --pool" encode --model "$base" --ids "$ids" --out "$out" --normalize
check_rejected "--pool on bench" bench --preset minilm --pool mean
check_rejected "--max-tokens 0" encode --model "$base" --ids "$ids" --out "$out" --max-tokens 0
check_rejected "--max-tokens on bench" bench --preset minilm --max-tokens 64

cp "$ids" "$tmp/bad/id_vocab.npy"
write_i64 "$tmp/bad/id_vocab.npy" $(($(data_offset "$ids") + 8 * 3)) 61
check_rejected "token id equal to vocab_size" encode --model "$base" --ids "$tmp/bad/id_vocab.npy" --out "$out"

cp "$ids" "$tmp/bad/id_negative.npy"
write_i64 "$tmp/bad/id_negative.npy" $(($(data_offset "$ids") + 8 * 10)) -1
check_rejected "token id -1" encode --model "$base" --ids "$tmp/bad/id_negative.npy" --out "$out"

# in parts, the message still names the sequence by its index in the file (checked up front)
check_rejected "token id -1, encoded in parts" encode --model "$base" \
    --ids "$tmp/bad/id_negative.npy" --out "$out" --max-tokens 1
if grep -q '\[1\]\[1\]' "$tmp/stderr"; then
    ok "token id -1 in parts: named at [1][1]"
else
    not_ok "token id -1 in parts: named at [1][1]" "$(cat "$tmp/stderr")"
fi

cp "$ids" "$tmp/bad/id_huge.npy"
write_i64 "$tmp/bad/id_huge.npy" "$(data_offset "$ids")" $((1 << 40))
check_rejected "token id 2^40 (beyond int32)" encode --model "$base" --ids "$tmp/bad/id_huge.npy" --out "$out"

cp "$lens" "$tmp/bad/len_long.npy"
write_i64 "$tmp/bad/len_long.npy" "$(data_offset "$lens")" 10
check_rejected "length longer than the sequence" encode --model "$base" --ids "$ids" --lengths "$tmp/bad/len_long.npy" --out "$out"

cp "$lens" "$tmp/bad/len_zero.npy"
write_i64 "$tmp/bad/len_zero.npy" "$(($(data_offset "$lens") + 8))" 0
check_rejected "length 0" encode --model "$base" --ids "$ids" --lengths "$tmp/bad/len_zero.npy" --out "$out"

check_rejected "lengths for another batch size" encode --model "$base" --ids "$ids" --lengths "$fixtures/pre_gelu_learned_norm/lengths.npy" --out "$out"

check_rejected "lengths given as a 2-d array" encode --model "$base" --ids "$ids" --lengths "$ids" --out "$out"

check_rejected "output directory missing" encode --model "$base" --ids "$ids" --out "$tmp/out/none/out.npy"

check_rejected "encode without --out" encode --model "$base" --ids "$ids"

check_rejected "unknown option" encode --model "$base" --ids "$ids" --out "$out" --fast

check_rejected "--threads not a number" encode --model "$base" --ids "$ids" --out "$out" --threads two

# ---- info and bench ----
run info
keys_missing=""
for key in "tfenc " "cpu:" "isa:" "caches:" "openmp:" "kernels:" "model:"; do
    grep -q "^$key" "$tmp/stdout" || keys_missing+=" '$key'"
done
if [ $status -ne 0 ] || [ -n "$keys_missing" ]; then
    not_ok "info" "exit status $status, missing lines:$keys_missing" "$(cat "$tmp/stdout" "$tmp/stderr")"
else
    ok "info"
fi

run info --model "$base"
if [ $status -eq 0 ] && grep -q "d_model 32, heads 4, d_ff 64, layers 2" "$tmp/stdout"; then
    ok "info --model"
else
    not_ok "info --model" "exit status $status" "$(cat "$tmp/stdout" "$tmp/stderr")"
fi

# The GEMM a session of the given size runs: on a model that runs AMX, a 16-token session keeps
# the AVX-512 kernel and a 128-token one runs AMX; elsewhere both run the model's kernel.
run info --model "$base" --batch 1 --seq 16
small=$(sed -n 's/^session gemm for batch 1 x seq 16: //p' "$tmp/stdout")
model_gemm=$(sed -n 's/^kernels: .*; gemm \([^;]*\);.*/\1/p' "$tmp/stdout")
run info --model "$base" --batch 2 --seq 64
large=$(sed -n 's/^session gemm for batch 2 x seq 64: //p' "$tmp/stdout")
case "$model_gemm" in
*__amx) want_small="*__avx512" ;;
*) want_small="$model_gemm" ;;
esac
# shellcheck disable=SC2254  # want_small is a pattern on purpose
case "$small" in
$want_small) small_ok=1 ;;
*) small_ok=0 ;;
esac
if [ -n "$model_gemm" ] && [ "$large" = "$model_gemm" ] && [ "$small_ok" = 1 ]; then
    ok "info names the GEMM of a session by size"
else
    not_ok "info names the GEMM of a session by size" \
        "model gemm '$model_gemm', 1x16 session '$small', 2x64 session '$large'"
fi

# info --threads: the workspace of a session on that team (per-thread scratch grows with it)
run info --model "$base" --threads 1
ws1=$(sed -n 's/^session workspace for batch 1 x seq 128 on 1 thread: \([0-9.]*\) MiB.*/\1/p' "$tmp/stdout")
run info --model "$base" --threads 3
ws3=$(sed -n 's/^session workspace for batch 1 x seq 128 on 3 threads: \([0-9.]*\) MiB.*/\1/p' "$tmp/stdout")
if [ -n "$ws1" ] && [ -n "$ws3" ] && awk -v a="$ws1" -v b="$ws3" 'BEGIN { exit !(b > a) }'; then
    ok "info --threads sizes the session's workspace for that team"
else
    not_ok "info --threads sizes the session's workspace for that team" \
        "1 thread '$ws1' MiB, 3 threads '$ws3' MiB" "$(cat "$tmp/stdout" "$tmp/stderr")"
fi

TFENC_ISA=scalar run info --model "$base"
if [ $status -eq 0 ] && grep -q "^kernels: isa scalar; gemm [^ ]*__scalar; attention [^ ]*__scalar; layernorm [^ ]*__scalar" "$tmp/stdout"; then
    ok "TFENC_ISA=scalar selects scalar kernels"
else
    not_ok "TFENC_ISA=scalar selects scalar kernels" "$(cat "$tmp/stdout" "$tmp/stderr")"
fi

TFENC_ISA=bogus run info --model "$base"
if [ $status -eq 0 ] && grep -q "TFENC_ISA" "$tmp/stderr"; then
    ok "unknown TFENC_ISA warns and is ignored"
else
    not_ok "unknown TFENC_ISA warns and is ignored" "exit status $status" "$(cat "$tmp/stderr")"
fi

run bench --preset minilm --seq 16 --iters 3 --json
keys_missing=""
for key in p50_ms p99_ms tokens_per_s gflops peak_pct isa threads batch seq; do
    grep -q "\"$key\": *[^,}]" "$tmp/stdout" || keys_missing+=" $key"
done
if [ $status -ne 0 ] || [ -n "$keys_missing" ] || [ "$(wc -l <"$tmp/stdout")" -ne 1 ] ||
        ! grep -q '"seq": 16[,}]' "$tmp/stdout"; then
    not_ok "bench --json" "exit status $status, missing keys:$keys_missing" "$(cat "$tmp/stdout" "$tmp/stderr")"
else
    ok "bench --json"
fi

# bench prints progress on stderr before it fails, so only the last line is the error.
run bench --preset no-such-model --iters 1
if [ $status -ne 0 ] && tail -n 1 "$tmp/stderr" | grep -q "error: .*no-such-model"; then
    ok "bench with an unknown preset: $(tail -n 1 "$tmp/stderr")"
else
    not_ok "bench with an unknown preset" "exit status $status" "$(cat "$tmp/stderr")"
fi

run bench --help
if [ $status -eq 0 ] && grep -q "^usage:" "$tmp/stdout" && grep -q "tfenc bench" "$tmp/stdout"; then
    ok "bench --help prints the usage"
else
    not_ok "bench --help prints the usage" "exit status $status" "$(cat "$tmp/stdout" "$tmp/stderr")"
fi

echo "1..$n"
[ $failed -eq 0 ]
