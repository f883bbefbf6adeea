//! The keep-alive's progress bar, end to end against a `preauth sandbox` process: on a
//! terminal, `refresh all connections` draws a bar with the count, the rate and the time
//! left on standard error; when standard error is not a terminal it draws nothing.

mod common;

use rexpect::process::WaitStatus;
use rexpect::reader::Options;
use rexpect::session::spawn_with_options;

use common::{DAY, Registered};

/// Each expectation's limit: generous for 2 busy cores, short enough to fail fast.
const TIMEOUT_MS: u64 = 30_000;

#[test]
fn a_terminal_gets_a_progress_bar_and_a_pipe_gets_none() {
    let aged = DAY * 8;
    let Registered { sandbox, ws, .. } = Registered::new(&[("a", aged), ("b", aged), ("c", aged)]);

    // On a terminal: the bar, full at the end, with count, rate and time left.
    sandbox.advance(600);
    let mut command = ws.preauth();
    command
        .env("TERM", "xterm")
        .args(["-c", "refresh all connections"]);
    let options = Options::new()
        .timeout_ms(Some(TIMEOUT_MS))
        .strip_ansi_escape_codes(true);
    let mut session = spawn_with_options(command, options).expect("preauth runs on a pty");
    let (_, bar) = session
        .exp_regex(r"=+ 3/3 connections  [0-9.]+/s  \S+ left  done")
        .expect("a full progress bar");
    assert!(bar.contains("3/3 connections"), "{bar}");
    let rest = session.exp_eof().expect("the run ends");
    assert!(rest.contains("refreshed"), "the table follows: {rest}");
    match session.process().wait().expect("preauth is reaped") {
        WaitStatus::Exited(_, code) => assert_eq!(code, 0, "{rest}"),
        other => panic!("preauth did not exit normally: {other:?}"),
    }

    // Not a terminal: the table on stdout, nothing drawn on stderr. Just renewed, each
    // is left alone even `older than 0 days` (Exact would refuse the refresh).
    let piped = ws.run_c("refresh all connections older than 0 days");
    piped.exits(0).says(&["left alone", "renewed minutes ago"]);
    assert!(!piped.stderr.contains("connections"), "{piped:#?}");
    assert!(!piped.stderr.contains('\u{1b}'), "{piped:#?}");
    assert!(!piped.stderr.contains('\r'), "{piped:#?}");

    // For programs: one JSON array, times in RFC 3339, nothing drawn.
    let json = ws.run(&[
        "--format",
        "json",
        "-c",
        "refresh all connections older than 0 days",
    ]);
    let rows: serde_json::Value = serde_json::from_str(&json.exits(0).stdout).expect("JSON");
    assert_eq!(rows[0]["outcome"], "left alone", "{rows}");
    let obtained = rows[0]["refresh_token_obtained"].as_str().expect("a time");
    assert!(
        humantime::parse_rfc3339(obtained).is_ok(),
        "not RFC 3339: {obtained}"
    );
    assert_eq!(json.stderr, "");
}
