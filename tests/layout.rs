//! The layout promises of the architecture (issue 10), checked on the source tree: no two files
//! of the extension (`src/`) or of the host (`host/src/`) import each other, directly or around
//! a circle, and the host library never reaches into the CLI's modules.
//!
//! A file's imports are the `crate::…` paths it names (in `use` lines and inline) and its
//! `super::…` paths, resolved to the longest module path that is a file of the same tree.
//! References between a module and its own parent or children are not edges: a folder's
//! `mod.rs` declares its children and re-exports what it chooses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use copilot_chat_tests::extension_dir;

/// Module path (`a::b`) → the file that holds it, for every `.rs` file under `root`.
fn modules(root: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read source dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                // The benchmark binary is its own crate root with its own `crate::`.
                if path.file_name().is_some_and(|n| n == "bin") {
                    continue;
                }
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).expect("under root").with_extension("");
                let mut parts: Vec<String> =
                    rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                    parts.pop();
                }
                out.insert(parts.join("::"), path);
            }
        }
    }
    out
}

/// Source without `//` comments (doc comments mention paths that are not imports).
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read source file");
    text.lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifier-and-`::` path that starts at `text`.
fn path_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    text[..end].trim_end_matches(':')
}

/// The module paths a file names after `crate::` (including inside `crate::{…}` groups) and
/// after `super::` (resolved against `module`'s parent).
fn referenced_paths(module: &str, code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find('}').unwrap_or(group.len())];
            paths.extend(inner.split(',').map(|item| path_at(item.trim()).to_string()));
        } else {
            paths.push(path_at(rest).to_string());
        }
    }
    let parent: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    let parent = &parent[..parent.len().saturating_sub(1)];
    for (i, _) in code.match_indices("super::") {
        // `super::super::` and `self::super::` are rare; treat the first step only.
        if code[..i].ends_with("::") {
            continue;
        }
        let rest = path_at(&code[i + "super::".len()..]);
        let mut full: Vec<&str> = parent.to_vec();
        full.extend(rest.split("::"));
        paths.push(full.join("::"));
    }
    paths
}

/// The file-level import graph of the tree under `root`.
fn graph(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(root);
    let resolve = |path: &str| -> Option<String> {
        let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        (1..=segments.len())
            .rev()
            .map(|n| segments[..n].join("::"))
            .find(|m| modules.contains_key(m))
    };
    let related = |a: &str, b: &str| {
        a == b || a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::")) || a.is_empty() || b.is_empty()
    };
    modules
        .iter()
        .map(|(module, file)| {
            let code = code_of(file);
            let edges = referenced_paths(module, &code)
                .iter()
                .filter_map(|p| resolve(p))
                .filter(|target| !related(module, target))
                .collect();
            (module.clone(), edges)
        })
        .collect()
}

/// Every cycle's members (strongly connected components of more than one file).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Kosaraju: order by finish time, then walk the reversed graph.
    fn visit(v: &str, g: &BTreeMap<String, BTreeSet<String>>, seen: &mut BTreeSet<String>, order: &mut Vec<String>) {
        if !seen.insert(v.to_string()) {
            return;
        }
        for w in g.get(v).into_iter().flatten() {
            visit(w, g, seen, order);
        }
        order.push(v.to_string());
    }
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    for v in graph.keys() {
        visit(v, graph, &mut seen, &mut order);
    }
    let mut reversed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (v, ws) in graph {
        for w in ws {
            reversed.entry(w.clone()).or_default().insert(v.clone());
        }
    }
    let mut assigned = BTreeSet::new();
    let mut out = Vec::new();
    for v in order.iter().rev() {
        let mut component = Vec::new();
        visit(v, &reversed, &mut assigned, &mut component);
        if component.len() > 1 {
            component.sort();
            out.push(component);
        }
    }
    out
}

fn assert_acyclic(tree: &str) {
    let root = extension_dir().join(tree);
    let graph = graph(&root);
    assert!(graph.len() > 5, "{tree}: too few modules found ({})", graph.len());
    let found = cycles(&graph);
    let described: Vec<String> = found
        .iter()
        .map(|members| {
            let inside: Vec<String> = members
                .iter()
                .map(|m| {
                    let to: Vec<&str> = graph[m].iter().filter(|t| members.contains(t)).map(String::as_str).collect();
                    format!("{m} -> {}", to.join(", "))
                })
                .collect();
            inside.join("; ")
        })
        .collect();
    assert!(found.is_empty(), "import cycles in {tree}/: {described:#?}");
}

#[test]
fn the_extension_has_no_import_cycle() {
    assert_acyclic("src");
}

#[test]
fn the_host_has_no_import_cycle() {
    assert_acyclic("host/src");
}

#[test]
fn the_checker_finds_a_planted_cycle() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.insert("a".into(), ["b".to_string()].into());
    g.insert("b".into(), ["c".to_string()].into());
    g.insert("c".into(), ["a".to_string()].into());
    g.insert("d".into(), ["a".to_string()].into());
    assert_eq!(cycles(&g), vec![vec!["a".to_string(), "b".to_string(), "c".to_string()]]);
    let refs = referenced_paths("x::y", "use crate::{a::b, c}; fn f() { super::z::g(); crate::d::e(); }");
    assert_eq!(refs, vec!["a::b", "c", "d::e", "x::z::g"]);
}

#[test]
fn the_host_library_does_not_import_the_cli() {
    let lib = std::fs::read_to_string(extension_dir().join("host/src/lib.rs")).expect("host lib.rs");
    assert!(!lib.contains("mod cli"), "the CLI's modules belong to the binary, not the library");
}
