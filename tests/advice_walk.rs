//! One refused refresh (the platform does not accept the app's client secret) walked
//! through every front end: the API answers a code with the page that fixes it, `preauth
//! token` a `preauth -c` command line, a script a statement that parses and works, and the
//! pages (in Chromium) a form that fixes it, then a refresh that succeeds.

mod common;

use std::time::{Duration, SystemTime};

use common::browser::Browser;
use common::serve::{Keys, Server};
use common::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SandboxProcess, WEB_REDIRECT, Workspace};

/// How long a page may take to appear.
const PAGE: Duration = Duration::from_secs(10);

/// Registers a sandbox token pair as `name` with a wrong client secret, obtained two hours
/// ago (so that the next use refreshes, and the platform refuses the client).
fn register_with_wrong_secret(ws: &Workspace, sandbox: &SandboxProcess, name: &str) {
    let tokens = &sandbox.issue_tokens(1)[0];
    ws.run_c(&format!(
        "register connection '{name}' platform exact api url '{}' client id '{DEMO_CLIENT_ID}' \
         client secret 'not-the-secret' redirect url '{WEB_REDIRECT}' access token '{}' \
         refresh token '{}' obtained at '{}'",
        sandbox.url,
        tokens.access_token,
        tokens.refresh_token,
        common::rfc3339(SystemTime::now() - Duration::from_secs(7200))
    ))
    .exits(0);
}

#[test]
fn a_refused_client_is_fixed_from_every_front_end_in_its_own_terms() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    register_with_wrong_secret(&ws, &sandbox, "walk-page");
    register_with_wrong_secret(&ws, &sandbox, "walk-script");
    // The platform's access tokens have expired too, so a refresh is allowed.
    sandbox.advance(700);
    let keys = Keys::create(&ws);
    let mut server = Server::start(&ws, &[]);

    // The API: a stable code, and the page where it is fixed.
    let (status, answer) = server.call(
        "POST",
        "/api/v1/connections/walk-page/token",
        Some(&keys.token),
        None,
    );
    assert_eq!(status, 502, "{answer}");
    let advice = answer["advice"].as_array().expect("advice").clone();
    assert!(
        advice
            .iter()
            .any(|a| a["code"] == "change_client_credentials"
                && a["page"] == "/connections/walk-page/app"),
        "{answer}"
    );
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(!message.contains('`'), "no statement in the API: {message}");

    // `preauth token`: a command line to paste.
    let token = ws.run(&["token", "walk-page"]);
    assert_eq!(token.code, 1, "{token:?}");
    assert!(
        token.stderr.contains(
            "preauth -c \"alter connection 'walk-page' set client id '…', client secret '…'\""
        ),
        "{}",
        token.stderr
    );

    // The recorded failure keeps its advice: in `show connection` and the API's show.
    let shown = ws.run_c("show connection 'walk-page'");
    assert!(
        shown
            .stdout
            .contains("`alter connection 'walk-page' set client id '…', client secret '…'`"),
        "{}",
        shown.stdout
    );
    let (status, shown) = server.call(
        "GET",
        "/api/v1/connections/walk-page",
        Some(&keys.admin),
        None,
    );
    assert_eq!(status, 200, "{shown}");
    assert!(
        shown["advice"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["code"] == "change_client_credentials")),
        "{shown}"
    );

    // A script: a statement that parses and, with the real values, works.
    let refused = ws.run_c("refresh connection 'walk-script'");
    assert_eq!(refused.code, 1, "{refused:?}");
    let suggested = common::suggested(&refused.stderr);
    let alter = suggested
        .iter()
        .find(|s| s.starts_with("alter connection 'walk-script' set client id"))
        .unwrap_or_else(|| panic!("no alter statement in {}", refused.stderr));
    let fixed = alter
        .replacen("'…'", &format!("'{DEMO_CLIENT_ID}'"), 1)
        .replacen("'…'", &format!("'{DEMO_CLIENT_SECRET}'"), 1);
    ws.run_c(&format!("{fixed}; refresh connection 'walk-script' force"))
        .exits(0)
        .says(&["connection 'walk-script' refreshed"]);

    // The pages, in Chromium: the form the advice names fixes it, and a refresh follows.
    let Some(b) = Browser::start_or_skip("a_refused_client_is_fixed_from_every_front_end") else {
        return;
    };
    b.goto(&server.login);
    b.wait_for("main h1", PAGE);
    b.goto(&format!("{}/connections/walk-page", server.url));
    // The advice is a link to the form that fixes it (not words naming a button).
    let advice = r#"span.advice a.advice[href="/connections/walk-page/app"]"#;
    b.wait_for(advice, PAGE);
    assert!(
        b.text(advice)
            .contains("app settings of connection 'walk-page'"),
        "{}",
        b.text(advice)
    );
    b.click(advice);
    b.wait_for("form input#client_id", PAGE);
    assert_eq!(
        b.attr("#client_id", "value").as_deref(),
        Some(DEMO_CLIENT_ID)
    );
    assert!(
        !b.source().contains("not-the-secret"),
        "no secret in a page"
    );
    b.fill("#client_secret", DEMO_CLIENT_SECRET);
    b.click(r#"form[action="/connections/walk-page/app"] button[type=submit]"#);
    b.wait_for("p.notice", PAGE);
    assert!(
        b.text("p.notice")
            .contains("App settings of connection 'walk-page' stored"),
        "{}",
        b.text("p.notice")
    );
    b.click(r#"form[action="/connections/walk-page/refresh"] button[type=submit]"#);
    b.wait_for("p.notice", PAGE);
    assert!(
        b.text("p.notice")
            .contains("Connection 'walk-page' refreshed"),
        "{}",
        b.text("p.notice")
    );
    let (status, answer) = server.call(
        "POST",
        "/api/v1/connections/walk-page/token",
        Some(&keys.token),
        None,
    );
    assert_eq!(status, 200, "{answer}");
    server
        .stop()
        .keeps_secret(&[DEMO_CLIENT_SECRET, "not-the-secret"]);
}
