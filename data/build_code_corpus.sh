#!/usr/bin/env bash
# Rebuild rust_code.txt (-> rust_code.txt.xz) and rust_code-NOTICE.txt from pinned crates.io packages.
#
#   bash data/build_code_corpus.sh [OUT_DIR]        (default OUT_DIR: the directory of this script)
#
# Sources: 37 crates, exact versions and the sha256 of every `.crate` file pinned in
# data/build_code_corpus.py (CRATES; the crates.io index checksums, equal to those in Cargo.lock),
# downloaded from https://static.crates.io/crates/NAME/NAME-VERSION.crate. Only their `.rs` files
# are taken, by the transform documented in build_code_corpus.py and data/PROVENANCE-code.md.
# Both outputs must have the sha256 pinned below, or this script fails and writes nothing.
#
# Needs: bash, python3 (>= 3.6, stdlib only), xz, sha256sum, and curl or wget (unless every
# crate comes from CRATE_CACHE). No root, any architecture.
# Env: CRATE_CACHE=DIR  take NAME-VERSION.crate files found in DIR instead of downloading them
#                       (e.g. ~/.cargo/registry/cache/index.crates.io-*/); they are
#                       sha256-checked exactly like downloaded ones.
#      KEEP_WORK=1      keep the temporary work directory (it is printed).
set -euo pipefail

EXPECT_SHA256=2573fc5aff3ae3d1d573498a42481824461bcb413104f328c3f51c5239b58b65   # rust_code.txt
EXPECT_BYTES=23438484
NOTICE_SHA256=c80a1bf03f74ec7cf85dd14b69cfad46b700300c3f0ad440ed8d135bcd5d4c64   # rust_code-NOTICE.txt
REF_XZ_SHA256=68a369c055ca85b4f7dc7d924838662f131864b2e481eeac22f39995bc1b3e53   # xz 5.4.1 `xz -9 -T0` (informational)

die() { echo "build_code_corpus.sh: ERROR: $*" >&2; exit 1; }
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT_DIR="${1:-$HERE}"
mkdir -p "$OUT_DIR"; OUT_DIR="$(cd "$OUT_DIR" && pwd)"
for t in python3 xz sha256sum; do command -v "$t" >/dev/null || die "missing tool: $t"; done
PY="$HERE/build_code_corpus.py"
[ -f "$PY" ] || die "missing $PY"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/rust_code.XXXXXX")"
if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir: $WORK (kept)"; else trap 'rm -rf "$WORK"' EXIT; fi
mkdir -p "$WORK/crates"

fetch() {  # url file
  if command -v curl >/dev/null; then curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null; then wget -q -O "$2" "$1"
  else die "neither curl nor wget found; set CRATE_CACHE to a directory holding the .crate files"; fi
}

echo "== crates (crates.io)"
n=0
while read -r name ver sha; do
  file="$name-$ver.crate"; dst="$WORK/crates/$file"
  if [ -n "${CRATE_CACHE:-}" ] && [ -f "$CRATE_CACHE/$file" ]; then
    cp "$CRATE_CACHE/$file" "$dst"; src="CRATE_CACHE"
  else
    fetch "https://static.crates.io/crates/$name/$file" "$dst" || die "download of $file failed"
    src="static.crates.io"
  fi
  got="$(sha256sum "$dst" | cut -d' ' -f1)"
  [ "$got" = "$sha" ] || die "sha256 mismatch for $file ($src): got $got, pinned $sha"
  echo "  ok  $sha  $file  ($src)"
  n=$((n + 1))
done < <(python3 "$PY" pins)
[ "$n" -gt 0 ] || die "no pins read from $PY"

echo "== extracting .rs files"
python3 "$PY" build "$WORK/crates" "$WORK/rust_code.txt" "$WORK/rust_code-NOTICE.txt" "$WORK/table.md"

got="$(sha256sum "$WORK/rust_code.txt" | cut -d' ' -f1)"
size="$(stat -c %s "$WORK/rust_code.txt")"
nsha="$(sha256sum "$WORK/rust_code-NOTICE.txt" | cut -d' ' -f1)"
if [ "$got" != "$EXPECT_SHA256" ] || [ "$nsha" != "$NOTICE_SHA256" ]; then
  die "the output does NOT reproduce:
  rust_code.txt         sha256 $got ($size bytes), expected $EXPECT_SHA256 ($EXPECT_BYTES bytes)
  rust_code-NOTICE.txt  sha256 $nsha, expected $NOTICE_SHA256
  Nothing was written to $OUT_DIR. Re-run with KEEP_WORK=1 to keep the work directory for inspection."
fi
echo "== sha256 OK: rust_code.txt $got ($size bytes); rust_code-NOTICE.txt $nsha"

echo "== compressing (xz -9 -T0)"
xz -9 -T0 -c "$WORK/rust_code.txt" > "$WORK/rust_code.txt.xz"
[ "$(xz -dc "$WORK/rust_code.txt.xz" | sha256sum | cut -d' ' -f1)" = "$EXPECT_SHA256" ] || die "xz round trip failed"
# Each file is moved into place only when complete (rename within OUT_DIR's file system).
cp "$WORK/rust_code.txt.xz" "$OUT_DIR/.rust_code.txt.xz.tmp" && mv -f "$OUT_DIR/.rust_code.txt.xz.tmp" "$OUT_DIR/rust_code.txt.xz"
cp "$WORK/rust_code-NOTICE.txt" "$OUT_DIR/.rust_code-NOTICE.txt.tmp" && mv -f "$OUT_DIR/.rust_code-NOTICE.txt.tmp" "$OUT_DIR/rust_code-NOTICE.txt"
xsha="$(sha256sum "$OUT_DIR/rust_code.txt.xz" | cut -d' ' -f1)"
if [ "$xsha" = "$REF_XZ_SHA256" ]; then note="byte-identical to the reference .xz"; else note="differs from the reference .xz $REF_XZ_SHA256 (fine: only the uncompressed sha256 is pinned; xz version/options differ)"; fi
echo "wrote $OUT_DIR/rust_code.txt.xz  sha256 $xsha  $(stat -c %s "$OUT_DIR/rust_code.txt.xz") bytes  -- $note"
echo "wrote $OUT_DIR/rust_code-NOTICE.txt  sha256 $nsha"
