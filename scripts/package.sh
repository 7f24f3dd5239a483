#!/usr/bin/env bash
# Packs an evalgate binary the way releases ship it, for the action's installer:
#   OUT/evalgate-<version>-<target>.tar.gz (.zip for Windows targets), holding the binary at
#   its root, and a line for it appended to OUT/SHA256SUMS.
#
#   scripts/package.sh [--binary PATH] [--target TRIPLE] [--out DIR]
#
# Without --binary it builds a release binary for the local target first.
set -euo pipefail
cd "$(dirname "$0")/.."

binary="" target="" out="dist"
while (($#)); do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --target) target=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: scripts/package.sh [--binary PATH] [--target TRIPLE] [--out DIR]" >&2; exit 2 ;;
  esac
done
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
if [[ -z "$target" ]]; then
  target=$(rustc -vV | sed -n 's/^host: //p')
fi
if [[ -z "$binary" ]]; then
  cargo build --release --locked --target "$target"
  binary="target/$target/release/evalgate"
  [[ "$target" == *windows* ]] && binary="$binary.exe"
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
name="evalgate-$version-$target"
if [[ "$target" == *windows* ]]; then
  cp "$binary" "$stage/evalgate.exe"
  archive="$name.zip"
  (cd "$stage" && zip -q "$out/$archive" evalgate.exe)
else
  cp "$binary" "$stage/evalgate"
  chmod +x "$stage/evalgate"
  archive="$name.tar.gz"
  tar -czf "$out/$archive" -C "$stage" evalgate
fi
if command -v sha256sum >/dev/null; then
  (cd "$out" && sha256sum "$archive" >>SHA256SUMS)
else
  (cd "$out" && shasum -a 256 "$archive" >>SHA256SUMS)
fi
echo "$out/$archive"
