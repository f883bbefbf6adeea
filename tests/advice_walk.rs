//! One refused refresh (the platform does not accept the app's client secret) walked
//! through every front end: the API answers a code with the page that fixes it, `preauth
//! token` a `preauth -c` command line, a script a statement that parses and works, and the
//! pages a form that fixes it, then a refresh that succeeds.

mod common;

use std::time::{Duration, SystemTime};

use common::serve::{Keys, Pages, Server};
use common::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SandboxProcess, WEB_REDIRECT, Workspace};

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

    // The pages: the form the advice names fixes it, and a refresh follows.
    let mut pages = server.pages();
    let result = pages.get("/connections/walk-page");
    assert!(
        result.body.contains("/connections/walk-page/app"),
        "{}",
        result.body
    );
    let form = pages.get("/connections/walk-page/app");
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains(DEMO_CLIENT_ID) && !form.body.contains("not-the-secret"));
    let csrf = Pages::csrf(&form);
    let stored = pages.post(
        "/connections/walk-page/app",
        &[
            ("csrf", &csrf),
            ("client_id", DEMO_CLIENT_ID),
            ("client_secret", DEMO_CLIENT_SECRET),
            ("redirect_url", WEB_REDIRECT),
        ],
    );
    assert_eq!(stored.status, 303, "{}", stored.body);
    let after = pages.get("/connections/walk-page");
    assert!(after.body.contains("Refresh now"), "{}", after.body);
    let refreshed = pages.post("/connections/walk-page/refresh", &[("csrf", &csrf)]);
    assert_eq!(refreshed.status, 303, "{}", refreshed.body);
    let shown = pages.get("/connections/walk-page");
    assert!(shown.body.contains("refreshed"), "{}", shown.body);
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
