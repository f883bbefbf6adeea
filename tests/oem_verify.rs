//! `register … verify` checks what it can: by a refresh when the access token is due
//! (the new pair is stored), the access token only while it is fresh (and it says so);
//! a refresh token another connection holds is refused; refused tokens advise new ones
//! from the partner application, not a login here.

mod common;

use std::time::SystemTime;

use common::{
    DAY, IssuedTokens, Outcome, SandboxProcess, WEB_REDIRECT, Workspace, approve,
    authorization_url, connection_string_value, demo_app, rfc3339,
};

/// `register connection '<name>' …` of `tokens`, obtained `age` ago, with `extra` options.
fn register(
    sandbox: &SandboxProcess,
    name: &str,
    tokens: &IssuedTokens,
    age: std::time::Duration,
    extra: &str,
) -> String {
    format!(
        "register connection '{name}' platform exact {} access token '{}' refresh token '{}' \
         obtained at '{}' {extra};",
        demo_app(&sandbox.url, WEB_REDIRECT),
        tokens.access_token,
        tokens.refresh_token,
        rfc3339(SystemTime::now() - age)
    )
}

fn secrets(tokens: &IssuedTokens) -> [&str; 2] {
    [&tokens.access_token, &tokens.refresh_token]
}

#[test]
fn a_fresh_access_token_is_proven_and_the_refresh_token_is_said_to_be_unchecked() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let mut tokens = sandbox.issue_tokens(1).remove(0);
    tokens.refresh_token = "garbage-that-no-platform-issued".into();
    let out = ws.run_c(&register(
        &sandbox,
        "fresh",
        &tokens,
        std::time::Duration::ZERO,
        "verify",
    ));
    out.exits(0)
        .says(&["connection 'fresh' registered"])
        .warns(&[
            "verified the access token only: the platform's current/Me answered",
            "the refresh token cannot be checked yet",
            "the first refresh, from ",
        ])
        .keeps_secret(&secrets(&tokens));
}

#[test]
fn a_due_access_token_is_verified_by_a_refresh_whose_new_pair_is_stored() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(1).remove(0);
    sandbox.advance(600);
    let out = ws.run_c(&register(&sandbox, "due", &tokens, DAY, "verify"));
    out.exits(0)
        .says(&["connection 'due' registered"])
        .warns(&["verified: a refresh succeeded and its new tokens were stored"])
        .keeps_secret(&secrets(&tokens));
    let plain = ws.run_c("export settings 'due' plain");
    plain.exits(0);
    assert_ne!(
        connection_string_value(&plain.stdout, "api-refresh-token"),
        tokens.refresh_token
    );
    ws.run(&["token", "due"]).exits(0);
}

#[test]
fn a_spent_or_unknown_refresh_token_is_refused_with_advice_for_the_partner() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let issued = sandbox.issue_tokens(2);
    // The first pair's refresh token is spent elsewhere before it is handed over.
    let elsewhere = Workspace::new();
    elsewhere
        .run_c(&register(&sandbox, "first", &issued[0], DAY, ""))
        .exits(0);
    sandbox.advance(600);
    elsewhere.run(&["token", "first"]).exits(0);

    let spent = ws.run_c(&register(&sandbox, "spent", &issued[0], DAY, "verify"));
    spent
        .exits(1)
        .warns(&[
            "the tokens handed over for 'spent' cannot be registered",
            "the refresh token was already used",
            "nothing was stored; obtain new tokens from the partner application",
        ])
        .keeps_secret(&secrets(&issued[0]));
    assert!(!spent.stderr.contains("preauthenticate"), "{spent:#?}");
    assert!(!ws.settings().join("settings-spent.xml").exists());

    let mut unknown = issued[1].clone();
    unknown.refresh_token = "garbage-that-no-platform-issued".into();
    let garbage = ws.run_c(&register(&sandbox, "garbage", &unknown, DAY, "verify"));
    garbage
        .exits(1)
        .warns(&["obtain new tokens from the partner application"])
        .keeps_secret(&secrets(&unknown));
    assert!(!garbage.stderr.contains("preauthenticate"), "{garbage:#?}");
    assert!(!ws.settings().join("settings-garbage.xml").exists());
}

#[test]
fn a_refresh_token_another_connection_holds_is_refused() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(1).remove(0);
    ws.run_c(&register(&sandbox, "first", &tokens, DAY, ""))
        .exits(0);

    // In another run, and in the same run as the first registration.
    let again = ws.run_c(&register(&sandbox, "second", &tokens, DAY, ""));
    again
        .exits(1)
        .warns(&[
            "the refresh token handed over for 'second' is the one connection 'first' holds already",
            "obtain new tokens for 'second' from the partner application",
        ])
        .keeps_secret(&secrets(&tokens));
    assert!(!ws.settings().join("settings-second.xml").exists());

    let other = Workspace::new();
    let both = format!(
        "{}\n{}",
        register(&sandbox, "one", &tokens, DAY, ""),
        register(&sandbox, "two", &tokens, DAY, "")
    );
    other
        .run_c(&both)
        .exits(1)
        .says(&["connection 'one' registered"])
        .warns(&["is the one connection 'one' holds already"]);

    // Once the holder is gone, the token may be registered again (in the same run).
    let moved = format!(
        "drop connection 'one';\n{}",
        register(&sandbox, "two", &tokens, DAY, "")
    );
    Outcome::of(other.preauth().args(["-c", &moved]))
        .exits(0)
        .says(&["connection 'two' registered"]);
}

/// Asserts that `statement` parses (run after a failing statement, it never runs).
#[track_caller]
fn assert_parses(statement: &str) {
    let out = Workspace::new().run_c(&format!("drop connection 'absent';\n{statement};"));
    assert!(
        out.code == 1 && out.stderr.contains("no connection named 'absent'"),
        "{statement:?} does not parse: {out:#?}"
    );
}

#[test]
fn a_registered_connection_whose_token_is_spent_advises_new_tokens_from_the_partner() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let issued = sandbox.issue_tokens(2);
    ws.run_c(&register(&sandbox, "oem", &issued[0], DAY, ""))
        .exits(0);
    // The same tokens were handed to another machine too, which spent them.
    let elsewhere = Workspace::new();
    elsewhere
        .run_c(&register(&sandbox, "oem", &issued[0], DAY, ""))
        .exits(0);
    sandbox.advance(600);
    elsewhere.run(&["token", "oem"]).exits(0);

    for out in [
        ws.run_c("refresh connection 'oem'"),
        ws.run(&["token", "oem"]),
        ws.run_c("refresh all connections older than 0 days"),
    ] {
        let text = format!("{}{}", out.stdout, out.stderr);
        assert_eq!(out.code, 1, "{out:#?}");
        assert!(text.contains("was already used"), "{out:#?}");
        assert!(
            text.contains("the tokens of 'oem' came from a partner application")
                && text.contains("obtain new tokens from the partner application"),
            "{out:#?}"
        );
        let statements = common::suggested(&text);
        assert!(
            statements.iter().any(|s| s == "drop connection 'oem'"),
            "{out:#?}"
        );
        for statement in &statements {
            assert!(!statement.starts_with("preauthenticate"), "{out:#?}");
            assert_parses(statement);
        }
    }

    // The mark of a registered connection is stored, and a login here removes it.
    let plain = ws.run_c("export settings 'oem' plain");
    assert!(plain.stdout.contains("preauth-registered="), "{plain:#?}");
    let login = ws.run_c("preauthenticate connection 'oem'");
    login.exits(1);
    let landed = approve(&authorization_url(&login.stderr));
    landed.exits(0);
    ws.run_c(&format!(
        "exchange code url '{}' for connection 'oem'",
        landed.stdout.trim()
    ))
    .exits(0)
    .says(&["connection 'oem' authorized"]);
    let plain = ws.run_c("export settings 'oem' plain");
    assert!(!plain.stdout.contains("preauth-registered"), "{plain:#?}");
    ws.run(&["token", "oem"]).exits(0);

    // As advised: drop it and register the partner's new tokens.
    ws.run_c("drop connection 'oem'").exits(0);
    ws.run_c(&register(&sandbox, "oem", &issued[1], DAY, ""))
        .exits(0);
    ws.run(&["token", "oem"]).exits(0);
}
