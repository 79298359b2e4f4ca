//! The layering of docs/architecture.md, checked: no module of src/ names a
//! module on a higher layer (`crate::NAME` anywhere in its files, `use` lines
//! and inline paths alike).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// Lowest first; a module may use its own layer and the ones below.
const LAYERS: &[&[&str]] = &[
    &["fmt", "fsx", "fault", "device"],
    &["config", "hardware", "profile", "crash"],
    &["data"],
    &["model"],
    &["flops", "memory"],
    &["rundir"],
    &["train", "sample"],
    &["scaling", "estimate", "bench", "check", "interop"],
    &["report"],
    &["sweep"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Every `crate::NAME` a file names, with the line it is on.
fn crate_refs(text: &str) -> Vec<(usize, String)> {
    let mut refs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let tail = &rest[at + "crate::".len()..];
            // `crate::{a, b::c}` names a and b; `crate::a::…` names a.
            let names: Vec<&str> = match tail.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .map(|n| n.trim().split("::").next().unwrap_or(""))
                    .collect(),
                None => vec![tail],
            };
            for n in names {
                let name: String = n
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != "self" {
                    refs.push((i + 1, name));
                }
            }
            rest = tail;
        }
    }
    refs
}

#[test]
fn no_module_uses_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut graph: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let own = layer_of(&module).unwrap_or_else(|| {
            panic!("src/{module} is on no layer: add it to LAYERS and docs/architecture.md")
        });
        for (line, name) in crate_refs(&fs::read_to_string(f).unwrap()) {
            if name == module {
                continue;
            }
            let Some(theirs) = layer_of(&name) else {
                continue; // an item of lib.rs, not a module
            };
            graph
                .entry(module.clone())
                .or_default()
                .insert(name.clone());
            if theirs > own {
                violations.push(format!(
                    "{}:{line}: {module} (layer {own}) uses {name} (layer {theirs})",
                    rel.display()
                ));
            }
        }
    }
    for (m, uses) in &graph {
        eprintln!(
            "{m} -> {}",
            uses.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    assert!(
        violations.is_empty(),
        "layer violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn every_module_is_on_a_layer() {
    let lib = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(name) = line
            .strip_prefix("pub mod ")
            .and_then(|l| l.strip_suffix(';'))
        {
            assert!(layer_of(name).is_some(), "module {name} is on no layer");
        }
    }
}
