//! Shared by the whole-process benchmarks: running `preauth` with its peak memory, and
//! token pairs a sandbox issued after real logins, registered as the OEM flow does.
#![allow(dead_code)] // each benchmark uses a different subset

#[path = "../../tests/common/mod.rs"]
pub mod common;
#[path = "../../crates/preauth-core/tests/lifecycle_support/mod.rs"]
pub mod lifecycle_support;

use std::fs::File;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lifecycle_support::{MemStore, authorize, connection, lifecycle, unlimited_sandbox};
use preauth_sandbox::{App, Sandbox};

/// Runs `command` with standard output into a file; returns its wall time, its peak
/// memory in KiB and its standard output. Panics unless it succeeds.
///
/// The peak is the child's own: its `VmHWM`, sampled every millisecond while it runs
/// (so the time may be up to a millisecond late). (The
/// `ru_maxrss` that `wait4` reports would not do: Linux carries the high-water mark of
/// the memory a child had before `exec` into it, and a child spawned from this large
/// benchmark process starts out sharing this process's memory.)
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by waitpid in the loop"
)]
pub fn run_measured(command: &mut Command, out: &std::path::Path) -> (Duration, u64, String) {
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(File::create(out).expect("output file"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("preauth starts");
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut peak = 0;
    let mut status = 0;
    loop {
        peak = peak.max(peak_kib(child.id()));
        // SAFETY: `pid` is our own child, not yet reaped; `status` is valid.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if waited == pid {
            break;
        }
        assert_eq!(waited, 0, "waitpid");
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = started.elapsed();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "preauth failed (status {status})"
    );
    let stdout = std::fs::read_to_string(out).expect("output");
    (elapsed, peak, stdout)
}

/// The peak resident memory (VmHWM) of running process `pid`, in KiB; 0 when it
/// cannot be read.
pub fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A sandbox without limits and `n` token pairs it issued to the demo app after real
/// logins.
pub fn issue(rt: &tokio::runtime::Runtime, n: usize) -> (Sandbox, Vec<(String, String)>) {
    issue_for(rt, n, &App::demo())
}

/// Like [`issue`], for `app` (one of the apps of [`unlimited_sandbox`]).
pub fn issue_for(
    rt: &tokio::runtime::Runtime,
    n: usize,
    app: &App,
) -> (Sandbox, Vec<(String, String)>) {
    rt.block_on(async {
        let sb = unlimited_sandbox().await;
        let lc = lifecycle(&sb, Arc::new(MemStore::default()));
        let mut tokens = Vec::with_capacity(n);
        for i in 0..n {
            let named = connection(
                &format!("c{i}"),
                "exact-online",
                &sb,
                app,
                App::DEMO_WEB_REDIRECT_URI,
            );
            let stored = authorize(&lc, &named).await.tokens.expect("tokens");
            let refresh = stored.refresh_token.expect("a refresh token");
            tokens.push((
                stored.access_token.secret().to_string(),
                refresh.secret().to_string(),
            ));
        }
        (sb, tokens)
    })
}

/// The name [`register_script`] gives the connection of the `i`th token pair.
pub fn connection_name(i: usize) -> String {
    format!("conn-{i:05}")
}

/// The script that registers every token pair of the demo app, as
/// [`connection_name`]s, obtained eight days ago (so their access tokens are due for a
/// refresh).
pub fn register_script(sb: &Sandbox, tokens: &[(String, String)]) -> String {
    register_script_for(sb, tokens, &App::demo())
}

/// Like [`register_script`], for `app`.
pub fn register_script_for(sb: &Sandbox, tokens: &[(String, String)], app: &App) -> String {
    let obtained = common::rfc3339(SystemTime::now() - common::DAY * 8);
    let options = format!(
        "api url '{}' client id '{}' client secret '{}' redirect url '{}'",
        sb.base_url(),
        app.client_id,
        app.client_secret,
        common::WEB_REDIRECT
    );
    tokens
        .iter()
        .enumerate()
        .map(|(i, (access, refresh))| {
            format!(
                "register connection '{}' platform exact {options} access token '{access}' refresh token '{refresh}' obtained at '{obtained}';\n",
                connection_name(i)
            )
        })
        .collect()
}

/// How far the sandbox's clock moves for its ten-minute access tokens to be refreshable:
/// a minute past their lifetime, since tokens issued late in the previous run (a run
/// takes real time too) would otherwise still be valid, and refused.
pub const REFRESH_WINDOW_REACHED: Duration = Duration::from_secs(660);

/// One keep-alive over the `n` connections of `ws` once the sandbox's access tokens
/// reached their refresh window: its wall time; every connection must be refreshed.
/// Raises `peak` to the process's peak memory (KiB). Run it again over connections of
/// [`lifecycle_support::short_app`], whose 30-second access tokens may be refreshed at once: the keep-alive
/// leaves a connection renewed minutes ago with a 10-minute access token alone.
pub fn keep_alive_once(
    sb: &Sandbox,
    ws: &common::Workspace,
    out: &std::path::Path,
    n: usize,
    peak: &mut u64,
) -> Duration {
    sb.clock().advance(REFRESH_WINDOW_REACHED);
    let (took, rss, stdout) = run_measured(
        ws.preauth()
            .args(["-c", "refresh all connections older than 0 days"]),
        out,
    );
    assert_eq!(stdout.matches(" refreshed ").count(), n, "{stdout}");
    *peak = (*peak).max(rss);
    took
}
