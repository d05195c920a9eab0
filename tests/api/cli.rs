//! The `portcullis` binary: commands, exit codes, configuration errors, and a doctor that runs
//! as a separate process and sees what the server recorded.

use crate::helpers::*;
use std::io::Write as _;
use std::process::{Command, Stdio};

fn portcullis(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.env_remove("PORTCULLIS_CONFIG")
        .env("PORTCULLIS__DATA_DIR", dir)
        .env(
            "PORTCULLIS__PROXY__CLOUDFLARE_URL",
            crate::helpers::NO_CLOUDFLARE,
        )
        .env("RUST_LOG", "warn")
        .current_dir(dir);
    cmd
}

fn run_with_stdin(mut cmd: Command, input: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_lists_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = portcullis(dir.path()).arg("--help").output().unwrap();
    let help = text(&out.stdout);
    for c in ["serve", "migrate", "admin", "user", "doctor"] {
        assert!(help.contains(c), "{help}");
    }
}

#[test]
fn migrate_creates_the_database_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = portcullis(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("portcullis.db").exists());
    let again = portcullis(dir.path()).arg("migrate").output().unwrap();
    assert!(text(&again.stdout).contains("0 migration(s) applied now"));
}

#[test]
fn admin_create_reads_the_password_from_stdin_and_refuses_weak_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = portcullis(dir.path());
    cmd.args([
        "admin",
        "create",
        "--username",
        "root1",
        "--email",
        "root@example.com",
        "--password-stdin",
    ]);
    let out = run_with_stdin(cmd, &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Created admin root1"));

    let mut cmd = portcullis(dir.path());
    cmd.args([
        "admin",
        "create",
        "--username",
        "root2",
        "--email",
        "root2@example.com",
        "--password-stdin",
    ]);
    let out = run_with_stdin(cmd, "password\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--password:"),
        "{}",
        text(&out.stderr)
    );

    let mut cmd = portcullis(dir.path());
    cmd.args([
        "admin",
        "create",
        "--username",
        "root1",
        "--email",
        "x@example.com",
        "--password-stdin",
    ]);
    let out = run_with_stdin(cmd, &format!("{PASSWORD}\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("already exists"));
}

#[test]
fn admin_create_refuses_an_unknown_role_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = portcullis(dir.path());
    cmd.args([
        "admin",
        "create",
        "--username",
        "root1",
        "--email",
        "root@example.com",
        "--role",
        "Janitor",
        "--password-stdin",
    ]);
    let out = run_with_stdin(cmd, &format!("{PASSWORD}\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no role called \"Janitor\""));
}

#[test]
fn user_create_makes_a_user_with_a_client_account() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = portcullis(dir.path());
    cmd.args([
        "user",
        "create",
        "--email",
        "ada@example.com",
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
        "--password-stdin",
    ]);
    let out = run_with_stdin(cmd, PASSWORD);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("owning client account"));
}

#[test]
fn a_bad_configuration_value_stops_start_up_naming_key_value_and_allowed_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = portcullis(dir.path())
        .env("PORTCULLIS__SERVER__LISTEN", "everywhere")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("server.listen")
            && err.contains("everywhere")
            && err.contains("127.0.0.1:8080"),
        "{err}"
    );
    assert!(!err.contains("panicked"));

    let file = dir.path().join("portcullis.toml");
    std::fs::write(&file, "[session]\nclient_idle_minuts = 30\n").unwrap();
    let out = portcullis(dir.path())
        .arg("--config")
        .arg(&file)
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("session.client_idle_minuts"),
        "{}",
        text(&out.stderr)
    );

    let out = portcullis(dir.path())
        .env("PORTCULLIS_CONFIG", dir.path().join("missing.toml"))
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing.toml"));
}

#[test]
fn doctor_json_has_the_documented_shape_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        portcullis(dir.path())
            .arg("migrate")
            .output()
            .unwrap()
            .status
            .success()
    );
    let out = portcullis(dir.path())
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = json["checks"].as_array().unwrap();
    assert!(checks.len() >= 8);
    for c in checks {
        for key in ["id", "severity", "summary", "cause", "next_step", "fixable"] {
            assert!(c.get(key).is_some(), "{key} in {c}");
        }
    }
    let worst = checks
        .iter()
        .map(|c| c["severity"].as_str().unwrap())
        .fold(0, |w, s| {
            w.max(match s {
                "ok" => 0,
                "warning" => 1,
                _ => 2,
            })
        });
    assert_eq!(out.status.code(), Some(worst));
    let config = checks.iter().find(|c| c["id"] == "config").unwrap();
    assert!(
        config["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.as_str().unwrap().contains("(env PORTCULLIS__DATA_DIR)")),
        "{config}"
    );
}

#[test]
fn doctor_exits_2_when_a_check_fails_and_2_when_it_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        portcullis(dir.path())
            .arg("migrate")
            .output()
            .unwrap()
            .status
            .success()
    );
    let out = portcullis(dir.path())
        .env("PORTCULLIS__STORAGE__MIN_FREE_MB", "1099511627776")
        .arg("doctor")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("[error  ] storage.disk"),
        "{}",
        text(&out.stdout)
    );

    let out = portcullis(dir.path())
        .env(
            "PORTCULLIS__DATABASE__URL",
            format!("sqlite://{}/nope/x.db?mode=ro", dir.path().display()),
        )
        .arg("doctor")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn doctor_fix_of_an_unknown_or_unfixable_check_exits_2_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        portcullis(dir.path())
            .arg("migrate")
            .output()
            .unwrap()
            .status
            .success()
    );
    let out = portcullis(dir.path())
        .args(["doctor", "--fix", "no.such"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no check called"));
    let out = portcullis(dir.path())
        .args(["doctor", "--fix", "session.timeout"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no automatic fix"));
}

#[tokio::test]
async fn the_doctor_as_a_separate_process_sees_what_the_server_counted() {
    let app = spawn_app().await;
    app.use_real_time();
    for _ in 0..6 {
        app.post_form(&app.client, "/login", &[("email", "a@b.example")])
            .await;
    }
    let dir = app.dir.path().to_owned();
    let db_url = app.state.config.database_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        portcullis(&dir)
            .env("PORTCULLIS__DATABASE__URL", &db_url)
            .args(["doctor", "--json"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let csrf = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "csrf.failures")
        .unwrap()
        .clone();
    assert_eq!(csrf["severity"], "warning", "{csrf}");
    assert!(
        csrf["summary"].as_str().unwrap().contains("missing"),
        "{csrf}"
    );
}

#[test]
fn serve_prints_a_one_time_setup_link_when_no_admin_exists() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let mut child = portcullis(dir.path())
        .env("PORTCULLIS__SERVER__LISTEN", "127.0.0.1:0")
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut link = None;
    for printed in std::io::BufReader::new(stdout).lines().take(10) {
        let printed = printed.unwrap();
        if let Some(i) = printed.find("http://127.0.0.1:8080/admin/setup/") {
            link = Some(printed[i..].trim().to_owned());
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let link = link.expect("serve printed a setup link");
    assert_eq!(link.len(), "http://127.0.0.1:8080/admin/setup/".len() + 43);
}

/// Issue 18, item 20: a hash piped into `--password-stdin` is refused (it would become the
/// password text), the message names the import; a real password still works after it.
#[test]
fn user_and_admin_create_refuse_a_pasted_hash_and_name_the_import() {
    let dir = tempfile::tempdir().unwrap();
    for (hash, format) in [
        (
            "$2y$10$abcdefghijklmnopqrstuuT1Bm4w0f0sCGaCCEXHLq0/2b7dEY.Ma",
            "bcrypt",
        ),
        (
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
            "Argon2",
        ),
        ("5f4dcc3b5aa765d61d8327deb882cf99:Xy7", "WHMCS md5:salt"),
        ("5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", "hex digest"),
    ] {
        let mut cmd = portcullis(dir.path());
        cmd.args([
            "user",
            "create",
            "--email",
            "ada@example.com",
            "--first-name",
            "Ada",
            "--last-name",
            "Lovelace",
            "--password-stdin",
        ]);
        let out = run_with_stdin(cmd, &format!("{hash}\n"));
        assert_eq!(out.status.code(), Some(2), "{hash}: {}", text(&out.stdout));
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("is a {format} hash"))
                && err.contains(
                    "to move existing hashes, use the import (portcullis import whmcs, coming); \
                     this command takes a password"
                ),
            "{hash}: {err}"
        );
        assert!(!text(&out.stdout).contains("Created"), "{hash}");
    }
    let mut cmd = portcullis(dir.path());
    cmd.args([
        "admin",
        "create",
        "--username",
        "root1",
        "--email",
        "root@example.com",
        "--password-stdin",
    ]);
    let out = run_with_stdin(
        cmd,
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("portcullis import whmcs"),
        "{}",
        text(&out.stderr)
    );

    // The address was not taken by the refused attempts: a password creates the user.
    let mut cmd = portcullis(dir.path());
    cmd.args([
        "user",
        "create",
        "--email",
        "ada@example.com",
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
        "--password-stdin",
    ]);
    let out = run_with_stdin(cmd, "tidal-Quartz-lantern-91\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn forward_auth_explain_names_the_rule_and_whether_a_person_passes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[forward_auth]\nrules = [\"status.test /public bypass\", \"billing.test / client:invoices\", \"ops.test / admin:manage_admins\"]\n",
    )
    .unwrap();
    let mut create = portcullis(dir.path());
    create.env("PORTCULLIS_CONFIG", &config).args([
        "user",
        "create",
        "--email",
        "ada@example.com",
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
        "--password-stdin",
    ]);
    assert!(run_with_stdin(create, PASSWORD).status.success());
    let explain = |args: &[&str]| {
        let out = portcullis(dir.path())
            .env("PORTCULLIS_CONFIG", &config)
            .arg("forward-auth")
            .arg("explain")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let out = explain(&["http://billing.test/pay", "--user", "ada@example.com"]);
    assert!(
        out.contains("Rule 2: billing.test / client:invoices"),
        "{out}"
    );
    assert!(
        out.contains("ada@example.com passes while their active account"),
        "{out}"
    );
    assert!(out.contains("Rule 1 comes first"), "{out}");
    let out = explain(&["http://ops.test/", "--user", "ada@example.com"]);
    assert!(out.contains("asks for an admin session"), "{out}");
    let out = explain(&["http://status.test/public/%2e%2e/x"]);
    assert!(out.contains("URL as judged: status.test/x"), "{out}");
    assert!(out.contains("Denied: no rule covers this URL."), "{out}");
    let out = explain(&["not a url"]);
    assert!(out.contains("cannot be judged"), "{out}");
}
