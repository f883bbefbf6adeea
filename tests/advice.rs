//! Every piece of advice in an error is a statement that parses and works: the errors a
//! person meets on the way to a dead connection (a lost answer, a spent, expired or
//! refused token, another device, a taken name) suggest statements in backticks, with the
//! connection's name filled in; each is run through `preauth -c` here (never a parse
//! error, exit 2), and the ones that repair something are shown to repair it against
//! `preauth sandbox`.

mod common;

use std::time::{Duration, SystemTime};

use common::{
    DAY, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Outcome, SandboxProcess, Workspace, demo_app,
    loopback_redirect, preauthenticate, rfc3339,
};

/// Asserts that `statement` parses: it is run after a statement that fails, so that it
/// is parsed with the whole script (a parse error anywhere exits 2 before anything runs)
/// but never runs itself.
#[track_caller]
fn assert_parses(statement: &str) {
    let ws = Workspace::new();
    let out = ws.run_c(&format!(
        "drop connection 'no-such-connection';\n{statement};"
    ));
    assert_eq!(
        out.code, 1,
        "the suggested statement {statement:?} does not parse: {out:#?}"
    );
    assert!(
        out.stderr
            .contains("no connection named 'no-such-connection'"),
        "{out:#?}"
    );
}

/// The suggestions of a failed run, each checked to parse.
#[track_caller]
fn suggestions_of(out: &Outcome) -> Vec<String> {
    let found = common::suggested(&out.stderr);
    assert!(!found.is_empty(), "no statement suggested: {out:#?}");
    for statement in &found {
        assert_parses(statement);
    }
    found
}

/// `POST /sandbox/faults` with a JSON body: the next token request meets the fault.
fn inject_fault(sandbox: &SandboxProcess, json: &str) {
    use std::io::{Read, Write};
    let rest = sandbox.url.strip_prefix("http://").expect("an http URL");
    let mut stream = std::net::TcpStream::connect(rest).expect("the sandbox answers");
    write!(
        stream,
        "POST /sandbox/faults HTTP/1.1\r\nHost: {rest}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )
    .expect("the request is sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    assert!(
        answer.starts_with("HTTP/1.1 2"),
        "the fault was not taken: {answer}"
    );
}

/// Runs `statements` with the sandbox's scripted login as the browser.
fn run_with_browser(ws: &Workspace, statements: &str) -> Outcome {
    Outcome::of(
        ws.preauth()
            .env("BROWSER", SandboxProcess::browser())
            .args(["-c", statements]),
    )
}

/// Registers tokens the sandbox issued as `name`, with a loopback redirect URL (so that
/// a new login completes in batch), obtained a day ago.
fn register_loopback(ws: &Workspace, sandbox: &SandboxProcess, name: &str) {
    let tokens = sandbox.issue_tokens(1);
    ws.run_c(&format!(
        "register connection '{name}' platform exact {} access token '{}' refresh token '{}' \
         obtained at '{}'",
        demo_app(&sandbox.url, &loopback_redirect()),
        tokens[0].access_token,
        tokens[0].refresh_token,
        rfc3339(SystemTime::now() - DAY)
    ))
    .exits(0);
}

/// Writes a plain settings file by hand (as an Invantive user would) for connection
/// `name` of the demo app with a loopback redirect URL and `tokens` obtained at `obtained`
/// (none when `tokens` is `None`).
fn hand_written(
    ws: &Workspace,
    sandbox: &SandboxProcess,
    name: &str,
    tokens: Option<&common::IssuedTokens>,
    obtained: SystemTime,
) {
    let issued = rfc3339(obtained);
    let expires = rfc3339(obtained + Duration::from_secs(600));
    let tokens = tokens
        .map(|t| {
            format!(
                ";api-access-token={};api-access-token-issued={issued};\
                 api-access-token-expires={expires};api-refresh-token={};\
                 api-refresh-token-issued={issued}",
                t.access_token, t.refresh_token
            )
        })
        .unwrap_or_default();
    ws.write_settings(
        name,
        &format!(
            "api-url={};api-client-id={DEMO_CLIENT_ID};api-client-secret={DEMO_CLIENT_SECRET};\
             api-redirect-url={}{tokens}",
            sandbox.url,
            loopback_redirect(),
        ),
    );
}

#[test]
fn a_lost_answer_a_spent_token_and_a_blocked_refresh_suggest_statements_that_lead_back() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(1);
    hand_written(
        &ws,
        &sandbox,
        "acme",
        Some(&tokens[0]),
        SystemTime::now() - DAY,
    );
    sandbox.advance(600);
    inject_fault(&sandbox, r#"{"fault": "drop_after_rotate"}"#);

    // The answer is lost: refresh once later, then log in again.
    let lost = ws.run_c("refresh connection 'acme'");
    lost.exits(1).warns(&["was lost"]);
    assert_eq!(suggestions_of(&lost), ["refresh connection 'acme'"]);

    // Right away, nothing is sent: the one later try waits for the backoff.
    let waiting = ws.run_c("refresh connection 'acme'");
    waiting
        .exits(1)
        .warns(&["not refreshed automatically before"]);
    assert_eq!(suggestions_of(&waiting), ["refresh connection 'acme'"]);

    // The one later try (past the first backoff, at most 30 s) finds the token spent
    // (the sandbox rotated it).
    let spent = Outcome::of(
        ws.preauth()
            .env("PREAUTH_CLOCK_OFFSET_SECONDS", "31")
            .args(["-c", "refresh connection 'acme'"]),
    );
    spent.exits(1).warns(&["already used"]);
    assert_eq!(
        suggestions_of(&spent),
        ["preauthenticate connection 'acme'"]
    );

    // Not sent again; forcing is the one way to send it.
    let blocked = ws.run_c("refresh connection 'acme'");
    blocked
        .exits(1)
        .warns(&["does not send this refresh token again"]);
    let advice = suggestions_of(&blocked);
    assert_eq!(
        advice,
        [
            "preauthenticate connection 'acme'",
            "refresh connection 'acme' force"
        ]
    );
    ws.run_c(&advice[1]).exits(1).warns(&["already used"]);

    // The new login reuses the stored app: no client id or secret typed again.
    let login = run_with_browser(&ws, "preauthenticate connection 'acme'");
    login
        .exits(0)
        .says(&["connection 'acme' authorized"])
        .keeps_secret(&[DEMO_CLIENT_SECRET]);
    ws.run(&["check"]).exits(0);
    ws.run(&["token", "acme"]).exits(0);
    // One connection, in place, with its app as it was.
    let names: Vec<String> = std::fs::read_dir(ws.settings())
        .expect("the settings folder")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.starts_with("settings-") && n.ends_with(".xml"))
        .collect();
    assert_eq!(names, ["settings-acme.xml"]);
    let plain = ws.run_c("export settings 'acme' plain");
    plain
        .exits(0)
        .says(&[DEMO_CLIENT_ID, DEMO_CLIENT_SECRET])
        .keeps_secret(&["preauth-refresh-failed"]);
}

#[test]
fn an_expired_refresh_token_in_a_hand_written_file_is_logged_in_again_in_place() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(1);
    hand_written(
        &ws,
        &sandbox,
        "acme-es",
        Some(&tokens[0]),
        SystemTime::now() - DAY * 31,
    );
    let out = ws.run_c("refresh connection 'acme-es'");
    out.exits(1)
        .warns(&["the refresh token of 'acme-es' expired on"]);
    let advice = suggestions_of(&out);
    assert_eq!(advice, ["preauthenticate connection 'acme-es'"]);
    run_with_browser(&ws, &advice[0])
        .exits(0)
        .says(&["connection 'acme-es' authorized"]);
    // Stored sealed now, and alive.
    let file = ws.settings_file("acme-es");
    assert!(!file.contains(DEMO_CLIENT_SECRET), "{file}");
    ws.run(&["check"]).exits(0);
}

#[test]
fn a_connection_without_tokens_in_a_hand_written_file_is_logged_in() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    hand_written(&ws, &sandbox, "fresh", None, SystemTime::now());
    let out = ws.run(&["token", "fresh"]);
    out.exits(1).warns(&["has no tokens yet"]);
    let advice = suggestions_of(&out);
    assert_eq!(advice, ["preauthenticate connection 'fresh'"]);
    run_with_browser(&ws, &advice[0])
        .exits(0)
        .says(&["connection 'fresh' authorized"]);
    ws.run(&["token", "fresh"]).exits(0);
}

#[test]
fn a_connection_sealed_on_another_device_suggests_the_move_that_works() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    register_loopback(&ws, &sandbox, "bound");
    let elsewhere = Workspace::new().with_own_device_key();
    let there = |statements: &str| {
        Outcome::of(
            ws.preauth()
                .env("DEVICEKEY_SECRET_DIR", elsewhere.key_dir())
                .args(["-c", statements]),
        )
    };
    let out = there("show connection 'bound'");
    out.exits(1).warns(&["encrypted on another device"]);
    let advice = suggestions_of(&out);
    assert_eq!(
        advice,
        [
            "export settings 'bound' plain",
            "drop connection 'bound'",
            "import settings '<that file>'",
            "drop connection 'bound'",
            "preauthenticate exact client id '…' client secret '…' redirect url '…' \
             as connection 'bound'",
        ]
    );
    // The move, as suggested: export on the machine that sealed it, then drop and
    // import on this one.
    let exported = ws.run_c(&advice[0]);
    exported.exits(0);
    ws.write("bound.xml", &exported.stdout);
    there(&advice[1])
        .exits(0)
        .says(&["connection 'bound' dropped"]);
    there(&advice[2].replace("<that file>", "bound.xml")).exits(0);
    there("show connection 'bound'").exits(0).says(&["bound"]);
}

#[test]
fn a_taken_name_suggests_a_new_login_under_that_name_quoted() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let name = "o'brien";
    let literal = "'o''brien'";
    let redirect = loopback_redirect();
    let login = preauthenticate(&sandbox.url, &redirect, "o''brien");
    run_with_browser(&ws, &login).exits(0);

    let taken = run_with_browser(&ws, &login);
    taken
        .exits(1)
        .warns(&[&format!("a connection named '{name}' exists already")]);
    let advice = suggestions_of(&taken);
    assert_eq!(
        advice,
        [
            format!("preauthenticate connection {literal}"),
            format!("alter connection {literal} set client id '…', client secret '…'"),
            format!("drop connection {literal}"),
        ]
    );
    run_with_browser(&ws, &advice[0])
        .exits(0)
        .says(&[&format!("connection '{name}' authorized")]);
}

#[test]
fn a_rotated_client_secret_is_set_without_retyping_the_rest_and_never_echoed() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let name = "acme";
    let literal = "'acme'";
    register_loopback(&ws, &sandbox, name);

    // The app's secret is rotated to a wrong one: the refresh is refused, and the advice
    // says how to put the right one in.
    let wrong = "a-secret-that-the-app-does-not-have";
    let echoed = Outcome::of(ws.preauth().args([
        "--echo",
        "-c",
        &format!("alter connection {literal} set client secret '{wrong}'"),
    ]));
    echoed
        .exits(0)
        .says(&[&format!("connection '{name}' altered: client secret")])
        .warns(&["alter connection 'acme' set client secret '<redacted>'"])
        .keeps_secret(&[wrong]);
    sandbox.advance(600);
    let refused = ws.run_c(&format!("refresh connection {literal}"));
    refused
        .exits(1)
        .warns(&["did not accept the client authentication"]);
    let advice = suggestions_of(&refused);
    assert_eq!(
        advice,
        [format!(
            "alter connection {literal} set client id '…', client secret '…'"
        )]
    );
    let fixed = ws.run_c(
        &advice[0]
            .replace("client id '…'", &format!("client id '{DEMO_CLIENT_ID}'"))
            .replace(
                "client secret '…'",
                &format!("client secret '{DEMO_CLIENT_SECRET}'"),
            ),
    );
    fixed.exits(0).says(&["altered: client id, client secret"]);
    // The refused token is not sent again by itself; forcing, as advised, works.
    let blocked = ws.run_c(&format!("refresh connection {literal}"));
    blocked.exits(1);
    let advice = suggestions_of(&blocked);
    assert_eq!(advice[1], format!("refresh connection {literal} force"));
    ws.run_c(&advice[1]).exits(0).says(&["refreshed"]);
    ws.run(&["check"]).exits(0);
}

#[test]
fn alter_and_preauthenticate_connection_name_a_missing_connection() {
    let ws = Workspace::new();
    ws.run_c("alter connection 'absent' set redirect url 'http://127.0.0.1:1/cb'")
        .exits(1)
        .warns(&["no connection named 'absent'"]);
    ws.run_c("preauthenticate connection 'absent'")
        .exits(1)
        .warns(&["no connection named 'absent'"]);
    ws.run_c("alter connection 'absent' set client id 'a', client id 'b'")
        .exits(2);
}

#[test]
fn an_unknown_platform_suggests_the_statement_that_adds_it() {
    let ws = Workspace::new();
    let out = ws.run_c(
        "preauthenticate idp client id 'c' redirect url 'http://127.0.0.1:1/cb' as connection 'x'",
    );
    out.exits(1).warns(&["unknown platform 'idp'"]);
    let advice = suggestions_of(&out);
    assert_eq!(advice, ["create platform 'idp' from issuer '…'"]);
    // Followed with a real issuer (the sandbox's OpenID Connect side), it works.
    let sandbox = SandboxProcess::start(&[]);
    let issuer = format!("'{}/auth/authentication'", sandbox.url);
    ws.run_c(&advice[0].replace("'…'", &issuer))
        .exits(0)
        .says(&["platform 'idp' created"]);
}
