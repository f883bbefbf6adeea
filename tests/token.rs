//! `preauth token NAME`: a valid access token for other programs, end to end against a
//! `preauth sandbox` process over loopback, with tokens the sandbox issued.

mod common;

use std::collections::BTreeSet;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{
    DAY, DEMO_CLIENT_SECRET, IssuedTokens, Outcome, Registered, SandboxProcess, Workspace, rfc3339,
};

/// The sandbox's answer status at `/api/v1/current/Me` for `token`.
fn me_status(sandbox: &SandboxProcess, token: &str) -> u16 {
    common::http(
        "GET",
        &format!("{}/api/v1/current/Me", sandbox.url),
        Some(token),
    )
    .0
}

/// One counter of the sandbox.
fn counter(sandbox: &SandboxProcess, name: &str) -> u64 {
    sandbox.counters()[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name}"))
}

/// `preauth token ARGS` in `ws`, expected to fail as a script would want: exit 1, nothing
/// on standard output, one sentence on standard error and no secret anywhere; returns
/// that sentence.
fn token_fails(ws: &Workspace, args: &[&str], tokens: &IssuedTokens) -> String {
    let outcome = ws.run(&[&["token"], args].concat());
    outcome
        .exits(1)
        .keeps_secret(&[&tokens.refresh_token, DEMO_CLIENT_SECRET]);
    assert_eq!(outcome.stdout, "", "{outcome:#?}");
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line on stderr: {outcome:#?}");
    lines[0].to_string()
}

#[test]
fn token_prints_only_the_access_token_which_the_sandbox_accepts() {
    let Registered {
        sandbox,
        ws,
        tokens,
        ..
    } = Registered::new(&[("acme-nl", Duration::ZERO)]);
    let tokens = &tokens[0];
    let refreshes = counter(&sandbox, "token_calls_refresh_token");

    let outcome = ws.run(&["token", "acme-nl"]);
    outcome
        .exits(0)
        .keeps_secret(&[&tokens.refresh_token, DEMO_CLIENT_SECRET]);
    assert_eq!(outcome.stderr, "");
    let stdout = outcome.stdout.clone();
    assert_eq!(stdout, format!("{}\n", tokens.access_token));
    assert_eq!(me_status(&sandbox, stdout.trim_end()), 200);
    assert_eq!(me_status(&sandbox, "not-a-token"), 401, "Me checks tokens");
    assert_eq!(
        counter(&sandbox, "token_calls_refresh_token"),
        refreshes,
        "a fresh access token is not refreshed"
    );

    // The statement shares the implementation; global options may precede the subcommand.
    let statement = ws.run_c("show access token for connection 'acme-nl'");
    assert_eq!(statement.exits(0).stdout, stdout);
    let global_first = Outcome::of(
        ws.preauth()
            .env_remove("PREAUTH_SETTINGS_DIR")
            .arg("--settings-dir")
            .arg(ws.settings())
            .args(["token", "acme-nl"]),
    );
    assert_eq!(global_first.exits(0).stdout, stdout);
}

#[test]
fn json_format_has_token_expiry_connection_and_platform_and_never_a_secret() {
    let Registered {
        sandbox,
        ws,
        tokens,
        obtained,
    } = Registered::new(&[("acme-be", Duration::from_secs(60))]);
    let (tokens, obtained) = (&tokens[0], obtained[0]);

    for args in [
        ["token", "acme-be", "--format", "json"],
        ["--format", "json", "token", "acme-be"],
    ] {
        let outcome = ws.run(&args);
        outcome
            .exits(0)
            .keeps_secret(&[&tokens.refresh_token, DEMO_CLIENT_SECRET]);
        let json: serde_json::Value = serde_json::from_str(&outcome.stdout).expect("JSON");
        let keys: BTreeSet<&str> = json
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["access_token", "expires_at", "connection", "platform"])
        );
        assert_eq!(json["access_token"], tokens.access_token.as_str());
        assert_eq!(
            json["expires_at"],
            rfc3339(obtained + Duration::from_secs(600)).as_str()
        );
        assert_eq!(json["connection"], "acme-be");
        assert_eq!(json["platform"], "exact-online");
        assert_eq!(
            me_status(&sandbox, json["access_token"].as_str().unwrap()),
            200
        );
    }
}

#[test]
fn sixteen_processes_at_once_in_the_refresh_window_refresh_exactly_once() {
    // 580 s into the access token's 600 s, on both sides: inside Exact's last 30 s.
    let Registered {
        sandbox,
        ws,
        tokens,
        ..
    } = Registered::new(&[("acme-nl", Duration::from_secs(580))]);
    let tokens = &tokens[0];
    sandbox.advance(580);
    let before = sandbox.counters();

    let children: Vec<_> = (0..16)
        .map(|_| {
            ws.preauth()
                .args(["token", "acme-nl"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("preauth starts")
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|child| child.wait_with_output().expect("preauth ends"))
        .collect();

    let mut printed = BTreeSet::new();
    for out in &outputs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a process failed: {stderr}");
        let stdout = String::from_utf8(out.stdout.clone()).expect("UTF-8");
        let token = stdout.strip_suffix('\n').expect("one line");
        assert!(!token.is_empty() && !token.contains('\n'));
        assert_eq!(
            me_status(&sandbox, token),
            200,
            "the sandbox refuses {token}"
        );
        printed.insert(token.to_string());
    }
    // Every process needed the refresh; the one that made it shared the new token.
    assert_eq!(printed.len(), 1, "different tokens: {printed:?}");
    assert!(!printed.contains(&tokens.access_token));

    let after = sandbox.counters();
    let delta = |name: &str| after[name].as_u64().unwrap() - before[name].as_u64().unwrap();
    assert_eq!(delta("token_calls_refresh_token"), 1, "{after}");
    assert_eq!(after["spent_refresh_token_reuses"], 0, "{after}");
    assert_eq!(delta("token_errors"), 0, "{after}");
}

#[test]
fn unknown_connection_and_another_device_fail_with_one_sentence() {
    let Registered { ws, tokens, .. } = Registered::new(&[("acme-nl", Duration::ZERO)]);
    let tokens = &tokens[0];

    let unknown = token_fails(&ws, &["acme-de"], tokens);
    assert!(
        unknown.contains("no connection named 'acme-de'"),
        "{unknown}"
    );

    // The same folder under another device key (a copied settings folder).
    let elsewhere = Workspace::new().with_own_device_key();
    std::fs::create_dir_all(elsewhere.settings()).unwrap();
    std::fs::copy(
        ws.settings().join("settings-acme-nl.xml"),
        elsewhere.settings().join("settings-acme-nl.xml"),
    )
    .unwrap();
    let before = elsewhere.settings_file("acme-nl");
    let foreign = token_fails(&elsewhere, &["acme-nl"], tokens);
    assert!(foreign.contains("another device"), "{foreign}");
    assert!(!foreign.contains(&tokens.access_token));
    assert!(
        elsewhere.settings_file("acme-nl") == before,
        "the file changed"
    );
}

#[test]
fn a_spent_refresh_token_fails_with_one_sentence() {
    // The same tokens registered on two machines; the access token expired on both.
    let Registered {
        sandbox,
        ws: here,
        tokens,
        ..
    } = Registered::new(&[("acme-nl", Duration::from_secs(600))]);
    let tokens = &tokens[0];
    let there = Workspace::new();
    there.register_issued("acme-nl", &sandbox, tokens, Duration::from_secs(600));
    sandbox.advance(600);
    let fresh = there.run(&["token", "acme-nl"]);
    assert_eq!(me_status(&sandbox, fresh.exits(0).stdout.trim_end()), 200);

    let spent = token_fails(&here, &["acme-nl"], tokens);
    assert!(spent.contains("'acme-nl'"), "{spent}");
    // Registered from a partner's tokens: new ones come from the partner, not a login here.
    assert!(
        spent.contains("obtain new tokens from the partner application")
            && spent.contains("preauth -c \"register connection 'acme-nl'"),
        "not actionable: {spent}"
    );
    assert_eq!(counter(&sandbox, "spent_refresh_token_reuses"), 1);
}

#[test]
fn an_expired_refresh_token_fails_with_one_sentence() {
    // This machine believes one day is left; the platform's clock says 31 days passed.
    let Registered {
        sandbox,
        ws,
        tokens,
        ..
    } = Registered::new(&[("acme-nl", DAY * 29)]);
    let tokens = &tokens[0];
    sandbox.advance((DAY * 31).as_secs());

    let expired = token_fails(&ws, &["acme-nl", "--format", "json"], tokens);
    assert!(expired.contains("expired"), "{expired}");
    assert!(
        expired.contains("obtain new tokens from the partner application"),
        "not actionable: {expired}"
    );
    assert_eq!(counter(&sandbox, "spent_refresh_token_reuses"), 0);
}
