#!/usr/bin/env bash
# Installs evalgate for the GitHub Actions runner.
#
# The release archive for the runner's OS and architecture is downloaded and checked against
# the SHA-256 sum pinned in action/checksums.txt (a release that was tampered with cannot
# swap the archive and its sum together), then kept in the runner's tool cache. When no
# pinned archive matches, evalgate is built from the action's own source with
# `cargo install --locked`.
#
# Inputs (environment): INPUT_VERSION, RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, GITHUB_PATH,
# GITHUB_ACTION_PATH, and optionally RUNNER_TOOL_CACHE and EVALGATE_DOWNLOAD_BASE (a mirror:
# an https URL or a local directory laid out like the releases page).
set -euo pipefail

# Where releases are published: $RELEASES/v<version>/evalgate-<version>-<target>.tar.gz
RELEASES="https://github.com/evalgate/evalgate/releases/download"

fail() {
  echo "::error title=evalgate install::$1"
  exit 1
}

version="${INPUT_VERSION:-}"
if [[ ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]]; then
  fail "the version input must be a release version such as 0.1.0"
fi
: "${RUNNER_TEMP:?}" "${GITHUB_PATH:?}" "${GITHUB_ACTION_PATH:?}"

case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
  Linux/X64) target=x86_64-unknown-linux-musl ext=tar.gz ;;
  Linux/ARM64) target=aarch64-unknown-linux-musl ext=tar.gz ;;
  macOS/X64) target=x86_64-apple-darwin ext=tar.gz ;;
  macOS/ARM64) target=aarch64-apple-darwin ext=tar.gz ;;
  Windows/X64) target=x86_64-pc-windows-msvc ext=zip ;;
  *) target="" ext="" ;;
esac
exe=evalgate
[[ "$target" == *windows* ]] && exe=evalgate.exe

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

archive="evalgate-$version-$target.$ext"
expected=""
if [[ -n "$target" ]]; then
  expected=$(awk -v name="$archive" '$2 == name || $2 == "*" name { print $1; exit }' \
    "$GITHUB_ACTION_PATH/action/checksums.txt")
fi

if [[ -z "$expected" ]]; then
  echo "::notice title=evalgate install::no pinned release archive for evalgate $version on ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}; building it from the action's source (this takes a few minutes)"
  command -v cargo >/dev/null 2>&1 || fail "building evalgate from source needs a Rust toolchain (cargo); add a setup step for Rust, or use a version with a release archive for this runner"
  cargo install --locked --quiet --path "$GITHUB_ACTION_PATH" --root "$RUNNER_TEMP/evalgate"
  echo "$RUNNER_TEMP/evalgate/bin" >>"$GITHUB_PATH"
  exit 0
fi

dir="${RUNNER_TOOL_CACHE:-$RUNNER_TEMP}/evalgate/$version/$target"
if [[ -x "$dir/$exe" && -f "$dir/.sha256" && "$(cat "$dir/.sha256")" == "$expected" ]]; then
  echo "evalgate $version from the tool cache ($dir)"
  echo "$dir" >>"$GITHUB_PATH"
  exit 0
fi

tmp=$(mktemp -d "$RUNNER_TEMP/evalgate-download.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
base="${EVALGATE_DOWNLOAD_BASE:-$RELEASES}"
if [[ "$base" == https://* ]]; then
  curl --proto '=https' --tlsv1.2 -fsSL --retry 5 -o "$tmp/$archive" "$base/v$version/$archive" ||
    fail "could not download $base/v$version/$archive"
elif [[ -d "$base" ]]; then
  cp "$base/v$version/$archive" "$tmp/$archive" || fail "no $archive under $base/v$version"
else
  fail "EVALGATE_DOWNLOAD_BASE must be an https URL or a directory"
fi

actual=$(sha256 "$tmp/$archive")
if [[ "$actual" != "$expected" ]]; then
  fail "checksum mismatch for $archive: expected $expected (pinned in action/checksums.txt), got $actual; refusing to run it"
fi

mkdir -p "$dir"
if [[ "$ext" == zip ]]; then
  unzip -q -o "$tmp/$archive" -d "$tmp/x"
else
  mkdir -p "$tmp/x" && tar -xzf "$tmp/$archive" -C "$tmp/x"
fi
[[ -f "$tmp/x/$exe" ]] || fail "$archive holds no $exe at its root"
cp "$tmp/x/$exe" "$dir/$exe"
chmod +x "$dir/$exe"
echo "$expected" >"$dir/.sha256"
echo "evalgate $version installed in $dir"
echo "$dir" >>"$GITHUB_PATH"
