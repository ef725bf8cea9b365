//! The module structure stays as docs/architecture.md draws it: dependencies point one way,
//! pure modules never touch workers-rs, and files and edge functions stay short.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The repository: the seller's crate at the root, the kit's crates under `crates/`.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The kit's `src/<dir>` (a folder, or `<dir>.rs`), each file with its text.
fn src(dir: &str) -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let files = if root.is_dir() { rust_files(&root) } else { vec![root.with_extension("rs")] };
    assert!(!files.is_empty(), "no Rust files under src/{dir}: a module this test names has moved");
    files.into_iter().map(|p| (p.clone(), read(&p))).collect()
}

/// Lines that are code: comments and doc comments do not count.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter(|(_, l)| !l.trim_start().starts_with("//"))
}

fn assert_no_use(module: &str, forbidden: &[&str]) {
    let mut found = Vec::new();
    for (path, text) in src(module) {
        for (n, line) in code_lines(&text) {
            for f in forbidden {
                if line.contains(f) {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(found.is_empty(), "src/{module} must not use {forbidden:?}:\n{}", found.join("\n"));
}

/// A file of an inner crate (`path` from the repository) names none of `forbidden` in its code.
fn assert_file_no_use(path: &str, forbidden: &[&str]) {
    let text = read(&repo().join(path));
    let found: Vec<_> =
        code_lines(&text).filter(|(_, l)| forbidden.iter().any(|f| l.contains(f))).map(|(n, l)| (n + 1, l)).collect();
    assert!(found.is_empty(), "{path} must not use {forbidden:?}: {found:?}");
}

#[test]
fn dependencies_point_one_way() {
    let worker = ["worker::", "use worker"];
    for pure in ["web", "config", "health", "routes", "build_info", "stats", "sql", "tools", "bindings"] {
        assert_no_use(pure, &worker);
    }
    // The protocol core (`mkit-mcp`) holds no price, no ledger and no shipped tool, and the
    // paywall (`mkit-paywall`) joins it to the ledger: crates, so their manifests are the rule.
    // Inside the paywall, what a seller declares knows nothing of the ledger, and the windows and
    // pay links nothing of MCP.
    assert_file_no_use("crates/mkit-paywall/src/price.rs", &["mkit_billing", "crate::gate", "crate::admission"]);
    assert_file_no_use("crates/mkit-paywall/src/quota.rs", &["mkit_billing", "mkit_mcp", "crate::"]);
    assert_file_no_use("crates/mkit-paywall/src/paylink.rs", &["mkit_billing", "mkit_mcp", "crate::"]);
    // The lowest reply type (`mkit_mcp::http`) carries what it tells the log and imports no module
    // of its crate; the log line (`mkit_mcp::log`) formats it.
    let http = read(&repo().join("crates/mkit-mcp/src/http.rs"));
    let inward: Vec<_> = code_lines(&http).filter(|(_, l)| l.contains("crate::")).map(|(n, l)| (n + 1, l)).collect();
    assert!(inward.is_empty(), "mkit_mcp::http must import nothing of its crate: {inward:?}");
    assert_no_use("web", &["crate::mcp", "crate::tools", "crate::edge", "crate::paywall", "crate::oauth"]);
    assert_no_use("tools", &["crate::health", "crate::billing", "crate::edge", "crate::paywall"]);
}

/// Lines before the file's `#[cfg(test)] mod tests`, if it has one inline.
/// Doc comments (and the examples in them, which are doctests) do not count: a seller's API
/// documented with examples is not a file that does too much.
fn non_test_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines.windows(2).position(|w| w[0].trim() == "#[cfg(test)]" && w[1].starts_with("mod tests"));
    let code = &lines[..end.unwrap_or(lines.len())];
    code.iter().filter(|l| !l.trim_start().starts_with("///") && !l.trim_start().starts_with("//!")).count()
}

/// The `[dependencies]` section of a crate's manifest: each dependency's name.
fn dependencies(manifest: &str) -> Vec<String> {
    let text = read(&repo().join(manifest));
    let section = text.split("\n[dependencies]\n").nth(1).unwrap_or_default();
    let section = section.split("\n[").next().unwrap_or_default();
    section
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(n, _)| n.trim().to_owned())
        .filter(|n| !n.starts_with('#'))
        .collect()
}

/// What Cargo now holds: each pure crate of the kit lists the only mKit crates it may reach (a
/// crate cannot name what its manifest does not list, and Cargo refuses cycles), and none lists
/// `worker` or the JavaScript bindings. These lines are the whole rule for those crates.
#[test]
fn the_pure_crates_depend_only_downward() {
    let allowed: [(&str, &[&str]); 6] = [
        ("crates/mkit-kernel/Cargo.toml", &[]),
        ("crates/mkit-auth/Cargo.toml", &["mkit-kernel"]),
        ("crates/mkit-billing/Cargo.toml", &["mkit-kernel"]),
        ("crates/mkit-oauth/Cargo.toml", &["mkit-kernel", "mkit-auth"]),
        // The protocol core: the caller and bearer challenges from the resource server, nothing
        // of billing, the authorization server or the paywall.
        ("crates/mkit-mcp/Cargo.toml", &["mkit-kernel", "mkit-auth"]),
        // Prices and the gate: the protocol core and the ledger, which know nothing of each other.
        ("crates/mkit-paywall/Cargo.toml", &["mkit-kernel", "mkit-billing", "mkit-mcp"]),
    ];
    for (manifest, may_reach) in allowed {
        let deps = dependencies(manifest);
        assert!(deps.contains(&"serde_json".to_owned()), "{manifest} was read: {deps:?}");
        let runtime = ["worker", "wasm-bindgen", "js-sys", "web-sys"];
        let wrong: Vec<_> = deps
            .iter()
            .filter(|d| runtime.contains(&d.as_str()) || (d.starts_with("mkit") && !may_reach.contains(&d.as_str())))
            .collect();
        assert!(wrong.is_empty(), "{manifest} must not depend on {wrong:?}");
    }
    let kit = dependencies("crates/mkit/Cargo.toml");
    for inner in ["mkit-kernel", "mkit-auth", "mkit-billing", "mkit-oauth", "mkit-mcp", "mkit-paywall"] {
        assert!(kit.contains(&inner.to_owned()), "mkit builds on {inner}");
    }
}

/// The seller's crate (the repository's root) reaches the kit only through `mkit`'s public API,
/// and holds none of the kit's code: its sources name no kit-internal module.
#[test]
fn the_sellers_crate_depends_on_the_kit_and_holds_none_of_it() {
    let deps = dependencies("Cargo.toml");
    assert!(deps.contains(&"mkit".to_owned()), "the seller's crate depends on the kit: {deps:?}");
    let kit_internal: Vec<_> = deps.iter().filter(|d| d.starts_with("mkit-")).collect();
    assert!(kit_internal.is_empty(), "the seller's crate depends on the kit's inner crates: {kit_internal:?}");
    let seller = rust_files(&repo().join("src"));
    assert!(seller.len() <= 8, "the seller's crate is small: {seller:?}");
    for p in seller {
        for (n, line) in code_lines(&read(&p)) {
            assert!(!line.contains("crate::edge") && !line.contains("mkit::edge"), "{}:{}: {line}", p.display(), n + 1);
        }
    }
    let kits = [
        "crates/mkit",
        "crates/mkit-auth",
        "crates/mkit-billing",
        "crates/mkit-kernel",
        "crates/mkit-mcp",
        "crates/mkit-paywall",
        "crates/mkit-oauth",
    ];
    for kit in kits.map(|k| format!("{k}/Cargo.toml")) {
        let deps = dependencies(&kit);
        assert!(!deps.contains(&"mkit-server".to_owned()), "{kit} must not depend on the seller's crate");
    }
}

/// Every source file of the kit: this crate's and the inner crates'.
fn kit_sources() -> Vec<(PathBuf, String)> {
    let inner = ["crates/mkit-kernel/src", "crates/mkit-auth/src", "crates/mkit-billing/src", "crates/mkit-oauth/src"];
    let inner = inner
        .iter()
        .chain(&["crates/mkit-mcp/src", "crates/mkit-paywall/src"])
        .flat_map(|d| rust_files(&repo().join(d)));
    src("").into_iter().chain(inner.map(|p| (p.clone(), read(&p)))).collect()
}

/// Where a file keeps per-isolate state of its own (`thread_local!`, or a `static` cell).
fn keeps_state(text: &str) -> bool {
    let static_cell = |l: &str| {
        let item = l.trim_start().trim_start_matches("pub ").trim_start_matches("pub(crate) ");
        item.starts_with("static ") && (item.contains("Cell<") || item.contains("Mutex<"))
    };
    code_lines(text).any(|(_, l)| l.contains("thread_local!") || static_cell(l))
}

/// Where a file parses a URL other than through the kernel's WHATWG seam: the `url` crate, or
/// `worker::Request::url` (which calls it).
fn parses_urls_itself(text: &str) -> bool {
    let names_the_crate =
        |l: &str| l.match_indices("url::").any(|(i, _)| !l[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
    code_lines(text)
        .any(|(_, l)| names_the_crate(l) || l.contains(".url()?") || l.contains(".url().") || l.contains("Url::parse"))
}

/// URLs are parsed by workerd's own `URL` in the Worker, through `mkit_kernel::whatwg` alone: the
/// `url` crate's IDNA tables stay out of the bundle (issue #29), and what is checked is what
/// `fetch` reads. Tests hold the seam to the `url` crate, so `*tests.rs` files may name it.
#[test]
fn urls_are_parsed_through_one_seam() {
    let others: Vec<String> = kit_sources()
        .into_iter()
        .filter(|(p, _)| !p.ends_with("mkit-kernel/src/whatwg.rs") && !p.to_string_lossy().ends_with("tests.rs"))
        .filter(|(_, text)| parses_urls_itself(text))
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert!(others.is_empty(), "URLs parsed outside mkit_kernel::whatwg: {others:?}");
    assert!(parses_urls_itself("let q = req.url().ok().and_then(|u| u.query());"));
    assert!(parses_urls_itself("    match url::Url::parse(uri) {"));
    assert!(!parses_urls_itself("let u = whatwg::parse(&req.inner().url());\n// url::Url is not used"));
    assert!(!parses_urls_itself("let q = super::request_url::query(&req);"));
}

/// The composition root (`edge/isolate.rs`) is the only per-isolate state: caches, configuration
/// and the registry are its fields, handed to handlers, never reached through a global.
#[test]
fn one_composition_root_per_isolate() {
    let holders: Vec<String> =
        kit_sources().into_iter().filter(|(_, text)| keeps_state(text)).map(|(p, _)| p.display().to_string()).collect();
    assert!(
        holders.len() == 1 && holders[0].ends_with("src/edge/isolate.rs"),
        "per-isolate state outside the root: {holders:?}"
    );
    assert!(keeps_state("thread_local! {\n    static X: RefCell<u8> = RefCell::new(0);\n}"));
    assert!(keeps_state("pub(crate) static Y: OnceCell<u8> = OnceCell::new();"));
    assert!(!keeps_state("/// thread_local! is not used here\nfn f() {}"));
    assert!(!keeps_state("    billing: std::cell::Cell<Option<&'static str>>,"));
}

#[test]
fn files_stay_short() {
    let mut long = Vec::new();
    for (path, text) in kit_sources() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        // Test files and the conformance fixtures are exempt.
        if name.ends_with("tests.rs") || name == "fixtures.rs" || path.components().any(|c| c.as_os_str() == "tests") {
            continue;
        }
        let n = non_test_lines(&text);
        if n > 300 {
            long.push(format!("{} has {n} lines", path.display()));
        }
    }
    assert!(long.is_empty(), "files over 300 lines (split them):\n{}", long.join("\n"));
}

/// Function lengths by brace depth: from a line starting a `fn` to its closing brace.
fn long_functions(text: &str, max: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim_start();
        let is_fn = ["fn ", "pub fn ", "async fn ", "pub async fn ", "pub(crate) fn ", "pub(crate) async fn "]
            .iter()
            .any(|p| t.starts_with(p));
        if !is_fn {
            i += 1;
            continue;
        }
        let (mut depth, mut opened, start) = (0i32, false, i);
        while i < lines.len() {
            for c in lines[i].chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if (opened && depth == 0) || (!opened && lines[i].trim_end().ends_with(';')) {
                break;
            }
            i += 1;
        }
        if i - start + 1 > max {
            out.push(format!("line {}: {} ({} lines)", start + 1, t, i - start + 1));
        }
        i += 1;
    }
    out
}

#[test]
fn edge_and_transport_functions_stay_short() {
    let mut files = src("edge");
    let transport = repo().join("crates/mkit-mcp/src/transport.rs");
    files.push((transport.clone(), read(&transport)));
    let mut long = Vec::new();
    for (path, text) in files {
        for f in long_functions(&text, 50) {
            long.push(format!("{}: {f}", path.display()));
        }
    }
    assert!(long.is_empty(), "functions over 50 lines:\n{}", long.join("\n"));
}

#[test]
fn the_length_check_can_fail() {
    let body = "    x();\n".repeat(60);
    assert_eq!(long_functions(&format!("fn f() {{\n{body}}}\n"), 50).len(), 1);
    assert!(long_functions("fn f() {\n    x();\n}\n", 50).is_empty());
}
