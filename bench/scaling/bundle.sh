#!/bin/sh
# Packs what bench/scaling/device-check.sh needs on a machine without the build dependencies
# (the borrowed 16-core VM: no Debian packages, no network) into one archive:
#   tools/  tfenc, tfenc-bench, tfenc-ab-gemm, tfenc-ab-libs, tfenc-tests-plain (from BUILD)
#   lib/    the shared libraries they load that glibc and libstdc++ do not bring (ldd)
#   libs/   NAME.so for each LIB given (libtfenc builds for the in-process A/B; the first is
#           also tools/libtfenc.so.0, which tfenc and tfenc-bench load)
#
#   bench/scaling/bundle.sh BUILD OUT_DIR LIB...      writes OUT_DIR/bundle.tar.xz
set -eu
build=$1 out=$2
shift 2
[ $# -ge 1 ] || { echo "usage: $0 BUILD OUT_DIR LIB..." >&2; exit 2; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/tools" "$stage/lib" "$stage/libs" "$out"
for f in tfenc bench/tfenc-bench bench/ab/tfenc-ab-gemm bench/ab/tfenc-ab-libs \
    bench/ab/tfenc-thread-speedup tests/tfenc-tests-plain; do
    cp "$build/$f" "$stage/tools/"
done
cp "$1" "$stage/tools/libtfenc.so.0"
for l in "$@"; do cp "$l" "$stage/libs/"; done
# every library ldd resolves outside the C and C++ runtimes (which the target has, newer)
for f in "$stage"/tools/*; do
    ldd "$f" 2>/dev/null | awk '$3 ~ /^\// { print $3 }'
done | sort -u | grep -v -E '/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt)\.so' |
    grep -v "$stage" | while read -r l; do cp -L "$l" "$stage/lib/"; done
tar -C "$stage" -cJf "$out/bundle.tar.xz" tools lib libs
ls -la "$out/bundle.tar.xz"
