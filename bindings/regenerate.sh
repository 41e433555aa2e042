#!/usr/bin/env bash
# Regenerates the Java bindings from native/include/chela/chela.h and records the header's hash.
#   bindings/regenerate.sh <jextract command...>
# e.g. bindings/regenerate.sh jextract
# (jextract itself is not part of this repository; see bindings/README.md for how we ran it.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 <jextract command...>" >&2; exit 2; }
CLANG_INCLUDE="${CLANG_INCLUDE:-/usr/lib/llvm-16/lib/clang/16/include}"
rm -rf "$ROOT/bindings/src/main/java/dev/chela4j/bindings"
"$@" -I "$CLANG_INCLUDE" --target-package dev.chela4j.bindings --header-class-name chela_h \
    --output "$ROOT/bindings/src/main/java" @"$ROOT/bindings/includes.txt" "$ROOT/native/include/chela/chela.h"
sha256sum "$ROOT/native/include/chela/chela.h" | cut -d' ' -f1 > "$ROOT/bindings/chela.h.sha256"
echo "bindings regenerated; header sha256 $(cat "$ROOT/bindings/chela.h.sha256")"
