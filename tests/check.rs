//! `preauth check` (the monitoring plugin), the statement `check connections`, and the
//! keep-alive examples (`examples/keepalive.sql`, `examples/systemd/`), end to end against
//! a `preauth sandbox` process with tokens it issued, registered with chosen token times.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{
    DAY, DEMO_CLIENT_SECRET, IssuedTokens, Outcome, Registered, SandboxProcess, Workspace, day,
    rfc3339,
};

/// Exact Online's refresh tokens live 30 days.
const REFRESH_TOKEN_LIFE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Half a day: ages of whole days plus a half keep "N days left" away from a day boundary.
const HALF_DAY: Duration = Duration::from_secs(12 * 3600);

/// `preauth check ARGS` in `ws`: asserts the plugin's exit code, that the first line is
/// the status line and that no secret of `tokens` shows; returns the outcome.
fn check(ws: &Workspace, args: &[&str], code: i32, tokens: &[IssuedTokens]) -> Outcome {
    let outcome = ws.run(&[&["check"], args].concat());
    outcome.exits(code);
    assert!(outcome.stdout.starts_with("PREAUTH "), "{outcome:#?}");
    for t in tokens {
        outcome.keeps_secret(&[&t.access_token, &t.refresh_token, DEMO_CLIENT_SECRET]);
    }
    outcome
}

/// The first line of standard output.
fn status_line(outcome: &Outcome) -> &str {
    outcome.stdout.lines().next().unwrap_or_default()
}

/// The sandbox's token-endpoint calls so far (any grant).
fn token_calls(sandbox: &SandboxProcess) -> u64 {
    let c = sandbox.counters();
    [
        "token_calls_authorization_code",
        "token_calls_refresh_token",
        "token_calls_other",
    ]
    .iter()
    .map(|name| c[name].as_u64().expect("a counter"))
    .sum()
}

#[test]
fn ok_then_warning_then_critical_with_the_plugin_status_line() {
    // Another machine with the same tokens spent acme-gone's refresh token first.
    let Registered {
        sandbox,
        ws,
        mut tokens,
        ..
    } = Registered::new(&[("acme-nl", DAY), ("acme-de", DAY * 10)]);
    tokens.extend(sandbox.issue_tokens(2));

    let ok = check(&ws, &[], 0, &tokens);
    assert_eq!(
        ok.stdout,
        "PREAUTH OK - 2 connections healthy | connections=2 expiring=0 failed=0\n"
    );

    // 24.5 days old: 5.5 days left, inside the 7 warning days.
    let be = ws.register_issued("acme-be", &sandbox, &tokens[2], DAY * 24 + HALF_DAY);
    let be_day = day(be + REFRESH_TOKEN_LIFE);
    let warning = check(&ws, &[], 1, &tokens);
    assert_eq!(
        warning.stdout,
        format!(
            "PREAUTH WARNING - acme-be: refresh token expires in 5 days ({be_day}) \
             | connections=3 expiring=1 failed=0\n\
             WARNING acme-be: refresh token expires in 5 days ({be_day})\n"
        )
    );

    // 28.5 days old: 1.5 days left, inside the 2 critical days; the worst comes first.
    let fr = ws.register_issued("acme-fr", &sandbox, &tokens[3], DAY * 28 + HALF_DAY);
    let fr_day = day(fr + REFRESH_TOKEN_LIFE);
    let critical = check(&ws, &[], 2, &tokens);
    assert_eq!(
        status_line(&critical),
        format!(
            "PREAUTH CRITICAL - acme-fr: refresh token expires in 1 day ({fr_day}), \
             acme-be: refresh token expires in 5 days ({be_day}) \
             | connections=4 expiring=2 failed=0"
        )
    );
    assert_eq!(critical.stdout.lines().count(), 3, "{critical:#?}");

    // Global options go before or after the subcommand.
    let before = Outcome::of(
        ws.preauth()
            .env_remove("PREAUTH_SETTINGS_DIR")
            .arg("--settings-dir")
            .arg(ws.settings())
            .arg("check"),
    );
    assert_eq!(before.exits(2).stdout, critical.stdout);
}

#[test]
fn expired_and_unopenable_connections_are_critical() {
    let Registered {
        sandbox,
        ws,
        mut tokens,
        ..
    } = Registered::new(&[("acme-nl", DAY)]);
    tokens.extend(sandbox.issue_tokens(1));

    // Sealed on another machine (another device key), then copied here.
    let elsewhere = Workspace::new();
    elsewhere.register_issued("acme-uk", &sandbox, &tokens[1], DAY);
    std::fs::copy(
        elsewhere.settings().join("settings-acme-uk.xml"),
        ws.settings().join("settings-acme-uk.xml"),
    )
    .expect("copied");

    // A hand-written, unencrypted file whose refresh token was obtained 31 days ago (the
    // register statement refuses tokens that old).
    let obtained = SystemTime::now() - DAY * 31;
    let issued = rfc3339(obtained);
    let expired = rfc3339(obtained + Duration::from_secs(600));
    ws.write(
        "settings/settings-acme-es.xml",
        &format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
             <settings version=\"5\" forcedefault=\"false\">\n  <group name=\"Exact Online\">\n    \
             <connection name=\"acme-es\">\n      <database order=\"10\" provider=\"ExactOnlineAll\" \
             connectionString=\"api-url={};api-client-id={};api-client-secret={DEMO_CLIENT_SECRET};\
             api-redirect-url={};api-access-token={};api-access-token-issued={issued};\
             api-access-token-expires={expired};api-refresh-token={};\
             api-refresh-token-issued={issued}\"/>\n    </connection>\n  </group>\n</settings>\n",
            sandbox.url,
            common::DEMO_CLIENT_ID,
            common::WEB_REDIRECT,
            tokens[0].access_token,
            tokens[0].refresh_token,
        ),
    );

    let outcome = check(&ws, &[], 2, &tokens);
    let line = status_line(&outcome);
    assert!(line.starts_with("PREAUTH CRITICAL - "), "{line}");
    // The status line is a summary; the advice is in the long output (the lines after).
    let expired_on = day(obtained + REFRESH_TOKEN_LIFE);
    assert!(
        line.contains(&format!("acme-es: refresh token expired on {expired_on},")),
        "{line}"
    );
    assert!(!line.contains("preauthenticate"), "{line}");
    assert!(
        outcome.stdout.lines().skip(1).any(|l| l == format!(
            "CRITICAL acme-es: refresh token expired on {expired_on}; log in again with preauth -c \"preauthenticate connection 'acme-es'\""
        )),
        "{outcome:#?}"
    );
    assert!(
        line.contains("acme-uk: ") && line.contains("another device"),
        "{line}"
    );
    assert!(!line.contains("acme-nl"), "a healthy one is named: {line}");
    assert!(
        line.ends_with("| connections=3 expiring=1 failed=1"),
        "{line}"
    );
    let details: Vec<&str> = outcome.stdout.lines().skip(1).collect();
    assert_eq!(details.len(), 2, "{outcome:#?}");
    assert!(details.iter().all(|l| l.starts_with("CRITICAL acme-")));
}

#[test]
fn a_store_that_never_answers_is_unknown_within_the_store_timeout() {
    // platforms.xml as a named pipe without a writer: reading it blocks for ever, as a
    // file on a hung network file system does. The check still ends, UNKNOWN, at
    // --store-timeout, naming the folder.
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.settings()).expect("the settings folder");
    let pipe = ws.settings().join("platforms.xml");
    let made = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", pipe.display());
    let started = std::time::Instant::now();
    let outcome = Outcome::within(
        ws.preauth().args(["--store-timeout", "2", "check"]),
        Duration::from_secs(5),
    );
    outcome.exits(3);
    let line = status_line(&outcome);
    assert!(line.starts_with("PREAUTH UNKNOWN - "), "{line}");
    assert!(
        line.contains(&format!(
            "{}: the store did not answer within 2 s",
            ws.settings().display()
        )),
        "{line}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "it gave up early: {:?}",
        started.elapsed()
    );
    // The default bound stays under a monitoring system's usual 10 s plugin timeout.
    let outcome = Outcome::within(ws.preauth().arg("check"), Duration::from_secs(10));
    outcome.exits(3).says(&["within 8 s", "--store-timeout"]);
    // A bound that is no number of seconds is said, before anything is waited for.
    ws.run(&["--store-timeout", "0", "check"]).exits(2);
    let outcome = Outcome::of(
        ws.preauth()
            .env("PREAUTH_STORE_TIMEOUT", "soon")
            .arg("check"),
    );
    outcome
        .exits(3)
        .says(&["PREAUTH UNKNOWN - PREAUTH_STORE_TIMEOUT must be a whole number of seconds from 1 to 86400, not 'soon'"]);
}

#[test]
fn an_unreadable_settings_folder_is_unknown() {
    // A settings file that is not XML: exit 3, the file named with line and column on
    // the status line and on a line of its own.
    let ws = Workspace::new();
    let broken = "<?xml version=\"1.0\"?>\n<settings version=\"5\">\n  <group name=\"x\"\n";
    let path = ws.write("settings/settings-broken.xml", broken);
    let outcome = check(&ws, &[], 3, &[]);
    assert_eq!(outcome.stdout.lines().count(), 2, "{outcome:#?}");
    assert!(
        outcome
            .stdout
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(&format!("UNKNOWN {}: ", path.display()))),
        "{outcome:#?}"
    );
    let line = status_line(&outcome);
    assert!(line.starts_with("PREAUTH UNKNOWN - "), "{line}");
    assert!(
        line.contains(&format!("{}:", path.display())),
        "no file: {line}"
    );
    assert!(
        line.ends_with("| connections=0 expiring=0 failed=0"),
        "{line}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);

    // The statement lists the file as UNKNOWN beside the connections it could judge.
    ws.run_c("check connections")
        .exits(0)
        .says(&["settings-broken.xml", "UNKNOWN"]);

    // A folder that does not exist (a wrong path must not look healthy) is not created.
    let nothing = Workspace::new();
    let outcome = check(&nothing, &[], 3, &[]);
    assert!(
        status_line(&outcome).contains("does not exist"),
        "{outcome:#?}"
    );
    assert!(!nothing.settings().exists(), "check created the folder");

    // A settings "folder" that is a file.
    let file = Workspace::new();
    let not_a_folder = file.write("settings", "not a folder");
    let outcome = check(&file, &[], 3, &[]);
    assert!(status_line(&outcome).starts_with("PREAUTH UNKNOWN - "));
    assert_eq!(
        std::fs::read_to_string(not_a_folder).unwrap(),
        "not a folder"
    );
}

#[test]
fn check_never_refreshes_and_never_writes() {
    // One access token expired long ago, one in its refresh window.
    let Registered {
        sandbox,
        ws,
        tokens,
        ..
    } = Registered::new(&[("acme-nl", DAY * 3), ("acme-be", Duration::from_secs(590))]);
    sandbox.advance(590);
    let calls = token_calls(&sandbox);
    let files = ws.settings_snapshot();

    check(&ws, &[], 0, &tokens);
    check(&ws, &["--warn-days", "28"], 1, &tokens);
    ws.run_c("check connections warn days 28").exits(0);

    assert_eq!(
        token_calls(&sandbox),
        calls,
        "check called the token endpoint"
    );
    assert!(
        ws.settings_snapshot() == files,
        "check changed the settings folder"
    );
}

#[test]
fn custom_thresholds_and_the_check_connections_table() {
    // 10.5 days left, and 25.5 days left.
    let Registered {
        ws,
        tokens,
        obtained,
        ..
    } = Registered::new(&[
        ("acme-de", DAY * 19 + HALF_DAY),
        ("acme-nl", DAY * 4 + HALF_DAY),
    ]);
    let de_day = day(obtained[0] + REFRESH_TOKEN_LIFE);
    let reason = format!("refresh token expires in 10 days ({de_day})");

    assert!(status_line(&check(&ws, &[], 0, &tokens)).starts_with("PREAUTH OK - "));
    let warning = check(&ws, &["--warn-days", "14"], 1, &tokens);
    assert!(
        status_line(&warning).starts_with(&format!("PREAUTH WARNING - acme-de: {reason} |")),
        "{warning:#?}"
    );
    let critical = check(
        &ws,
        &["--warn-days", "30", "--critical-days", "11"],
        2,
        &tokens,
    );
    assert_eq!(
        status_line(&critical),
        format!(
            "PREAUTH CRITICAL - acme-de: {reason}, acme-nl: refresh token expires in 25 days \
             ({}) | connections=2 expiring=2 failed=0",
            day(obtained[1] + REFRESH_TOKEN_LIFE)
        )
    );

    // The statement: the table with a check column, then the status line.
    let table = ws.run_c("check connections warn days 14");
    table
        .exits(0)
        .keeps_secret(&[&tokens[0].refresh_token, &tokens[1].access_token]);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["name", "platform", "check", "reason"]
    );
    assert!(lines[2].starts_with("acme-de") && lines[2].contains("WARNING"));
    assert!(lines[2].ends_with(&reason), "{}", lines[2]);
    assert!(lines[3].starts_with("acme-nl") && lines[3].contains(" OK "));
    assert!(lines[4].starts_with("PREAUTH WARNING - acme-de: "));
    let csv = ws.run(&[
        "--format",
        "csv",
        "-c",
        "check connections critical days 11",
    ]);
    assert_eq!(
        csv.exits(0).stdout.lines().nth(1),
        Some(format!("acme-de,exact-online,CRITICAL,{reason}").as_str())
    );
}

/// A file of the repository.
fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Runs `examples/keepalive.sql` in `ws`; asserts the exit code and that no secret of
/// `tokens` shows; returns the outcome.
fn keepalive(ws: &Workspace, code: i32, tokens: &[IssuedTokens]) -> Outcome {
    let script = repo_file("examples/keepalive.sql");
    let run = ws.run(&[script.to_str().expect("a UTF-8 path")]);
    run.exits(code);
    for t in tokens {
        run.keeps_secret(&[&t.access_token, &t.refresh_token, DEMO_CLIENT_SECRET]);
    }
    run
}

/// The keep-alive table's row for `name`, with single spaces.
fn row(run: &Outcome, name: &str) -> String {
    run.stdout
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no row for {name}: {run:#?}"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Asserts that the keep-alive's row for `name` says `outcome`.
#[track_caller]
fn assert_row(run: &Outcome, name: &str, outcome: &str) {
    let row = row(run, name);
    assert!(row.starts_with(&format!("{name} {outcome}")), "{run:#?}");
}

/// How much a counter of the sandbox grew since `before`.
fn grew(sandbox: &SandboxProcess, before: &serde_json::Value, name: &str) -> u64 {
    sandbox.counters()[name].as_u64().unwrap() - before[name].as_u64().unwrap()
}

#[test]
fn the_keepalive_example_refreshes_a_connection_older_than_seven_days() {
    let Registered {
        sandbox,
        ws,
        tokens,
        ..
    } = Registered::new(&[("acme-old", DAY * 8), ("acme-new", DAY)]);
    sandbox.advance((DAY * 8).as_secs());
    let before = sandbox.counters();

    let run = keepalive(&ws, 0, &tokens);
    assert_row(&run, "acme-old", "refreshed");
    assert_row(&run, "acme-new", "left alone");
    // Then the check table and its status line: the renewed chain has 30 days again.
    assert!(row(&run, "PREAUTH").starts_with("PREAUTH OK - 2 connections healthy"));
    assert_eq!(grew(&sandbox, &before, "token_calls_refresh_token"), 1);
    assert_eq!(grew(&sandbox, &before, "spent_refresh_token_reuses"), 0);

    // The new access token works.
    let token = ws.run(&["token", "acme-old"]);
    let token = token.exits(0).stdout.trim_end();
    assert_ne!(token, tokens[0].access_token);
    let me = common::http(
        "GET",
        &format!("{}/api/v1/current/Me", sandbox.url),
        Some(token),
    );
    assert_eq!(me.0, 200);
}

#[test]
fn the_keepalive_example_checks_even_after_a_failed_refresh_and_exits_1() {
    let Registered {
        sandbox,
        ws,
        tokens,
        ..
    } = Registered::new(&[("acme-old", DAY * 8), ("acme-gone", DAY * 8)]);
    // Another machine with the same tokens spends acme-gone's refresh token first.
    let there = Workspace::new();
    there.register_issued("acme-gone", &sandbox, &tokens[1], DAY * 8);
    sandbox.advance((DAY * 8).as_secs());
    there.run(&["token", "acme-gone"]).exits(0);
    let before = sandbox.counters();

    let run = keepalive(&ws, 1, &tokens);
    assert_row(&run, "acme-old", "refreshed");
    assert_row(&run, "acme-gone", "failed");
    assert!(row(&run, "acme-gone").contains("already used"), "{run:#?}");
    run.warns(&["1 of 2 connections could not be refreshed"]);
    // `local on error continue`: the check table still follows the failure, and the
    // refused refresh was recorded, so the spent token is no longer reported healthy.
    assert!(
        row(&run, "PREAUTH").starts_with("PREAUTH CRITICAL - acme-gone: last refresh failed at "),
        "{run:#?}"
    );
    assert_eq!(grew(&sandbox, &before, "token_calls_refresh_token"), 2);
    assert_eq!(grew(&sandbox, &before, "spent_refresh_token_reuses"), 1);
    let monitored = check(&ws, &[], 2, &tokens);
    assert!(
        status_line(&monitored).contains("acme-gone: last refresh failed at ")
            && status_line(&monitored).contains("already used"),
        "{monitored:#?}"
    );
}

#[test]
fn the_systemd_units_run_the_keepalive_daily_and_persistently() {
    let unit = |name: &str| {
        std::fs::read_to_string(repo_file(&format!("examples/systemd/{name}"))).expect(name)
    };
    let lines = |text: String| -> Vec<String> { text.lines().map(str::to_string).collect() };
    let timer = lines(unit("preauth-keepalive.timer"));
    for setting in [
        "OnCalendar=daily",
        "Persistent=true",
        "Unit=preauth-keepalive.service",
    ] {
        assert!(timer.iter().any(|l| l == setting), "timer lacks {setting}");
    }
    let service = lines(unit("preauth-keepalive.service"));
    let exec = service
        .iter()
        .find(|l| l.starts_with("ExecStart="))
        .expect("an ExecStart");
    assert!(
        exec.ends_with("preauth /etc/preauth/keepalive.sql"),
        "{exec}"
    );
    for setting in [
        "Type=oneshot",
        "Environment=PREAUTH_SETTINGS_DIR=/var/lib/preauth/settings",
    ] {
        assert!(
            service.iter().any(|l| l == setting),
            "service lacks {setting}"
        );
    }
    let check = lines(unit("preauth-check.service"));
    assert!(
        check
            .iter()
            .any(|l| l.starts_with("ExecStart=") && l.contains("preauth check"))
    );

    common::systemd_verify(&[
        "preauth-keepalive.service",
        "preauth-keepalive.timer",
        "preauth-check.service",
        "preauth-check.timer",
    ]);
}

#[test]
fn the_connections_page_says_a_refused_refresh_once() {
    let Registered {
        sandbox: _sandbox,
        ws,
        ..
    } = Registered::with_a_spent_connection();

    let server = common::serve::Server::start(&ws, &[]);
    let page = server.pages().get("/connections");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        page.body.matches("already used").count(),
        1,
        "the refusal is said once: {}",
        page.body
    );
    assert!(
        page.body.contains("needing attention: acme-gone"),
        "{}",
        page.body
    );
    assert!(page.body.contains("state-CRITICAL"), "{}", page.body);
}
