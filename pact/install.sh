#!/usr/bin/env bash
# install.sh DIR: installs libpact_ffi from the npm package
# $PACT_CORE_PKG@$PACT_CORE_VERSION (exact version, no install scripts) into
# DIR/lib. Idempotent: when DIR/lib holds the library of that version it
# does nothing. Works on a fresh machine with nothing in DIR.
set -euo pipefail
dir=${1:?usage: install.sh DIR}
pkg=${PACT_CORE_PKG:-@pact-foundation/pact-core-linux-x64-glibc}
version=${PACT_CORE_VERSION:-18.1.0}
lib="$dir/lib/libpact_ffi.so"
stamp="$dir/lib/.installed"
want="$pkg@$version"

if [[ -s "$lib" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "pact: libpact_ffi from $want already in $dir/lib"
  exit 0
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "pact: $pkg ships linux-x64 (glibc) only; this is $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
rm -rf "$dir/npm" "$dir/lib"
mkdir -p "$dir/npm" "$dir/lib"
npm install --prefix "$dir/npm" --ignore-scripts --no-audit --no-fund --no-save --loglevel=error "$want" >&2
src="$dir/npm/node_modules/$pkg/prebuilds/linux-x64/libpact_ffi.so"
if [[ ! -s "$src" ]]; then
  echo "pact: $want has no prebuilds/linux-x64/libpact_ffi.so" >&2
  exit 1
fi
cp "$src" "$lib.tmp"
mv "$lib.tmp" "$lib"
echo "$want" >"$stamp"
echo "pact: installed libpact_ffi from $want into $dir/lib"
