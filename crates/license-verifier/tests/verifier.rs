//! End-to-end checks against fake servers on 127.0.0.1: online and offline verdicts, each
//! failing stage of the connection (F07), identity from configuration (F03) and a moved
//! installation (F04). Time is passed in, never waited for.

mod common;

use std::sync::Arc;

use base64::Engine as _;

use common::*;
use license_verifier::protocol::{Answer, Bindings, Mismatch, Status, VerifyRequest, Which};
use license_verifier::{StepKind, Timeouts, Verdict, Verifier, fetch_keys};

fn stages(steps: &[license_verifier::Step]) -> Vec<&'static str> {
    steps.iter().map(|s| s.stage).collect()
}

#[test]
fn valid_answer_is_saved_and_then_used_without_network() {
    let server = FakeServer::start(answering(Status::Active, NOW, |_| {}));
    let v = Verifier::new(config(&server.url(), "valid"));
    let (verdict, steps) = v.check_with_steps(NOW);
    assert_eq!(verdict, Verdict::Valid, "{steps:#?}");
    for stage in [
        "identity",
        "key",
        "local key",
        "DNS",
        "connect",
        "HTTP",
        "signature",
        "store",
    ] {
        assert!(
            stages(&steps).contains(&stage),
            "{stage} missing: {steps:#?}"
        );
    }
    assert!(steps.iter().all(|s| s.ok), "{steps:#?}");
    assert!(v.config().key_file.exists());
    server.stop();

    let (verdict, steps) = v.check_with_steps(NOW + DAY);
    assert_eq!(verdict, Verdict::Valid, "{steps:#?}");
    assert!(
        !stages(&steps).contains(&"DNS"),
        "no network expected: {steps:#?}"
    );
}

#[test]
fn chunked_response_is_read() {
    let server = FakeServer::start(Arc::new(|_path, body| {
        let req: VerifyRequest = serde_json::from_slice(body).unwrap();
        let json = signed_json(&answer(&req, Status::Active, NOW), "k1", &SECRET);
        let (a, b) = json.split_at(json.len() / 2);
        let mut out =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
        for part in [a, b] {
            out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            out.extend_from_slice(part);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }));
    let v = Verifier::new(config(&server.url(), "chunked"));
    assert_eq!(v.check(NOW), Verdict::Valid);
}

#[test]
fn f07_server_down_is_valid_offline_in_grace_then_no_connection_at_connect() {
    let server = FakeServer::start(answering(Status::Active, NOW, |_| {}));
    let v = Verifier::new(config(&server.url(), "grace"));
    assert_eq!(v.check(NOW), Verdict::Valid);
    server.stop();

    // Past the next check (7 days) but inside the grace (14 days).
    let grace_until = NOW + 14 * DAY;
    let verdict = v.check(NOW + 8 * DAY);
    assert_eq!(verdict, Verdict::ValidOffline { grace_until });
    assert!(verdict.is_usable());
    assert!(verdict.to_string().contains("2026-12-12"), "{verdict}");

    let (verdict, steps) = v.check_with_steps(NOW + 15 * DAY);
    match &verdict {
        Verdict::NoConnection {
            step: StepKind::Connect,
            detail,
            grace_until: Some(g),
        } => {
            assert_eq!(*g, grace_until);
            assert!(detail.contains("127.0.0.1"), "{detail}");
        }
        other => panic!("{other:?} {steps:#?}"),
    }
    assert!(!verdict.is_usable());
    let text = verdict.to_string();
    assert!(text.contains("firewall") && text.contains("443"), "{text}");
    assert!(steps.iter().any(|s| s.stage == "connect" && !s.ok));
}

#[test]
fn f07_dns_failure_names_the_host() {
    let v = Verifier::new(config("https://licence.invalid", "dns"));
    let (verdict, steps) = v.check_with_steps(NOW);
    match &verdict {
        Verdict::NoConnection {
            step: StepKind::Dns,
            detail,
            grace_until: None,
        } => assert!(detail.contains("licence.invalid"), "{detail}"),
        other => panic!("{other:?} {steps:#?}"),
    }
    assert!(verdict.to_string().contains("DNS resolver"), "{verdict}");
    assert!(!stages(&steps).contains(&"connect"));
}

#[test]
fn a_bad_server_url_is_a_configuration_problem_not_dns() {
    let v = Verifier::new(config("ftp://licence.example.com", "bad-url"));
    let (verdict, steps) = v.check_with_steps(NOW);
    match &verdict {
        Verdict::NoConnection {
            step: StepKind::Url,
            detail,
            ..
        } => assert!(detail.contains("https://"), "{detail}"),
        other => panic!("{other:?} {steps:#?}"),
    }
    let text = verdict.to_string();
    assert!(
        text.contains("configuration") && !text.contains("DNS"),
        "{text}"
    );
    assert!(!stages(&steps).contains(&"DNS"), "no network: {steps:#?}");
    assert!(matches!(
        fetch_keys("ftp://licence.example.com", Timeouts::default(), &[]),
        Err((StepKind::Url, _))
    ));
}

#[test]
fn f07_refused_connection_is_the_connect_step() {
    let port = closed_port();
    let v = Verifier::new(config(&format!("http://127.0.0.1:{port}"), "refused"));
    let (verdict, steps) = v.check_with_steps(NOW);
    assert!(
        matches!(
            &verdict,
            Verdict::NoConnection { step: StepKind::Connect, detail, grace_until: None }
                if detail.contains(&port.to_string())
        ),
        "{verdict:?}"
    );
    assert!(stages(&steps).contains(&"DNS"));
}

#[test]
fn f07_untrusted_certificate_is_the_tls_step_and_trusting_it_succeeds() {
    let (tls, cert) = tls_config();
    let server = FakeServer::start_tls(answering(Status::Active, NOW, |_| {}), tls);
    let url = format!("https://localhost:{}", server.port);

    let v = Verifier::new(config(&url, "tls-untrusted"));
    let (verdict, steps) = v.check_with_steps(NOW);
    match &verdict {
        Verdict::NoConnection {
            step: StepKind::Tls,
            detail,
            ..
        } => assert!(detail.contains("localhost"), "{detail}"),
        other => panic!("{other:?} {steps:#?}"),
    }
    assert!(verdict.to_string().contains("certificate"), "{verdict}");

    let v = Verifier::new(config(&url, "tls-trusted").with_extra_root_der(cert));
    let (verdict, steps) = v.check_with_steps(NOW);
    assert_eq!(verdict, Verdict::Valid, "{steps:#?}");
    assert!(steps.iter().any(|s| s.stage == "TLS" && s.ok), "{steps:#?}");
    assert_eq!(server.requests.lock().unwrap().len(), 1);
}

#[test]
fn f07_http_500_is_the_http_step() {
    let server = FakeServer::start(Arc::new(|_, _| http_response(500, b"internal error")));
    let v = Verifier::new(config(&server.url(), "http500"));
    let verdict = v.check(NOW);
    assert!(
        matches!(&verdict, Verdict::NoConnection { step: StepKind::Http(500), detail, .. } if detail.contains("internal error")),
        "{verdict:?}"
    );
    assert!(verdict.to_string().contains("HTTP 500"));
}

#[test]
fn f07_answer_signed_by_an_unpinned_key_is_the_signature_step() {
    for (key_id, secret) in [("k1", [9u8; 32]), ("k9", [9u8; 32])] {
        let server = FakeServer::start(Arc::new(move |_, body| {
            let req: VerifyRequest = serde_json::from_slice(body).unwrap();
            let mut a = answer(&req, Status::Active, NOW);
            a.key_id = key_id.into();
            http_response(200, &signed_json(&a, key_id, &secret))
        }));
        let v = Verifier::new(config(&server.url(), "unpinned"));
        let (verdict, steps) = v.check_with_steps(NOW);
        assert!(
            matches!(
                &verdict,
                Verdict::NoConnection {
                    step: StepKind::Signature,
                    ..
                }
            ),
            "{verdict:?}"
        );
        assert!(verdict.to_string().contains("pinned"), "{verdict}");
        assert!(steps.iter().any(|s| s.stage == "signature" && !s.ok));
        assert!(
            !v.config().key_file.exists(),
            "an untrusted answer is never saved"
        );
    }
}

#[test]
fn f07_replayed_answer_with_another_nonce_is_the_signature_step() {
    let server = FakeServer::start(answering(Status::Active, NOW, |a| {
        a.nonce = "an-old-nonce".into();
    }));
    let v = Verifier::new(config(&server.url(), "replay"));
    let verdict = v.check(NOW);
    assert!(
        matches!(&verdict, Verdict::NoConnection { step: StepKind::Signature, detail, .. } if detail.contains("nonce")),
        "{verdict:?}"
    );
}

#[test]
fn tampered_local_key_file_is_ignored_and_the_server_is_asked() {
    let server = FakeServer::start(answering(Status::Active, NOW, |_| {}));
    let v = Verifier::new(config(&server.url(), "tamper"));
    assert_eq!(v.check(NOW), Verdict::Valid);
    let path = &v.config().key_file;

    // Extend the grace by a year inside the signed payload, keeping the old signature.
    let mut file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = b64
        .decode(file["answer"]["payload"].as_str().unwrap())
        .unwrap();
    let mut answer: Answer = serde_json::from_slice(&payload).unwrap();
    answer.grace_until += 365 * DAY;
    file["answer"]["payload"] = b64.encode(serde_json::to_vec(&answer).unwrap()).into();
    std::fs::write(path, serde_json::to_vec(&file).unwrap()).unwrap();

    let (verdict, steps) = v.check_with_steps(NOW + DAY);
    assert_eq!(verdict, Verdict::Valid);
    assert!(
        steps
            .iter()
            .any(|s| s.stage == "local key" && !s.ok && s.detail.contains("ignored")),
        "{steps:#?}"
    );
    assert_eq!(
        server.requests.lock().unwrap().len(),
        2,
        "went online again"
    );

    // Garbage, with the server gone: nothing to fall back on.
    std::fs::write(path, b"{not json").unwrap();
    server.stop();
    let verdict = v.check(NOW + 2 * DAY);
    assert!(
        matches!(
            verdict,
            Verdict::NoConnection {
                step: StepKind::Connect,
                grace_until: None,
                ..
            }
        ),
        "{verdict:?}"
    );
}

#[test]
fn clock_moved_back_is_detected_beyond_the_tolerance() {
    let server = FakeServer::start(answering(Status::Active, NOW, |_| {}));
    let v = Verifier::new(config(&server.url(), "clock"));
    assert_eq!(v.check(NOW), Verdict::Valid);
    // An offline check later moves the last-seen time forward.
    assert_eq!(v.check(NOW + 3 * DAY), Verdict::Valid);

    let verdict = v.check(NOW + DAY);
    assert_eq!(
        verdict,
        Verdict::ClockMovedBack {
            last_seen: NOW + 3 * DAY,
            now: NOW + DAY
        }
    );
    assert!(verdict.to_string().contains("2026-12-01"), "{verdict}");
    // A small correction (under 10 minutes) is tolerated.
    assert_eq!(v.check(NOW + 3 * DAY - 300), Verdict::Valid);
}

#[test]
fn a_clock_an_hour_behind_the_server_is_not_a_clock_moved_back() {
    // The server's signed issued_at is an hour ahead of this installation's clock.
    let server = FakeServer::start(answering(Status::Active, NOW + 3600, |_| {}));
    let v = Verifier::new(config(&server.url(), "slow-clock"));
    let (verdict, steps) = v.check_with_steps(NOW);
    assert_eq!(verdict, Verdict::Valid, "{steps:#?}");
    assert!(
        steps
            .iter()
            .any(|s| s.stage == "clock" && s.ok && s.detail.contains("1 h 0 min behind")),
        "the offset is reported, not refused: {steps:#?}"
    );
    // The next checks, offline from the saved answer, still pass on the slow clock.
    assert_eq!(v.check(NOW + 60), Verdict::Valid);
    assert_eq!(v.check(NOW + 120), Verdict::Valid);
    server.stop();
    // A real rollback against this installation's own earlier readings is still caught.
    assert_eq!(
        v.check(NOW - DAY),
        Verdict::ClockMovedBack {
            last_seen: NOW + 120,
            now: NOW - DAY
        }
    );
}

#[test]
fn suspended_is_mapped_and_never_used_offline() {
    let server = FakeServer::start(answering(Status::Suspended, NOW, |_| {}));
    let v = Verifier::new(config(&server.url(), "suspended"));
    let verdict = v.check(NOW);
    assert_eq!(verdict, Verdict::Suspended);
    assert!(verdict.to_string().contains("suspended"));
    server.stop();
    // Cutting the network does not bring back a suspended licence.
    assert!(matches!(
        v.check(NOW + DAY),
        Verdict::NoConnection {
            grace_until: None,
            ..
        }
    ));
}

#[test]
fn expired_is_mapped_with_its_date() {
    let at = NOW - 2 * DAY;
    let server = FakeServer::start(answering(Status::Expired, NOW, move |a| {
        a.expires_at = Some(at);
    }));
    let verdict = Verifier::new(config(&server.url(), "expired")).check(NOW);
    assert_eq!(verdict, Verdict::Expired { at: Some(at) });
    assert!(verdict.to_string().contains("2026-11-26"), "{verdict}");
}

#[test]
fn unknown_key_is_mapped() {
    let server = FakeServer::start(answering(Status::Unknown, NOW, |a| {
        a.bindings = Bindings::default();
    }));
    assert_eq!(
        Verifier::new(config(&server.url(), "unknown")).check(NOW),
        Verdict::UnknownKey
    );
}

#[test]
fn malformed_is_mapped() {
    let server = FakeServer::start(answering(Status::Malformed, NOW, |_| {}));
    assert!(matches!(
        Verifier::new(config(&server.url(), "malformed")).check(NOW),
        Verdict::MalformedKey { .. }
    ));
}

#[test]
fn mistyped_key_is_refused_offline() {
    let mut cfg = config(&format!("http://127.0.0.1:{}", closed_port()), "typo");
    let key = cfg.license_key.clone();
    let last = if key.ends_with('0') { "1" } else { "0" };
    cfg.license_key = format!("{}{last}", &key[..key.len() - 1]);
    let (verdict, steps) = Verifier::new(cfg).check_with_steps(NOW);
    assert!(
        matches!(verdict, Verdict::MalformedKey { .. }),
        "{verdict:?}"
    );
    assert!(!stages(&steps).contains(&"DNS"));
}

#[test]
fn f04_binding_mismatch_names_which_presented_and_allowed() {
    let server = FakeServer::start(answering(Status::BindingMismatch, NOW, |a| {
        a.bindings.domains = vec!["old.example.com".into()];
        a.mismatch = Some(Mismatch {
            which: Which::Domain,
            presented: DOMAIN.into(),
            allowed: vec!["old.example.com".into()],
        });
    }));
    let verdict = Verifier::new(config(&server.url(), "mismatch")).check(NOW);
    assert_eq!(
        verdict,
        Verdict::BindingMismatch {
            which: Which::Domain,
            presented: DOMAIN.into(),
            allowed: vec!["old.example.com".into()],
            reissue_url: "https://licence.example.com/reissue".into(),
            reissues_left: Some(2),
            also: Vec::new(),
        }
    );
    assert_eq!(
        verdict.to_string(),
        "This licence is bound to the domain old.example.com, but this installation is \
         shop.example.com. If you moved it, reissue the licence at \
         https://licence.example.com/reissue (2 reissues left); the next check then binds it here."
    );
}

#[test]
fn f04_moved_installation_does_not_run_on_the_old_places_answer() {
    let server = FakeServer::start(answering(Status::Active, NOW, |_| {}));
    let v = Verifier::new(config(&server.url(), "moved"));
    assert_eq!(v.check(NOW), Verdict::Valid);
    server.stop();

    let moved = v
        .config()
        .clone()
        .with_identity("www.example.org", IP, DIRECTORY);
    let (verdict, steps) = Verifier::new(moved).check_with_steps(NOW + DAY);
    assert!(
        matches!(
            verdict,
            Verdict::NoConnection {
                grace_until: None,
                ..
            }
        ),
        "{verdict:?}"
    );
    assert!(
        steps
            .iter()
            .any(|s| s.detail.contains("not usable offline")),
        "{steps:#?}"
    );
}

#[test]
fn f03_incomplete_identity_names_the_missing_fields_and_how_to_set_them() {
    let mut cfg = config(&format!("http://127.0.0.1:{}", closed_port()), "identity")
        .with_identity_setting("Set licence.ip and licence.directory in /etc/acme.toml.");
    cfg.ip = Some("  ".into());
    cfg.directory = None;
    let (verdict, steps) = Verifier::new(cfg).check_with_steps(NOW);
    assert_eq!(
        verdict,
        Verdict::IdentityIncomplete {
            missing: vec!["ip", "directory"],
            setting: "Set licence.ip and licence.directory in /etc/acme.toml.".into(),
        }
    );
    assert!(
        verdict.to_string().contains("ip, directory missing"),
        "{verdict}"
    );
    assert_eq!(stages(&steps), ["identity"]);
}

#[test]
fn f03_the_identity_sent_is_the_configured_one() {
    let server = FakeServer::start(answering(Status::Active, NOW, |_| {}));
    assert_eq!(
        Verifier::new(config(&server.url(), "sent")).check(NOW),
        Verdict::Valid
    );
    let requests = server.requests.lock().unwrap();
    let r = &requests[0];
    assert_eq!(
        (r.domain.as_str(), r.ip.as_str(), r.directory.as_str()),
        (DOMAIN, IP, DIRECTORY)
    );
    assert_eq!(r.key, license_key());
    assert_eq!(r.nonce.len(), 32);
}

#[test]
fn fetch_keys_returns_the_served_list_or_the_failing_step() {
    let server = FakeServer::start(Arc::new(|path, _| {
        assert_eq!(path, license_verifier::protocol::KEYS_PATH);
        let list = license_verifier::protocol::KeyList { keys: pinned() };
        http_response(200, &serde_json::to_vec(&list).unwrap())
    }));
    let keys = fetch_keys(&server.url(), Timeouts::default(), &[]).unwrap();
    assert_eq!(keys.keys, pinned());

    let err = fetch_keys(
        &format!("http://127.0.0.1:{}", closed_port()),
        Timeouts::default(),
        &[],
    )
    .unwrap_err();
    assert_eq!(err.0, StepKind::Connect);
}
