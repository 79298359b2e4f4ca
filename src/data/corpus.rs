//! Streaming corpus reader: plain or `.xz` text, cut into newline-aligned
//! blocks (a line longer than a block is cut at a UTF-8 character boundary).
//! Blocks are the unit of the fixed train/validation split, so the split never
//! depends on the tokenizer or on memory size.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Largest block; a block ends at the last newline before its size.
pub const BLOCK_BYTES: usize = 64 * 1024;
const MIN_BLOCK_BYTES: usize = 512;

/// Block size for a file of `file_len` bytes on disk: 64 KiB, or a smaller power
/// of two for small files so there are ~100+ blocks and a validation split exists.
pub fn block_bytes_for(file_len: u64) -> usize {
    let target = (file_len / 100).max(1) as usize;
    let pow2 = 1usize << (usize::BITS - 1 - target.leading_zeros());
    pow2.clamp(MIN_BLOCK_BYTES, BLOCK_BYTES)
}
/// Block `i` goes to validation iff `i % VAL_EVERY == VAL_EVERY - 1` (5%).
pub const VAL_EVERY: u64 = 20;

pub fn is_val_block(i: u64) -> bool {
    i % VAL_EVERY == VAL_EVERY - 1
}

/// Human description of the split, stored in meta.json.
pub fn split_rule(block_bytes: usize) -> String {
    format!(
        "corpus cut into newline-aligned blocks of <= {block_bytes} bytes (64 KiB, smaller for files under 6.4 MB; a line longer than a block is cut at a UTF-8 character boundary); block i is validation iff i % {VAL_EVERY} == {}",
        VAL_EVERY - 1
    )
}

pub struct CorpusReader {
    path: PathBuf,
    inner: Box<dyn Read + Send>,
    carry: Vec<u8>,
    eof: bool,
    pub block_bytes: usize,
    /// Uncompressed bytes handed out so far.
    pub bytes_read: u64,
    pub blocks_read: u64,
    /// NUL bytes met after the first block (kept: byte-level BPE encodes them).
    pub stray_nuls: u64,
    /// Bytes consumed from the file on disk (compressed for .xz): drives progress bars.
    pub file_pos: Arc<AtomicU64>,
}

/// Counts the bytes pulled from the underlying file.
struct Counting<R> {
    inner: R,
    pos: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl CorpusReader {
    pub fn open(path: &Path) -> Result<Self> {
        let f =
            File::open(path).with_context(|| format!("corpus {}: cannot open", path.display()))?;
        let file_pos = Arc::new(AtomicU64::new(0));
        let f = BufReader::with_capacity(
            1 << 20,
            Counting {
                inner: f,
                pos: file_pos.clone(),
            },
        );
        let inner: Box<dyn Read + Send> = if path.extension().is_some_and(|e| e == "xz") {
            Box::new(xz2::read::XzDecoder::new(f))
        } else {
            Box::new(f)
        };
        let block_bytes = block_bytes_for(Self::file_len(path));
        Ok(CorpusReader {
            path: path.to_path_buf(),
            inner,
            carry: Vec::new(),
            eof: false,
            block_bytes,
            bytes_read: 0,
            blocks_read: 0,
            stray_nuls: 0,
            file_pos,
        })
    }

    /// Size on disk (compressed for .xz), for progress bars.
    pub fn file_len(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    /// The next block of text, or `None` at the end. Errors on binary or
    /// non-UTF-8 input name the file and the byte offset.
    pub fn next_block(&mut self) -> Result<Option<String>> {
        self.fill(self.block_bytes)?;
        if self.carry.is_empty() {
            if self.blocks_read == 0 {
                bail!("corpus {}: empty file", self.path.display());
            }
            return Ok(None);
        }
        let window = self.carry.len().min(self.block_bytes);
        let cut = if self.eof && self.carry.len() <= self.block_bytes {
            self.carry.len()
        } else {
            match self.carry[..window].iter().rposition(|&b| b == b'\n') {
                Some(p) => p + 1,
                None => self.char_boundary_cut(window)?,
            }
        };
        let rest = self.carry.split_off(cut);
        let bytes = std::mem::replace(&mut self.carry, rest);
        // A NUL in the first block means a binary file (the heuristic of git and
        // grep); later ones are stray bytes in real text (e.g. GNU info index
        // markers in man-page dumps) and are kept and counted.
        if let Some(p) = bytes.iter().position(|&b| b == 0) {
            if self.blocks_read == 0 {
                bail!(
                    "corpus {}: binary data (NUL byte at offset {}); expected UTF-8 text",
                    self.path.display(),
                    self.bytes_read + p as u64
                );
            }
            self.stray_nuls += bytes.iter().filter(|&&b| b == 0).count() as u64;
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            anyhow::anyhow!(
                "corpus {}: not UTF-8 text (invalid byte at offset {})",
                self.path.display(),
                self.bytes_read + e.utf8_error().valid_up_to() as u64
            )
        })?;
        self.bytes_read += text.len() as u64;
        self.blocks_read += 1;
        Ok(Some(text))
    }

    /// Read until `carry` holds at least `want` bytes or the file ends.
    fn fill(&mut self, want: usize) -> Result<()> {
        while !self.eof && self.carry.len() < want {
            let start = self.carry.len();
            self.carry.resize(want.max(start + 4096), 0);
            let n = self.inner.read(&mut self.carry[start..]).with_context(|| {
                format!(
                    "corpus {}: read failed (corrupt compressed file?)",
                    self.path.display()
                )
            })?;
            self.carry.truncate(start + n);
            if n == 0 {
                self.eof = true;
            }
        }
        Ok(())
    }

    /// Where to cut a full block that holds no newline (a line longer than a
    /// block): the last UTF-8 character boundary at or before `window`, so the
    /// block stays valid text. Only such blocks take this path, so the split of
    /// newline-aligned corpora is unchanged. `window` is a whole block (>= 512).
    fn char_boundary_cut(&mut self, window: usize) -> Result<usize> {
        // The byte after the window decides whether `window` itself is a boundary.
        self.fill(window + 1)?;
        let starts_char = |i: usize| i >= self.carry.len() || (self.carry[i] & 0xC0) != 0x80;
        // A character is at most 4 bytes: one of the last 4 positions starts one.
        // Invalid UTF-8 finds none; the cut is then at `window` and the block
        // fails the UTF-8 check with the file and offset named.
        Ok((window - 3..=window)
            .rev()
            .find(|&i| starts_char(i))
            .unwrap_or(window))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_newline_aligned_and_lossless() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.txt");
        let line = "héllo wörld, the quick brown fox\n";
        let text: String = line.repeat(10_000);
        std::fs::write(&p, &text).unwrap();
        let mut r = CorpusReader::open(&p).unwrap();
        let mut out = String::new();
        while let Some(b) = r.next_block().unwrap() {
            assert!(b.len() <= r.block_bytes);
            assert!(b.ends_with('\n'));
            out.push_str(&b);
        }
        assert_eq!(out, text);
        assert!(r.blocks_read > 1);
    }

    #[test]
    fn rejects_empty_binary_and_non_utf8() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes, want) in [
            ("e.txt", &b""[..], "empty"),
            ("b.txt", &b"abc\0def"[..], "binary"),
            ("n.txt", &b"abc\xff\xfedef\n"[..], "UTF-8"),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let e = CorpusReader::open(&p)
                .unwrap()
                .next_block()
                .unwrap_err()
                .to_string();
            assert!(e.contains(want) && e.contains(name), "{e}");
        }
    }

    #[test]
    fn stray_nul_after_the_first_block_is_kept_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.txt");
        let mut text = "a plain line of text\n".repeat(5_000);
        text.push_str("index \0\u{8}[index\0\u{8}]\n");
        std::fs::write(&p, &text).unwrap();
        let mut r = CorpusReader::open(&p).unwrap();
        let mut out = String::new();
        while let Some(b) = r.next_block().unwrap() {
            out.push_str(&b);
        }
        assert_eq!(out, text);
        assert_eq!(r.stray_nuls, 2);
    }
}
