//! docs/security.md, the ASVS 4.0.3 Level 2 record of V2, V3 and V4, kept true: one row per
//! Level 1 and 2 item, every test it names exists and is a test, the summary counts match the
//! rows, and no row waits for a test (`PENDING`). Two items had no test of their own (2.1.3
//! truncation, 4.3.2 directory listing); their proofs live here, next to the record that cites
//! them.

use crate::helpers::*;
use std::collections::BTreeMap;
use std::path::Path;

/// The record, compiled in so the test depends on nothing outside the repository.
const RECORD: &str = include_str!("../../docs/security.md");

/// Every Level 1 and Level 2 item of OWASP ASVS 4.0.3 (tag `v4.0.3_release`), chapters V2, V3 and
/// V4, in the standard's order. 4.1.4 is not here: the standard deleted it as a duplicate of
/// 4.1.3. Level 3 only: 2.2.4 to 2.2.7, 3.6.1 and 3.6.2.
const ITEMS: &[&str] = &[
    // V2.1 Password security
    "2.1.1", "2.1.2", "2.1.3", "2.1.4", "2.1.5", "2.1.6", "2.1.7", "2.1.8", "2.1.9", "2.1.10",
    "2.1.11", "2.1.12", // V2.2 General authenticator security
    "2.2.1", "2.2.2", "2.2.3", // V2.3 Authenticator lifecycle
    "2.3.1", "2.3.2", "2.3.3", // V2.4 Credential storage
    "2.4.1", "2.4.2", "2.4.3", "2.4.4", "2.4.5", // V2.5 Credential recovery
    "2.5.1", "2.5.2", "2.5.3", "2.5.4", "2.5.5", "2.5.6", "2.5.7",
    // V2.6 Look-up secret verifier
    "2.6.1", "2.6.2", "2.6.3", // V2.7 Out of band verifier
    "2.7.1", "2.7.2", "2.7.3", "2.7.4", "2.7.5", "2.7.6", // V2.8 One-time verifier
    "2.8.1", "2.8.2", "2.8.3", "2.8.4", "2.8.5", "2.8.6", "2.8.7",
    // V2.9 Cryptographic verifier
    "2.9.1", "2.9.2", "2.9.3", // V2.10 Service authentication
    "2.10.1", "2.10.2", "2.10.3", "2.10.4", // V3.1 to V3.5, V3.7 Session management
    "3.1.1", "3.2.1", "3.2.2", "3.2.3", "3.2.4", "3.3.1", "3.3.2", "3.3.3", "3.3.4", "3.4.1",
    "3.4.2", "3.4.3", "3.4.4", "3.4.5", "3.5.1", "3.5.2", "3.5.3", "3.7.1",
    // V4 Access control
    "4.1.1", "4.1.2", "4.1.3", "4.1.5", "4.2.1", "4.2.2", "4.3.1", "4.3.2", "4.3.3",
];

/// The statuses a row may have, as its status cell starts; "met (issue 18 item N)" is met.
const STATUSES: &[&str] = &["met", "partly", "not met", "not applicable"];

/// One row of an item table: its id, status and the cell of tests (or the reason).
struct Row<'a> {
    id: &'a str,
    status: &'a str,
    shown_by: &'a str,
}

/// The cells of a Markdown table line, trimmed, without the outer pipes.
fn cells(line: &str) -> Vec<&str> {
    line.trim()
        .trim_start_matches('|')
        .trim_end_matches('|')
        .split('|')
        .map(str::trim)
        .collect()
}

/// Whether `cell` looks like an item id (digits and dots, three parts).
fn is_item_id(cell: &str) -> bool {
    let parts: Vec<&str> = cell.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The item rows of the record: table lines whose first cell is an item id.
fn rows() -> Vec<Row<'static>> {
    RECORD
        .lines()
        .filter(|l| l.trim_start().starts_with('|'))
        .filter_map(|line| {
            let cells = cells(line);
            if !is_item_id(cells.first()?) {
                return None;
            }
            assert_eq!(
                cells.len(),
                5,
                "a row has five cells (item, requirement, status, how, shown by): {line}"
            );
            Some(Row {
                id: cells[0],
                status: cells[2],
                shown_by: cells[4],
            })
        })
        .collect()
}

/// The status a status cell names (the longest of [`STATUSES`] it starts with).
fn status_of(cell: &str) -> Option<&'static str> {
    STATUSES
        .iter()
        .copied()
        .filter(|s| {
            cell == *s
                || cell
                    .strip_prefix(s)
                    .is_some_and(|rest| rest.starts_with(' '))
        })
        .max_by_key(|s| s.len())
}

/// Every `` `PATH.rs::NAME` `` the record names, as (path, name).
fn references() -> Vec<(&'static str, &'static str)> {
    RECORD
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|code| {
            let (path, name) = code.split_once(".rs::")?;
            let is_ident = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            (is_ident && (path.starts_with("tests/") || path.starts_with("src/")))
                .then(|| (&code[..path.len() + 3], name))
        })
        .collect()
}

/// Whether `source` declares `fn name` with a `#[test]` or `#[tokio::test]` attribute among the
/// attributes and comments right above it.
fn declares_test(source: &str, name: &str) -> bool {
    let lines: Vec<&str> = source.lines().collect();
    lines.iter().enumerate().any(|(at, line)| {
        let declared = line
            .trim_start()
            .trim_start_matches("pub ")
            .trim_start_matches("async ")
            .strip_prefix("fn ")
            .and_then(|rest| rest.strip_prefix(name))
            .is_some_and(|rest| rest.starts_with('(') || rest.starts_with('<'));
        if !declared {
            return false;
        }
        let attributes: Vec<&str> = lines[..at]
            .iter()
            .rev()
            .map(|l| l.trim())
            .take_while(|l| l.starts_with("#[") || l.starts_with("//") || l.ends_with(")]"))
            .collect();
        // An ignored test runs nowhere, so it shows nothing: it cannot stand behind a row.
        attributes
            .iter()
            .any(|l| l.starts_with("#[test]") || l.starts_with("#[tokio::test"))
            && !attributes.iter().any(|l| l.starts_with("#[ignore"))
    })
}

#[test]
fn every_asvs_level_1_and_2_item_of_v2_v3_and_v4_has_exactly_one_row() {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for row in rows() {
        assert!(
            ITEMS.contains(&row.id),
            "{} is not an L1/L2 item of V2, V3 or V4 in ASVS 4.0.3",
            row.id
        );
        *seen.entry(row.id).or_default() += 1;
        assert!(
            status_of(row.status).is_some(),
            "{}: the status {:?} is not one of {STATUSES:?}",
            row.id,
            row.status
        );
        assert!(
            !row.shown_by.is_empty(),
            "{}: name the test that shows it, or the reason it does not apply",
            row.id
        );
        if status_of(row.status) == Some("not applicable") {
            assert!(
                row.shown_by.contains("reason:"),
                "{}: a row that does not apply says why (`reason: ...`)",
                row.id
            );
        }
        if status_of(row.status) == Some("met") {
            assert!(
                row.shown_by.contains(".rs::") || row.shown_by.contains("PENDING("),
                "{}: a met row names the test that shows it",
                row.id
            );
        }
    }
    for id in ITEMS {
        assert_eq!(
            seen.get(id).copied().unwrap_or(0),
            1,
            "item {id} must have exactly one row in docs/security.md"
        );
    }
}

#[test]
fn the_summary_counts_match_the_rows() {
    let rows = rows();
    let count = |status: &str| {
        rows.iter()
            .filter(|r| status_of(r.status) == Some(status))
            .count()
    };
    let summary = format!(
        "**Summary:** {} items at L1 and L2: {} met, {} partly, {} not met, {} not applicable.",
        rows.len(),
        count("met"),
        count("partly"),
        count("not met"),
        count("not applicable"),
    );
    assert!(
        RECORD.contains(&summary),
        "docs/security.md's summary line should read: {summary}"
    );
}

#[test]
fn every_test_the_security_record_names_exists_and_is_a_test() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let references = references();
    assert!(references.len() > 80, "the record names its tests");
    let mut missing = Vec::new();
    for (path, name) in references {
        let source = std::fs::read_to_string(root.join(path)).unwrap_or_default();
        if !declares_test(&source, name) {
            missing.push(format!("{path}::{name}"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/security.md names tests that do not exist (or are not #[test]/#[tokio::test]): {missing:#?}"
    );
}

#[test]
fn no_row_of_the_security_record_is_pending() {
    // Rows met by issue 18's items were written before those items merged; the lead replaces
    // each `PENDING(item N)` with the test that item added.
    let pending: Vec<&str> = RECORD
        .lines()
        .filter(|l| l.trim_start().starts_with('|') && l.contains("PENDING("))
        .map(|l| cells(l).first().copied().unwrap_or(l))
        .collect();
    assert!(
        pending.is_empty(),
        "rows of docs/security.md still waiting for their test: {pending:?}"
    );
}

#[test]
fn the_checker_recognises_tests_and_nothing_else() {
    let ignored = concat!("#[", "ignore]");
    let source = format!(
        "#[tokio::test]\nasync fn a_b() {{}}\n\n/// doc\n#[test]\n#[should_panic]\nfn c_d() {{}}\nfn e_f() {{}}\n#[test]\nfn a_b_c() {{}}\n#[test]\n{ignored}\nfn g_h() {{}}\n"
    );
    let source = source.as_str();
    assert!(declares_test(source, "a_b"));
    assert!(declares_test(source, "c_d"));
    assert!(
        !declares_test(source, "g_h"),
        "an ignored test shows nothing"
    );
    assert!(
        !declares_test(source, "e_f"),
        "a plain function is not a test"
    );
    assert!(
        !declares_test(source, "a"),
        "a prefix of a test's name is not it"
    );
    assert_eq!(status_of("met (issue 18 item 3)"), Some("met"));
    assert_eq!(status_of("not met"), Some("not met"));
    assert_eq!(status_of("partly (issue 18 item 9)"), Some("partly"));
    assert_eq!(status_of("metal"), None);
}

#[tokio::test]
async fn a_password_is_not_truncated_at_72_bytes() {
    // bcrypt stops at 72 bytes; Argon2id reads it all. Two passwords equal in their first 80
    // bytes must still be two passwords.
    let app = spawn_app().await;
    let head = "violet-harbour-crane-1987-amber-lighthouse-orbit-2044-tidal-Quartz-lantern-91-xx";
    assert!(head.len() >= 80);
    let password = format!("{head}-copper-meadow");
    portcullis::account::create_user(
        &app.state,
        &portcullis::account::NewUser {
            email: "ada@example.com",
            first_name: "Ada",
            last_name: "Lovelace",
            password: &secrecy::SecretString::from(password.clone()),
            verified: true,
            owns_account: true,
        },
    )
    .await
    .expect("a long password is accepted");

    let r = app
        .client_login_with(&new_client(), "ada@example.com", &password)
        .await;
    assert_eq!(r.status(), 303, "the whole password signs in");
    let r = app
        .client_login_with(
            &new_client(),
            "ada@example.com",
            &format!("{head}-silver-harbour"),
        )
        .await;
    assert_eq!(
        r.status(),
        401,
        "a password differing after byte 80 is wrong"
    );
}

#[tokio::test]
async fn no_directory_listing_or_metadata_file_is_served() {
    let app = spawn_app().await;
    for path in [
        "/static",
        "/static/",
        "/static/.DS_Store",
        "/.git/config",
        "/.git/HEAD",
        "/.svn/entries",
        "/.DS_Store",
        "/Thumbs.db",
        "/.env",
        "/static/%2e%2e/Cargo.toml",
        "/templates/",
        "/migrations/",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 404, "{path}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("Index of"), "{path}: {body}");
    }
    // The two files that are served are served as themselves.
    assert_eq!(app.get("/static/portcullis.css").await.status(), 200);
}
