//! The layering rules of ARCHITECTURE.md, held by a test: front ends (`web/`, `cli/`) reach
//! storage only through services and never open a transaction; nothing outside `web/` knows
//! HTTP (axum, tower); storage imports no service; and nothing outside the crate reaches
//! storage at all (`db` is `pub(crate)`, and no test, benchmark or example names
//! `portcullis::db`). The sources are parsed with `syn`, so a grouped `use crate::{db, …}` or a
//! full path in an expression counts as much as a `use` line.

use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// The layer a source file belongs to, from its path below `src/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    /// `web/`, `cli/` and `main.rs`: map requests and commands to service calls.
    FrontEnd,
    /// `web/` is also the only place that may know HTTP.
    Web,
    /// `db/`: the only SQL.
    Storage,
    /// Everything else: services and the pure modules below them.
    Service,
}

fn layer_of(relative: &Path) -> Layer {
    let first = relative
        .components()
        .next()
        .and_then(|c| c.as_os_str().to_str())
        .unwrap_or("");
    match first {
        "web" => Layer::Web,
        "cli" | "main.rs" => Layer::FrontEnd,
        "db" => Layer::Storage,
        _ => Layer::Service,
    }
}

/// Crates only `web/` may name.
const HTTP_CRATES: &[&str] = &["axum", "axum_extra", "tower", "tower_http", "askama_web"];
/// The only modules of the crate storage may name: its own, the pure types and helpers below
/// the services. Anything else (a service, a front end, the application state) is above it.
/// An allowlist, so a new service is above storage without anyone remembering to list it.
const BELOW_SERVICES: &[&str] = &[
    "db",
    "domain",
    "clock",
    "config",
    "net",
    "auth",
    "token",
    "request_origin",
];

/// Every path a file names: `use` trees flattened to their full paths, and paths in code.
#[derive(Default)]
struct Paths {
    found: Vec<(String, usize)>,
    begins: Vec<usize>,
}

impl Paths {
    fn flatten(&mut self, prefix: &str, tree: &syn::UseTree) {
        let join = |name: String| {
            if prefix.is_empty() {
                name
            } else {
                format!("{prefix}::{name}")
            }
        };
        match tree {
            syn::UseTree::Path(p) => self.flatten(&join(p.ident.to_string()), &p.tree),
            syn::UseTree::Name(n) => self
                .found
                .push((join(n.ident.to_string()), line(n.ident.span()))),
            syn::UseTree::Rename(r) => {
                self.found
                    .push((join(r.ident.to_string()), line(r.ident.span())));
            }
            syn::UseTree::Glob(g) => self.found.push((join("*".into()), line(g.star_token.span))),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.flatten(prefix, t);
                }
            }
        }
    }
}

/// Spans carry no line numbers outside a proc macro (that needs proc-macro2's
/// `span-locations`, which would rebuild every proc macro); the item's text locates it instead.
fn line<T>(_: T) -> usize {
    0
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.flatten("", &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let text: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if let Some(first) = path.segments.first() {
            self.found.push((text.join("::"), line(first.ident.span())));
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if call.method == "begin" && call.args.is_empty() {
            self.begins.push(line(call.method.span()));
        }
        syn::visit::visit_expr_method_call(self, call);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // `sqlx::query!` and friends are paths too; so is any macro's name.
        self.visit_path(&mac.path);
    }
}

/// The rules a file of `layer` breaks, as readable lines (`file:line: why`).
fn violations_in(relative: &Path, source: &str) -> Vec<String> {
    let layer = layer_of(relative);
    let file = match syn::parse_file(source) {
        Ok(f) => f,
        Err(e) => return vec![format!("{}: does not parse: {e}", relative.display())],
    };
    let mut paths = Paths::default();
    paths.visit_file(&file);
    let mut out = Vec::new();
    let at = |_: usize| relative.display().to_string();
    for (path, n) in &paths.found {
        let mut segs = path.split("::");
        let first = segs.next().unwrap_or("");
        let second = segs.next().unwrap_or("");
        // `crate::x` and `portcullis::x` name the module x of this crate.
        let module = if first == "crate" || first == "portcullis" {
            second
        } else {
            ""
        };
        let front = matches!(layer, Layer::FrontEnd | Layer::Web);
        // `sqlx::Error` is the one storage type a front end sees: what a service returns when the
        // database is unreachable, which the error page maps to 503 (web/error.rs).
        if front && (module == "db" || (first == "sqlx" && path != "sqlx::Error")) {
            out.push(format!(
                "{}: a front end names storage ({path}); call a service",
                at(*n)
            ));
        }
        if layer != Layer::Web && HTTP_CRATES.contains(&first) {
            out.push(format!("{}: only web/ may know HTTP ({path})", at(*n)));
        }
        if layer == Layer::Storage && !module.is_empty() && !BELOW_SERVICES.contains(&module) {
            out.push(format!("{}: storage imports a service ({path})", at(*n)));
        }
        // SQL is written in db/ only: a service calls a storage function, never a query.
        if layer != Layer::Storage
            && first == "sqlx"
            && (second.starts_with("query") || second == "raw_sql")
        {
            out.push(format!("{}: SQL outside db/ ({path})", at(*n)));
        }
    }
    if matches!(layer, Layer::FrontEnd | Layer::Web) {
        for n in &paths.begins {
            out.push(format!(
                "{}: a front end opens a transaction; the service owns it",
                at(*n)
            ));
        }
    }
    out.sort();
    out.dedup();
    out
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_sources_keep_the_layering_rules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut all = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a source file");
        all.extend(violations_in(file.strip_prefix(&root).unwrap(), &text));
    }
    assert!(all.is_empty(), "layering broken:\n{}", all.join("\n"));
}

#[test]
fn a_storage_import_in_a_handler_is_caught_in_every_form() {
    let handler = Path::new("web/admin/example.rs");
    for source in [
        "use crate::db;",
        "use crate::{app::AppState, db::account};",
        "fn f() { let _ = crate::db::account::find; }",
        "use sqlx::Row;",
        "fn f(tx: sqlx::Transaction) {}",
        "async fn f(p: P) { let _tx = p.begin().await; }",
    ] {
        assert_eq!(
            violations_in(handler, source).len(),
            1,
            "not caught in a handler: {source}"
        );
    }
    let cli = Path::new("cli/commands/user.rs");
    assert_eq!(violations_in(cli, "use crate::db::ban;").len(), 1);
    // The same lines are fine in a service.
    assert!(violations_in(Path::new("account.rs"), "use crate::db;").is_empty());
}

#[test]
fn http_outside_web_and_services_in_storage_are_caught() {
    assert_eq!(
        violations_in(Path::new("session/mod.rs"), "use axum::http::HeaderValue;").len(),
        1
    );
    assert!(violations_in(Path::new("web/routes.rs"), "use axum::Router;").is_empty());
    assert_eq!(
        violations_in(Path::new("db/session.rs"), "use crate::session::EndReason;").len(),
        1
    );
    assert!(violations_in(Path::new("db/session.rs"), "use crate::domain::Realm;").is_empty());
    // A service that did not exist when the rule was written is above storage all the same.
    assert_eq!(
        violations_in(Path::new("db/client.rs"), "use crate::helpdesk::Tickets;").len(),
        1
    );
}

#[test]
fn sql_outside_storage_is_caught_in_services_and_front_ends() {
    for file in [
        "doctor/accounts.rs",
        "web/admin/audit.rs",
        "cli/commands/ban.rs",
    ] {
        let found = violations_in(
            Path::new(file),
            "async fn f(p: &P) { sqlx::query_scalar::<_, i64>(\"SELECT 1\").fetch_one(p).await; }",
        );
        assert!(
            found.iter().any(|v| v.contains("SQL outside db/")),
            "{file}: {found:?}"
        );
    }
    assert!(
        violations_in(
            Path::new("db/client.rs"),
            "async fn f(p: &P) { sqlx::query(\"SELECT 1\").execute(p).await; }"
        )
        .is_empty()
    );
}

/// The paths naming this crate's storage (`portcullis::db…`) in a file outside the crate.
fn storage_paths_outside(source: &str) -> Result<Vec<String>, syn::Error> {
    let file = syn::parse_file(source)?;
    let mut paths = Paths::default();
    paths.visit_file(&file);
    Ok(paths
        .found
        .into_iter()
        .map(|(path, _)| path)
        .filter(|path| path == "portcullis::db" || path.starts_with("portcullis::db::"))
        .collect())
}

#[test]
fn storage_is_visible_only_inside_the_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).expect("read src/lib.rs");
    let lib = syn::parse_file(&lib).expect("src/lib.rs parses");
    let db = lib
        .items
        .iter()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "db" => Some(m),
            _ => None,
        })
        .expect("src/lib.rs declares mod db");
    let crate_only = match &db.vis {
        syn::Visibility::Inherited => true,
        syn::Visibility::Restricted(r) => r.path.is_ident("crate") || r.path.is_ident("self"),
        syn::Visibility::Public(_) => false,
    };
    assert!(crate_only, "src/lib.rs must declare `pub(crate) mod db`");

    let mut files = Vec::new();
    for dir in ["tests/api", "benches", "examples"] {
        sources(&root.join(dir), &mut files);
    }
    assert!(files.len() > 40, "found only {} files", files.len());
    let mut named = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a file");
        let relative = file.strip_prefix(root).unwrap().display().to_string();
        match storage_paths_outside(&text) {
            Ok(paths) => named.extend(paths.into_iter().map(|p| format!("{relative}: {p}"))),
            Err(e) => named.push(format!("{relative}: does not parse: {e}")),
        }
    }
    assert!(
        named.is_empty(),
        "outside the crate, reach storage through services:\n{}",
        named.join("\n")
    );
}

#[test]
fn storage_named_from_outside_the_crate_is_caught_in_every_form() {
    for source in [
        "use portcullis::db;",
        "use portcullis::{app::AppState, db::audit};",
        "fn f() { let _ = portcullis::db::connect; }",
        "async fn f(p: &portcullis::db::Pool) {}",
    ] {
        assert_eq!(
            storage_paths_outside(source).unwrap().len(),
            1,
            "not caught: {source}"
        );
    }
    assert!(
        storage_paths_outside("use portcullis::bootstrap::Pool;")
            .unwrap()
            .is_empty()
    );
    // A module of the same name elsewhere is not ours.
    assert!(
        storage_paths_outside("use other::db::Pool;")
            .unwrap()
            .is_empty()
    );
}
