//! `preauthenticate` in a batch run with no browser: the URL and how to finish come at
//! once, instead of a silent wait of up to 10 minutes on the loopback listener.

mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{SandboxProcess, Workspace, loopback_redirect, preauthenticate};

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
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&sandbox.url),
        "the URL is not shown: {stderr}"
    );
    assert!(stderr.contains("no browser"), "{stderr}");
    assert!(stdout.contains("exchange code url"), "{stdout}");
    assert!(!ws.settings().join("settings-later.xml").exists());
}
