#!/bin/bash
# kernel_ab.sh: A/B of one generated f32 kernel, an older revision (A) against the
# working tree (B), in one process (see bench/kernel_ab.c).
#   bench/kernel_ab.sh KERNEL REV N C S G nchw|nhwc units|fused|stats|units-vs-fused [unfolded]
# e.g. bench/kernel_ab.sh gnk_f32_nhwc_gn_g32c320__avx512_u4_nt_row HEAD~1 2 320 4096 32 nhwc fused
# A specialized kernel needs its own C and G. Needs build/libgnk.a (make lib); R=rounds;
# YOFF=k puts y k floats past a 64-byte line (malloc and numpy buffers: YOFF=4).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 8 ]; then sed -n '2,6p' "$0" >&2; exit 2; fi
k=$1 rev=$2; shift 2
src=generated/kernels/$k.c
[ -f "$src" ] || { echo "kernel_ab: no $src" >&2; exit 2; }
isa=$(sed -n 's/^ \*   Arguments: .* isa=\([a-z0-9]*\) .*/\1/p' "$src" | head -1)
flags=$(sed -n "s/^GNK_ISA_FLAGS_${isa^^} := //p" generated/kernels.mk)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git show "$rev:$src" > "$tmp/a.c" || { echo "kernel_ab: $k is not in $rev" >&2; exit 2; }
cc="clang -std=c11 -O3 -D_GNU_SOURCE -Iruntime/include -Iruntime -Itemplates -Igenerated $flags"
$cc -D"$k"=k_a -c "$tmp/a.c" -o "$tmp/a.o"
$cc -D"$k"=k_b -c "$src" -o "$tmp/b.o"
clang -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Iruntime/include -Iruntime -Igenerated bench/kernel_ab.c \
  "$tmp/a.o" "$tmp/b.o" build/libgnk.a -o "$tmp/kernel_ab" -lm -lpthread
"$tmp/kernel_ab" "$@"
