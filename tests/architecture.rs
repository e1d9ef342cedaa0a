//! The pipeline runs one way: the top-level modules of `src/` form no cycle.
//!
//! A module is `src/X/` or `src/X.rs`; an edge X -> Y is a `crate::Y` path (`use
//! crate::Y::...`, `use crate::{Y, ...}`, or a path in an expression) in X's non-test
//! code. Comments, string literals and `#[cfg(test)]` items are left out, and so are
//! files of test modules (`tests.rs`, `tests/`). When a cycle appears, the test fails
//! naming it and the files that make each of its edges.
//!
//! `ARCHITECTURE_GRAPH=1 cargo test --test architecture -- --nocapture` prints the
//! graph (each module and the modules it uses).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module -> module it uses -> the files that use it.
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<PathBuf>>>;

#[test]
fn the_top_level_modules_of_src_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    assert!(
        graph.len() >= 10,
        "read only {} modules from {}: the reader is broken",
        graph.len(),
        src.display()
    );
    if std::env::var_os("ARCHITECTURE_GRAPH").is_some() {
        for (module, uses) in &graph {
            let uses: Vec<&str> = uses.keys().map(String::as_str).collect();
            println!("{module:>10} -> {}", uses.join(", "));
        }
    }
    if let Some(report) = cycles(&graph) {
        panic!("src/ has import cycles between its top-level modules:\n{report}");
    }
}

#[test]
fn a_cycle_is_found_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("poll")).unwrap();
    std::fs::write(
        src.join("lib.rs"),
        "pub mod poll; pub mod state; pub mod model;",
    )
    .unwrap();
    std::fs::write(
        src.join("poll/mod.rs"),
        "//! uses crate::model in a comment only\nuse crate::{model::X, state};\n",
    )
    .unwrap();
    std::fs::write(
        src.join("state.rs"),
        "fn f() { let s = \"crate::poll\"; crate::poll::g(); }\n\
         #[cfg(test)]\nmod tests { use crate::model::Y; }\n",
    )
    .unwrap();
    std::fs::write(src.join("model.rs"), "pub struct X;\n").unwrap();
    let graph = module_graph(src);
    let edges = |m: &str| -> Vec<String> {
        graph
            .get(m)
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(edges("poll"), ["model", "state"]);
    assert_eq!(
        edges("state"),
        ["poll"],
        "strings and test modules do not count"
    );
    let report = cycles(&graph).expect("poll <-> state is a cycle");
    assert!(report.contains("poll -> state -> poll"), "{report}");
    assert!(report.contains("state.rs"), "{report}");

    std::fs::write(src.join("state.rs"), "use crate::model::X;\n").unwrap();
    assert_eq!(cycles(&module_graph(src)), None);
}

/// The edges between `src`'s top-level modules.
fn module_graph(src: &Path) -> Graph {
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir()
            || (path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main")
        {
            modules.insert(name);
        }
    }
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeMap::new()))
        .collect();
    for module in &modules {
        let mut files = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else {
            files.push(src.join(format!("{module}.rs")));
        }
        for file in files {
            let code = non_test_code(&std::fs::read_to_string(&file).unwrap());
            for used in crate_paths(&code) {
                if used != *module && modules.contains(&used) {
                    let rel = file.strip_prefix(src).unwrap_or(&file).to_path_buf();
                    graph
                        .get_mut(module)
                        .unwrap()
                        .entry(used)
                        .or_default()
                        .insert(rel);
                }
            }
        }
    }
    graph
}

/// The `.rs` files below `dir`, less test modules' files.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "tests" || name == "tests.rs" {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// `text` without comments, string and char literals, and `#[cfg(test)]` items.
fn non_test_code(text: &str) -> String {
    let stripped = strip_comments_and_strings(text);
    let mut out = String::with_capacity(stripped.len());
    let mut rest = stripped.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        rest = skip_item(&rest[at + "#[cfg(test)]".len()..]);
    }
    out.push_str(rest);
    out
}

/// What follows the item at the start of `s`: up to its `;`, or its balanced `{...}`.
fn skip_item(s: &str) -> &str {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            ';' if depth == 0 => return &s[i + 1..],
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return &s[i + 1..];
                }
            }
            _ => {}
        }
    }
    ""
}

/// Comments and the contents of string and char literals replaced by spaces.
fn strip_comments_and_strings(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'r' && (b[i..].starts_with(b"r\"") || b[i..].starts_with(b"r#")) {
            // A raw string: r"...", r#"..."#.
            let hashes = b[i + 1..].iter().take_while(|c| **c == b'#').count();
            if b.get(i + 1 + hashes) != Some(&b'"') {
                out.push(b[i]);
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            i += 2 + hashes;
            while i < b.len() && !b[i..].starts_with(&close) {
                i += 1;
            }
            i += close.len();
            out.extend_from_slice(b"\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.extend_from_slice(b"\"\"");
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            i += 3;
            out.extend_from_slice(b"' '");
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            // An escaped char literal: '\n', '\'', '\u{..}'.
            i += 2;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
            out.extend_from_slice(b"' '");
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The top-level module names `code` reaches with `crate::` paths.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `$crate::`, `my_crate::`
        }
        let rest_trimmed = rest.trim_start();
        if let Some(group) = rest_trimmed.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the names at depth one.
            let mut depth = 1;
            let mut at_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => at_start = true,
                    c if c.is_whitespace() => {}
                    _ if at_start && depth == 1 => {
                        let name = ident(&group[i..]);
                        if !name.is_empty() && name != "self" {
                            out.insert(name);
                        }
                        at_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(rest_trimmed);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Each cycle of `graph` (one per strongly connected component of two or more
/// modules), with the files behind its edges; None if there is none.
fn cycles(graph: &Graph) -> Option<String> {
    let mut report = String::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    for start in graph.keys() {
        if done.contains(start) {
            continue;
        }
        let Some(path) = cycle_through(graph, start) else {
            continue;
        };
        let component = component_of(graph, start);
        done.extend(component.iter().cloned());
        report.push_str(&format!(
            "- cycle: {} (modules in this tangle: {})\n",
            path.join(" -> "),
            component.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
        for pair in path.windows(2) {
            let files: Vec<String> = graph[&pair[0]][&pair[1]]
                .iter()
                .map(|f| format!("src/{}", f.display()))
                .collect();
            report.push_str(&format!(
                "    {} -> {}: {}\n",
                pair[0],
                pair[1],
                files.join(", ")
            ));
        }
    }
    (!report.is_empty()).then_some(report)
}

/// A shortest path from `start` back to itself, as module names (first = last).
fn cycle_through(graph: &Graph, start: &str) -> Option<Vec<String>> {
    let mut previous: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.to_string()]);
    while let Some(m) = queue.pop_front() {
        for next in graph.get(&m).into_iter().flat_map(|e| e.keys()) {
            if next == start {
                let mut path = vec![start.to_string(), m.clone()];
                let mut at = m.clone();
                while let Some(p) = previous.get(&at) {
                    path.push(p.clone());
                    at = p.clone();
                }
                path.reverse();
                path.insert(0, start.to_string());
                path.pop();
                path.push(start.to_string());
                path.dedup();
                return Some(path);
            }
            if next != start && !previous.contains_key(next) {
                previous.insert(next.clone(), m.clone());
                queue.push_back(next.clone());
            }
        }
    }
    None
}

/// The modules that both reach `start` and are reached from it.
fn component_of(graph: &Graph, start: &str) -> BTreeSet<String> {
    let reach = |forward: bool| -> BTreeSet<String> {
        let mut seen = BTreeSet::from([start.to_string()]);
        let mut stack = vec![start.to_string()];
        while let Some(m) = stack.pop() {
            let next: Vec<String> = if forward {
                graph
                    .get(&m)
                    .map(|e| e.keys().cloned().collect())
                    .unwrap_or_default()
            } else {
                graph
                    .iter()
                    .filter(|(_, e)| e.contains_key(&m))
                    .map(|(k, _)| k.clone())
                    .collect()
            };
            for n in next {
                if seen.insert(n.clone()) {
                    stack.push(n);
                }
            }
        }
        seen
    };
    reach(true).intersection(&reach(false)).cloned().collect()
}
