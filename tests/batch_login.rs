//! `preauthenticate` in a batch run with no browser: the URL and how to finish come at
//! once, instead of a silent wait of up to 10 minutes on the loopback listener, and the
//! statement fails (nothing was stored) while the login stays pending; starting it again
//! by the connection's name alone keeps what was typed.

mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{
    DEMO_CLIENT_SECRET, SandboxProcess, WEB_REDIRECT, Workspace, approve, authorization_url,
    loopback_redirect, preauthenticate,
};

#[test]
fn without_a_terminal_or_a_browser_the_url_and_how_to_finish_come_at_once() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let statement = preauthenticate(&sandbox.url, &loopback_redirect(), "later");
    let mut child = ws
        .preauth()
        .args(["-c", &statement])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("preauth runs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("preauth is polled") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("preauthenticate waited for a browser that is not there");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("stdout");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&sandbox.url),
        "the URL is not shown: {stderr}"
    );
    assert!(stderr.contains("no browser"), "{stderr}");
    assert!(stderr.contains("did not finish"), "{stderr}");
    assert!(stderr.contains("exchange code url"), "{stderr}");
    assert!(!ws.settings().join("settings-later.xml").exists());
}

#[test]
fn a_login_nothing_can_finish_fails_the_statement_and_can_be_finished_later() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let statement = preauthenticate(&sandbox.url, WEB_REDIRECT, "c1");
    let run = ws.run(&["-c", &statement, "-c", "local echo next"]);
    run.exits(1).warns(&[
        "the login for connection 'c1' did not finish",
        "exchange code url '<that whole address>'",
        // The real limits: Exact's code after consent, the pending login's own.
        "within 3 minutes of approving the app (Exact Online's codes live no longer)",
        "within 10 minutes of starting the login",
        "preauthenticate connection 'c1'",
    ]);
    assert!(
        !run.stdout.contains("next"),
        "the run went on: {}",
        run.stdout
    );
    assert!(!run.stderr.contains("10 minutes with"), "{}", run.stderr);
    assert!(!ws.settings().join("settings-c1.xml").exists());

    // The login stays pending: its return URL finishes it in another run.
    let returned = approve(&authorization_url(&run.stderr));
    returned.exits(0);
    let return_url = returned.stdout.trim();
    ws.run_c(&format!("exchange code url '{return_url}'"))
        .exits(0)
        .says(&["connection 'c1' authorized"]);
}

#[test]
fn a_login_that_was_not_finished_starts_again_by_name_with_what_was_typed() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let first = ws.run_c(&preauthenticate(&sandbox.url, WEB_REDIRECT, "late"));
    first.exits(1);
    let first_url = authorization_url(&first.stderr);

    // No secret is typed again: the unfinished login's app settings are used.
    let again = ws.run_c("preauthenticate connection 'late'");
    again
        .exits(1)
        .warns(&["the login for connection 'late' did not finish"]);
    assert!(
        !again.stderr.contains("no connection named"),
        "{}",
        again.stderr
    );
    let url = authorization_url(&again.stderr);
    assert_ne!(url, first_url, "a new login, with a state of its own");
    let returned = approve(&url);
    returned.exits(0);
    ws.run_c(&format!("exchange code url '{}'", returned.stdout.trim()))
        .exits(0)
        .says(&["connection 'late' authorized"]);
    ws.run_c("export settings 'late' plain")
        .exits(0)
        .says(&[DEMO_CLIENT_SECRET, WEB_REDIRECT]);

    // A name no login was started for is still unknown.
    ws.run_c("preauthenticate connection 'never'")
        .exits(1)
        .warns(&["no connection named 'never'"]);
}
