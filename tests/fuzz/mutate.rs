//! Mutations of valid inputs: byte edits for any file, value edits for JSON,
//! and length-fixed header edits for safetensors. Starting from a valid file
//! keeps most cases deep enough to reach the checks after parsing.

use proptest::prelude::*;
use serde_json::Value;

/// Text that tends to break parsers and checks: boundaries, overflows,
/// non-finite numbers, empty and multi-byte strings, separators.
pub const TOKENS: &[&str] = &[
    "0",
    "-1",
    "1",
    "-0",
    "1e309",
    "-1e309",
    "1e-320",
    "nan",
    "inf",
    "-inf",
    "0.5",
    "65536",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775808",
    "4611686018427387904",
    "99999999999999999999999",
    "\"\"",
    "\"x\"",
    "[]",
    "{}",
    "null",
    "true",
    "\n",
    "\r\n",
    "\0",
    "\u{feff}",
    ",",
    ",,",
    "=",
    "\"",
    "#",
    "[",
    "]",
    "é",
    "😀",
    "\u{ff}",
];

/// One edit of a byte string; positions are taken modulo the length.
#[derive(Debug, Clone)]
pub enum Edit {
    Flip(usize, u8),
    Insert(usize, usize),
    Delete(usize, usize),
    /// Replace the run of digits at or after the position by a token.
    Number(usize, usize),
    Truncate(usize),
    Repeat(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let pos = any::<usize>();
    let tok = 0..TOKENS.len();
    prop_oneof![
        1 => (pos, any::<u8>()).prop_map(|(p, b)| Edit::Flip(p, b)),
        1 => (pos, tok.clone()).prop_map(|(p, t)| Edit::Insert(p, t)),
        1 => (pos, 1..64usize).prop_map(|(p, n)| Edit::Delete(p, n)),
        3 => (pos, tok).prop_map(|(p, t)| Edit::Number(p, t)),
        1 => pos.prop_map(Edit::Truncate),
        1 => (pos, 1..256usize).prop_map(|(p, n)| Edit::Repeat(p, n)),
    ]
}

pub fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        let at = |p: usize| if b.is_empty() { 0 } else { p % (b.len() + 1) };
        match *e {
            Edit::Flip(p, x) if !b.is_empty() => {
                let i = p % b.len();
                b[i] ^= x.max(1);
            }
            Edit::Flip(..) => {}
            Edit::Insert(p, t) => {
                let i = at(p);
                b.splice(i..i, TOKENS[t].bytes());
            }
            Edit::Delete(p, n) => {
                let i = at(p);
                let j = (i + n).min(b.len());
                b.drain(i..j);
            }
            Edit::Number(p, t) => {
                let i = at(p);
                if let Some(s) = b[i..].iter().position(u8::is_ascii_digit) {
                    let s = i + s;
                    let end = b[s..]
                        .iter()
                        .position(|c| !(c.is_ascii_digit() || b".eE+-".contains(c)))
                        .map_or(b.len(), |k| s + k);
                    b.splice(s..end, TOKENS[t].bytes());
                }
            }
            Edit::Truncate(p) => {
                let i = at(p);
                b.truncate(i);
            }
            Edit::Repeat(p, n) => {
                let i = at(p);
                let j = (i + n).min(b.len());
                let chunk = b[i..j].to_vec();
                b.splice(j..j, chunk);
            }
        }
    }
    b
}

/// `seed` under 0 to 5 byte edits.
pub fn bytes_from(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(edit(), 0..6).prop_map(move |e| apply(&seed, &e))
}

/// JSON values for [`json_from`]'s replacements.
fn json_values() -> Vec<Value> {
    serde_json::from_str(
        r#"[null, true, false, 0, -1, 1, 2, 0.5, -0.0, 1e308, -1e308, 18446744073709551615,
            9007199254740993, 4294967296, "", "x", "gpt2", "F32", "U8", "BPE", "WordLevel",
            "step_00000001", [], {}, [0], [1, 2], [18446744073709551615, 0], [0, 1e308],
            {"a": 1}, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"]"#,
    )
    .unwrap()
}

/// Every node of `v` as a path of keys / indices (the root is the empty path).
fn paths(v: &Value, here: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                here.push(Value::String(k.clone()));
                paths(x, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                here.push(Value::from(i));
                paths(x, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn node<'a>(v: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, k| match k {
        Value::String(s) => v.get_mut(s.as_str()),
        _ => v.get_mut(k.as_u64()? as usize),
    })
}

/// Replace (or, with `None`, remove) the node at path index `p` of `v`.
fn set(v: &mut Value, p: usize, with: Option<&Value>) {
    let mut all = Vec::new();
    paths(v, &mut Vec::new(), &mut all);
    let path = &all[p % all.len()];
    match (with, path.split_last()) {
        (Some(x), _) => {
            if let Some(n) = node(v, path) {
                *n = x.clone();
            }
        }
        (None, Some((last, parent))) => match node(v, parent) {
            Some(Value::Object(m)) => {
                m.remove(last.as_str().unwrap_or(""));
            }
            Some(Value::Array(a)) => {
                let i = last.as_u64().unwrap_or(0) as usize;
                if i < a.len() {
                    a.remove(i);
                }
            }
            _ => {}
        },
        (None, None) => {}
    }
}

/// `seed` (JSON) with 1 to 3 nodes replaced or removed, then 0 to 2 byte edits.
pub fn json_from(seed: Value) -> impl Strategy<Value = Vec<u8>> {
    let vals = json_values();
    let n = vals.len();
    (
        prop::collection::vec((any::<usize>(), prop::option::weighted(0.85, 0..n)), 1..4),
        prop::collection::vec(edit(), 0..3),
    )
        .prop_map(move |(nodes, edits)| {
            let mut v = seed.clone();
            for (p, x) in nodes {
                set(&mut v, p, x.map(|i| &vals[i]));
            }
            apply(&serde_json::to_vec_pretty(&v).unwrap(), &edits)
        })
}

/// A safetensors file with its JSON header mutated (the length prefix kept
/// right) or, one case in four, its raw bytes edited.
pub fn safetensors_from(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let n = u64::from_le_bytes(seed[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&seed[8..8 + n]).unwrap();
    let data = seed[8 + n..].to_vec();
    prop_oneof![
        3 => json_from(header).prop_map(move |h| {
            let mut out = (h.len() as u64).to_le_bytes().to_vec();
            out.extend(h);
            out.extend(&data);
            out
        }),
        1 => bytes_from(seed),
    ]
}
