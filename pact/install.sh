#!/usr/bin/env bash
# install.sh DIR lib|cli: installs a pinned Pact artefact from npm (exact
# version, no install scripts) into DIR. Idempotent: when DIR holds the
# artefact of that version it does nothing; a broken one (an empty file, as
# pact-go's own downloader leaves behind) is replaced. Works on a fresh
# machine with nothing in DIR.
#   lib  libpact_ffi from $PACT_CORE_PKG@$PACT_CORE_VERSION into DIR/lib
#   cli  the official Pact CLI (its standalone "pact" binary, whose
#        "pact verifier" is the Rust verifier) from
#        $PACT_CLI_PKG@$PACT_CLI_VERSION into DIR/bin/pact
set -euo pipefail
dir=${1:?usage: install.sh DIR lib|cli}
what=${2:?usage: install.sh DIR lib|cli}

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64 ;;
  *) platform="" ;;
esac
case "$what" in
  lib)
    pkg=${PACT_CORE_PKG:-@pact-foundation/pact-core-linux-x64-glibc}
    version=${PACT_CORE_VERSION:-18.1.0}
    name=libpact_ffi out="$dir/lib" file=libpact_ffi.so
    # The package is the platform's own: one package to install.
    pkgs=("$pkg@$version") src="node_modules/$pkg/prebuilds/linux-x64/libpact_ffi.so"
    ;;
  cli)
    pkg=${PACT_CLI_PKG:-@pact-foundation/pact-cli}
    version=${PACT_CLI_VERSION:-18.1.2}
    name="the Pact CLI" out="$dir/bin" file=pact
    # The platform binary is an optional dependency of $pkg, pinned by it
    # to the same version; ask for it by its exact version too.
    pkgs=("$pkg@$version" "$pkg-$platform@$version") src="node_modules/$pkg-$platform/standalone/pact"
    ;;
  *) echo "pact: install.sh: unknown artefact \"$what\" (want lib or cli)" >&2; exit 2 ;;
esac
want="$pkg@$version"
stamp="$out/.installed"

if [[ -s "$out/$file" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "pact: $name from $want already in $out"
  exit 0
fi
if [[ -z "$platform" ]]; then
  echo "pact: $pkg ships linux-x64 (glibc) only; this is $(uname -s)-$(uname -m)" >&2
  exit 1
fi
npmdir="$dir/npm-$what"
rm -rf "$npmdir" "$out"
mkdir -p "$npmdir" "$out"
npm install --prefix "$npmdir" --ignore-scripts --no-audit --no-fund --no-save --loglevel=error "${pkgs[@]}" >&2
if [[ ! -s "$npmdir/$src" ]]; then
  echo "pact: $want has no $src" >&2
  exit 1
fi
cp "$npmdir/$src" "$out/$file.tmp"
chmod +x "$out/$file.tmp"
mv "$out/$file.tmp" "$out/$file"
echo "$want" >"$stamp"
echo "pact: installed $name from $want into $out"
