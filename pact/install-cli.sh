#!/usr/bin/env bash
# install-cli.sh DIR: installs the official Pact CLI (its standalone
# "pact" binary, whose "pact verifier" is the Rust verifier) from the npm
# package $PACT_CLI_PKG@$PACT_CLI_VERSION (exact version, no install
# scripts) into DIR/bin/pact. Idempotent, like install.sh.
set -euo pipefail
dir=${1:?usage: install-cli.sh DIR}
pkg=${PACT_CLI_PKG:-@pact-foundation/pact-cli}
version=${PACT_CLI_VERSION:-18.1.2}
bin="$dir/bin/pact"
stamp="$dir/bin/.installed"
want="$pkg@$version"

if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "pact: the Pact CLI $want already in $dir/bin"
  exit 0
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64 ;;
  *) echo "pact: install-cli.sh supports linux-x64 only; this is $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac
rm -rf "$dir/cli-npm" "$dir/bin"
mkdir -p "$dir/cli-npm" "$dir/bin"
# The platform binary is an optional dependency of $pkg, pinned by it to
# the same version; ask for it by its exact version too.
npm install --prefix "$dir/cli-npm" --ignore-scripts --no-audit --no-fund --no-save --loglevel=error \
  "$want" "$pkg-$platform@$version" >&2
src="$dir/cli-npm/node_modules/$pkg-$platform/standalone/pact"
if [[ ! -s "$src" ]]; then
  echo "pact: $want has no standalone/pact for $platform" >&2
  exit 1
fi
cp "$src" "$bin.tmp"
chmod +x "$bin.tmp"
mv "$bin.tmp" "$bin"
echo "$want" >"$stamp"
echo "pact: installed the Pact CLI $want into $dir/bin"
