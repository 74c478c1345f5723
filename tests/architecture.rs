//! The layer order of docs/architecture.md, checked on the source: no cycle between the
//! top-level modules of `src/`, `values` at the bottom, `formats` on `values` only, and
//! `profile` below `kube`.
//!
//! A module depends on another when its code (before a trailing `#[cfg(test)] mod tests`)
//! names `crate::other` (also inside `use crate::{a, b}` groups and doc links), the same rule
//! as the architecture report the project's reviewers run.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text of a file before its trailing unit tests.
fn without_tests(text: &str) -> &str {
    let mut offset = 0;
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod tests"))
        {
            return &text[..offset];
        }
        offset += line.len();
    }
    text
}

fn ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The top-level modules `code` names through `crate::`.
fn crate_references(code: &str) -> BTreeSet<String> {
    references(code, "crate::")
}

/// The first path segments `code` names after `prefix` (`crate::`, `super::`).
fn references(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices(prefix) {
        if code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue; // `$crate::`, `my_crate::`
        }
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => return true,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    false
                })
                .map_or(group.len(), |(j, _)| j);
            let mut depth = 0;
            let mut start = 0;
            for (j, c) in group[..end].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(group[start..j].trim()).to_string());
                        start = j + 1;
                    }
                    _ => {}
                }
            }
            out.insert(ident(group[start..end].trim()).to_string());
        } else {
            out.insert(ident(rest).to_string());
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

/// Top-level module -> the top-level modules it names, for every file under `src`.
fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph = Graph::new();
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let first = rel.components().next().expect("a component");
        let top = first.as_os_str().to_string_lossy();
        let top = top.strip_suffix(".rs").unwrap_or(&top).to_string();
        if ["lib", "main"].contains(&top.as_str()) {
            continue;
        }
        let text = fs::read_to_string(&file).expect("readable source");
        let deps = graph.entry(top.clone()).or_default();
        deps.extend(crate_references(without_tests(&text)));
        deps.remove(&top);
    }
    graph
}

/// Inside each top-level module, its second-level modules (`host::files`) -> those they name
/// (`crate::host::journal`, or `super::journal` from a file one level down).
fn inner_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph = Graph::new();
    for file in files {
        let rel = file
            .strip_prefix(src)
            .expect("under src")
            .with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|l| l == "mod") {
            parts.pop();
        }
        if parts.len() < 2 {
            continue;
        }
        let me = format!("{}::{}", parts[0], parts[1]);
        let text = fs::read_to_string(&file).expect("readable source");
        let code = without_tests(&text);
        let mut named: BTreeSet<String> = BTreeSet::new();
        let own = format!("crate::{}::", parts[0]);
        named.extend(references(code, &own));
        if parts.len() == 2 {
            named.extend(references(code, "super::"));
        }
        let deps = graph.entry(me.clone()).or_default();
        for second in named.into_iter().filter(|n| n != "super" && n != "self") {
            let other = format!("{}::{second}", parts[0]);
            if other != me {
                deps.insert(other);
            }
        }
    }
    graph
}

/// Every strongly connected component of more than one module (Tarjan's algorithm).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.stack.contains(&w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

fn src_graph() -> Graph {
    module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

fn describe(graph: &Graph, component: &[String]) -> String {
    let mut text = component.join(" <-> ");
    for module in component {
        let inside: Vec<&str> = graph[module]
            .iter()
            .filter(|d| component.contains(d))
            .map(String::as_str)
            .collect();
        text.push_str(&format!("\n  {module} -> {inside:?}"));
    }
    text
}

#[test]
fn no_cycle_between_top_level_modules() {
    let graph = src_graph();
    assert!(
        graph.len() > 5,
        "the scan found the modules of src/: {graph:?}"
    );
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "module cycles (docs/architecture.md gives the layer order; move the shared piece down a layer):\n{}",
        found
            .iter()
            .map(|c| describe(&graph, c))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn no_cycle_between_the_modules_inside_a_top_level_module() {
    let graph = inner_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.contains_key("host::files"), "{graph:?}");
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "module cycles inside a top-level module (move the shared piece into its own file):\n{}",
        found
            .iter()
            .map(|c| describe(&graph, c))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn values_is_the_bottom_layer_and_formats_sits_on_it_only() {
    let graph = src_graph();
    let deps = |m: &str| graph.get(m).cloned().unwrap_or_default();
    assert_eq!(deps("values"), BTreeSet::new(), "values depends on nothing");
    let formats = deps("formats");
    assert!(
        formats.iter().all(|m| m == "values"),
        "formats depends only on values: {formats:?}"
    );
    let profile = deps("profile");
    for higher in [
        "kube",
        "etcd",
        "node",
        "engine",
        "steps",
        "packages",
        "preflight",
        "access",
    ] {
        assert!(
            !profile.contains(higher),
            "profile depends on {higher}: {profile:?}"
        );
    }
}

/// `etcd` and `certs` (layer 5) use only layers 0–4: they run etcd's programs and kubeadm
/// through the host seam and know nothing of steps, packages or the command line.
#[test]
fn etcd_and_certs_sit_on_the_layers_below_them() {
    let graph = src_graph();
    for module in ["etcd", "certs"] {
        let deps = graph.get(module).cloned().unwrap_or_default();
        assert!(
            deps.contains("host"),
            "the scan found {module}'s modules: {deps:?}"
        );
        let below = [
            "values", "host", "formats", "profile", "engine", "node", "kube",
        ];
        let above: Vec<&String> = deps
            .iter()
            .filter(|m| !below.contains(&m.as_str()))
            .collect();
        assert!(
            above.is_empty(),
            "{module} depends on higher layers: {above:?}"
        );
    }
}

/// `upgrade` and `reset` sit above `steps` and below the commands: nothing lower uses
/// them, and they use no command.
#[test]
fn upgrade_and_reset_sit_between_steps_and_the_commands() {
    let graph = src_graph();
    let deps = |m: &str| graph.get(m).cloned().unwrap_or_default();
    for middle in ["upgrade", "reset"] {
        for lower in [
            "values",
            "host",
            "formats",
            "profile",
            "engine",
            "node",
            "kube",
            "etcd",
            "access",
            "packages",
            "preflight",
            "steps",
        ] {
            assert!(!deps(lower).contains(middle), "{lower} depends on {middle}");
        }
        let uses = deps(middle);
        for higher in ["cli", "commands", "app"] {
            assert!(
                !uses.contains(higher),
                "{middle} depends on {higher}: {uses:?}"
            );
        }
    }
}

/// `access` (layer 5) sits on `kube` and `profile`, below the steps and commands that use it.
#[test]
fn access_sits_below_steps_and_commands() {
    let graph = src_graph();
    let access = graph.get("access").cloned().unwrap_or_default();
    assert!(
        access.contains("profile"),
        "the scan found access's uses: {access:?}"
    );
    for higher in [
        "steps",
        "packages",
        "preflight",
        "commands",
        "app",
        "cli",
        "engine",
    ] {
        assert!(
            !access.contains(higher),
            "access depends on {higher}: {access:?}"
        );
    }
}

/// The checker itself can fail: a cycle through three modules and a grouped `use` are found.
#[test]
fn the_checker_finds_cycles_and_grouped_uses() {
    let code = "use crate::{a, b::{c, d}};\nuse $crate::z;\n/// [`crate::e::f`]\nfn x() { crate::g::h(); }\n#[cfg(test)]\nmod tests { use crate::t; }\n";
    let refs = crate_references(without_tests(code));
    assert_eq!(
        refs,
        ["a", "b", "e", "g"].iter().map(|s| s.to_string()).collect()
    );
    let graph: Graph = [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]
        .iter()
        .fold(Graph::new(), |mut g, (from, to)| {
            g.entry(from.to_string())
                .or_default()
                .insert(to.to_string());
            g
        });
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c"]]);
}

/// Every file under `dir`, recursively.
fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
    {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Facts live in this repository: no comment in src/, docs/, the stand-ins or the test
/// fixtures points at a reference document kept outside it (the upstream source is cited
/// instead, see docs/kubeadm-facts.md).
#[test]
fn no_source_or_doc_cites_a_reference_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    for dir in ["docs", "examples", "tests/fixtures", "tests/standins"] {
        all_files(&root.join(dir), &mut files);
    }
    let outside = [
        "REFERENCE §",
        "REFERENCE.md",
        "DESIGN.md",
        "ANCHORS.md",
        "../shared/",
    ];
    let mut found = Vec::new();
    for file in files.iter().filter(|f| f.is_file()) {
        let text = fs::read_to_string(file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            if outside.iter().any(|o| line.contains(o)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "cite the upstream source instead:\n{}",
        found.join("\n")
    );
}
