//! Outcomes that tell the truth (issue 22): a forced refresh Exact would refuse is not
//! sent and says from when it can be; tokens registered long after they were obtained
//! are reported as expired, in the statement and on the page; an export or import of a
//! connection warns that its single-use refresh token now exists twice.

mod common;

use std::time::Duration;

use common::serve::{Pages, Server};
use common::{DAY, DEMO_CLIENT_ID, SandboxProcess, WEB_REDIRECT, Workspace, demo_app, rfc3339};

#[test]
fn a_forced_refresh_exact_would_refuse_is_not_sent_and_says_when_it_can_be() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    sandbox.log_in(&ws, "acme").exits(0);
    let before = sandbox.refresh_calls();
    let errors = sandbox.counters()["token_errors"].clone();

    ws.run_c("refresh connection 'acme' force")
        .exits(1)
        .warns(&[
            "'acme' cannot be refreshed before ",
            " UTC, not even forced",
            "counts each refused one towards blocking the app; nothing was sent",
        ]);
    assert_eq!(sandbox.refresh_calls(), before, "nothing was sent");
    assert_eq!(sandbox.counters()["token_errors"], errors);
    // Nothing was refused, so nothing is recorded as a failure.
    ws.run_c("show connection 'acme'").exits(0).says(&["valid"]);

    // The help says what force does on such a platform.
    let help = ws.run_c("help refresh");
    help.exits(0);
    assert!(!help.stdout.contains("(force: now)"), "{}", help.stdout);
    assert!(
        help.stdout
            .contains("Exact refuses a refresh until 30 s before the access token expires"),
        "{}",
        help.stdout
    );
}

#[test]
fn tokens_registered_long_after_they_were_obtained_are_reported_expired() {
    let sandbox = SandboxProcess::start(&[]);
    let tokens = sandbox.issue_tokens(2);
    let ws = Workspace::new();
    let two_days_ago = rfc3339(std::time::SystemTime::now() - 2 * DAY);
    let registered = ws.run_c(&format!(
        "register connection 'old' platform exact {} access token '{}' refresh token '{}' \
         obtained at '{two_days_ago}'",
        demo_app(&sandbox.url, WEB_REDIRECT),
        tokens[0].access_token,
        tokens[0].refresh_token
    ));
    let expired_at = &rfc3339(
        humantime::parse_rfc3339(&two_days_ago).expect("a time") + Duration::from_secs(600),
    );
    let shown = format!(
        "{} UTC",
        expired_at.trim_end_matches('Z').replacen('T', " ", 1)
    );
    registered.exits(0).says(&[&format!(
        "connection 'old' registered; access token expired at {shown}, so the first use refreshes it"
    )]);
    assert!(
        !registered.stdout.contains("valid until"),
        "{}",
        registered.stdout
    );

    // The page says so in its flash, too.
    let mut server = Server::start(&ws, &[]);
    let mut pages = server.pages();
    let csrf = Pages::csrf(&pages.get("/register"));
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "old-page"),
        ("platform", "exact-online/nl"),
        ("api_url", sandbox.url.as_str()),
        ("client_id", DEMO_CLIENT_ID),
        ("client_secret", common::DEMO_CLIENT_SECRET),
        ("redirect_url", WEB_REDIRECT),
        ("access_token", tokens[1].access_token.as_str()),
        ("refresh_token", tokens[1].refresh_token.as_str()),
        ("obtained_at", two_days_ago.as_str()),
    ];
    let answer = pages.post("/register", &form);
    assert_eq!(answer.status, 303, "{}", answer.body);
    let page = pages.get(answer.header("location"));
    assert!(
        page.body.contains(&format!(
            "Its access token expired at {shown}, so the first use refreshes it."
        )),
        "{}",
        page.body
    );

    // A page that shows the secrets says to keep one copy in use.
    let secrets = pages.post(
        &format!("{}/secrets", answer.header("location")),
        &[("csrf", csrf.as_str())],
    );
    assert_eq!(secrets.status, 200, "{}", secrets.body);
    assert!(
        secrets.body.contains("Keep one copy in use:"),
        "{}",
        secrets.body
    );
    server.stop();
}

#[test]
fn an_export_or_import_warns_that_the_refresh_token_now_exists_twice() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    sandbox.log_in(&ws, "acme").exits(0);
    let warning = "warning: the refresh token of connection 'acme' now exists in two places, \
                   and it works once: keep one copy in use and drop the other";
    let export = ws.run_c("export settings 'acme' plain");
    export.exits(0).warns(&[warning]);
    assert!(!export.stdout.contains("warning"), "the file stays clean");
    let file = ws.write("acme.xml", &export.stdout);

    let other = Workspace::new();
    other
        .run_c(&format!("import settings '{}'", file.display()))
        .exits(0)
        .warns(&[warning]);
}
