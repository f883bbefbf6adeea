//! Real processes on one settings folder: 16 at once on one connection, and processes
//! killed with SIGKILL in the middle of refresh loops.
//!
//! The parent runs the sandbox and re-executes this test binary as children
//! (`--exact child_refresh_loop`), which find their orders in `PREAUTH_CHILD_*` variables.
//! Run without those variables, the child entry point does nothing.

mod lifecycle_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lifecycle_support::{authorize, connection, lifecycle, sandbox_with, short_app};
use preauth_core::clock::{Clock, SystemClock};
use preauth_core::lifecycle::Lifecycle;
use preauth_core::platform::Registry;
use preauth_core::settings::SettingsFolder;
use preauth_core::store::Store;
use preauth_core::token_client::{TokenClient, TokenClientConfig};
use preauth_sandbox::{App, Limits, Sandbox, SandboxConfig};
use sha2::{Digest, Sha256};

const NAME: &str = "shared";

/// A short, printable fingerprint of a secret (never the secret).
fn fingerprint(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn millis_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn folder(dir: &Path) -> Arc<dyn Store> {
    Arc::new(SettingsFolder::open(dir, Registry::builtin(), None).expect("settings folder"))
}

/// The child: `rounds` calls of ensure_access_token (0: until killed), each printed.
#[tokio::test]
async fn child_refresh_loop() {
    let (Ok(dir), Ok(rounds), Ok(start)) = (
        std::env::var("PREAUTH_CHILD_DIR"),
        std::env::var("PREAUTH_CHILD_ROUNDS"),
        std::env::var("PREAUTH_CHILD_START_MS"),
    ) else {
        return;
    };
    let rounds: u64 = rounds.parse().expect("rounds");
    let start: u64 = start.parse().expect("start");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let http = TokenClient::new(TokenClientConfig::default(), Arc::clone(&clock)).expect("client");
    let lc = Lifecycle::new(folder(Path::new(&dir)), Registry::builtin(), clock, http);
    let mut round = 0u64;
    while rounds == 0 || round < rounds {
        // Everyone calls at the same moment: a shared start, then one call every 50 ms.
        let at = start + round * 50;
        let now = millis_now();
        if at > now {
            tokio::time::sleep(Duration::from_millis(at - now)).await;
        }
        match lc.ensure_access_token(NAME).await {
            Ok(grant) => {
                let refresh = grant.connection.tokens.and_then(|t| t.refresh_token);
                let fp = refresh.map(|r| fingerprint(r.secret())).unwrap_or_default();
                println!("SAVED {fp}");
            }
            Err(e) => println!("ERR {e}"),
        }
        round += 1;
    }
}

fn spawn_child(dir: &Path, rounds: u64, start_ms: u64) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_refresh_loop",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env("PREAUTH_CHILD_DIR", dir)
        .env("PREAUTH_CHILD_ROUNDS", rounds.to_string())
        .env("PREAUTH_CHILD_START_MS", start_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts")
}

/// The lines a child printed (SAVED/ERR only).
fn lines_of(child: Child) -> Vec<String> {
    let out = child.wait_with_output().expect("child output");
    BufReader::new(&out.stdout[..])
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.starts_with("SAVED ") || l.starts_with("ERR "))
        .collect()
}

/// The connection all processes share: Exact, 30-second access tokens.
fn shared_connection(sb: &Sandbox) -> preauth_core::connection::Connection {
    connection(
        NAME,
        "exact-online",
        sb,
        &short_app(),
        App::DEMO_WEB_REDIRECT_URI,
    )
}

async fn setup() -> (Sandbox, tempfile::TempDir, Lifecycle) {
    let sb = sandbox_with(SandboxConfig {
        apps: vec![App::demo(), short_app()],
        limits: Limits {
            token_calls_per_day: 1_000_000,
            errors_per_hour_before_block: 1_000_000,
            ..Limits::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let lc = lifecycle(&sb, folder(dir.path()));
    authorize(&lc, &shared_connection(&sb)).await;
    (sb, dir, lc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_processes_at_once_keep_one_token_chain() {
    let (sb, dir, lc) = setup().await;
    const CHILDREN: usize = 16;
    const ROUNDS: u64 = 4;
    let start = millis_now() + 1500;
    let children: Vec<Child> = (0..CHILDREN)
        .map(|_| spawn_child(dir.path(), ROUNDS, start))
        .collect();
    let outputs =
        tokio::task::spawn_blocking(move || children.into_iter().map(lines_of).collect::<Vec<_>>())
            .await
            .expect("children finished");
    let errors: Vec<&String> = outputs
        .iter()
        .flatten()
        .filter(|l| l.starts_with("ERR"))
        .collect();
    assert!(errors.is_empty(), "children failed: {errors:?}");
    let saved = outputs.iter().flatten().count();
    assert_eq!(
        saved,
        CHILDREN * ROUNDS as usize,
        "every call returned a token"
    );
    let counters = sb.counters();
    assert_eq!(
        counters.spent_refresh_token_reuses, 0,
        "no 'Old refresh token used'"
    );
    assert_eq!(counters.token_errors, 0);
    // 30 s tokens: every call refreshes, one after the other, each spending the last.
    assert_eq!(
        counters.token_calls_refresh_token,
        (CHILDREN as u64) * ROUNDS
    );
    // The chain is one: every fingerprint is distinct, and the stored token still works.
    let mut fps: Vec<&String> = outputs.iter().flatten().collect();
    fps.sort();
    fps.dedup();
    assert_eq!(
        fps.len(),
        CHILDREN * ROUNDS as usize,
        "no two calls saw the same refresh token"
    );
    lc.ensure_access_token(NAME)
        .await
        .expect("the newest stored token is the live one");
    assert_eq!(sb.counters().spent_refresh_token_reuses, 0);
}

/// The least time the children of a round get before they are killed: enough to start and
/// refresh (under Wine a Windows process takes about a second to start).
#[cfg(not(windows))]
const KILL_AFTER_MS: u64 = 150;
#[cfg(windows)]
const KILL_AFTER_MS: u64 = 1500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_refresh_never_breaks_the_settings_file() {
    let (sb, dir, lc) = setup().await;
    const KILLS: usize = 12;
    let mut new_logins = 0;
    for round in 0..KILLS {
        let calls_before = sb.counters().token_calls_refresh_token;
        let children: Vec<Child> = (0..2)
            .map(|_| spawn_child(dir.path(), 0, millis_now()))
            .collect();
        let mut delay = [0u8; 2];
        getrandom::fill(&mut delay).expect("random");
        tokio::time::sleep(Duration::from_millis(
            KILL_AFTER_MS + u64::from(u16::from_le_bytes(delay) % 250),
        ))
        .await;
        let outputs = tokio::task::spawn_blocking(move || {
            children
                .into_iter()
                .map(|mut c| {
                    let _ = c.kill(); // SIGKILL
                    lines_of(c)
                })
                .collect::<Vec<_>>()
        })
        .await
        .expect("killed");
        let saved: Vec<&String> = outputs
            .iter()
            .flatten()
            .filter(|l| l.starts_with("SAVED"))
            .collect();
        assert!(
            !saved.is_empty(),
            "round {round}: the children refreshed before the kill"
        );
        // The file parses, and holds a token at least as new as the last one reported.
        let stored = folder(dir.path())
            .load(NAME)
            .expect("settings file parses after SIGKILL");
        let fp = stored
            .tokens
            .and_then(|t| t.refresh_token)
            .map(|r| fingerprint(r.secret()))
            .expect("a refresh token is stored");
        let reported: Vec<String> = saved
            .iter()
            .map(|l| l.trim_start_matches("SAVED ").to_string())
            .collect();
        // Every refresh the sandbox processed was saved and reported, unless a kill fell
        // between the two: only then may the stored token be unreported, or spent.
        let calls = sb.counters().token_calls_refresh_token - calls_before;
        let all_reported = calls == saved.len() as u64;
        assert!(
            reported.contains(&fp) || !all_reported,
            "round {round}: the stored token is neither reported nor explained by a kill"
        );
        match lc.ensure_access_token(NAME).await {
            Ok(_) => {}
            Err(e) if e.needs_new_login() => {
                assert!(
                    !all_reported,
                    "round {round}: every rotation was saved, so the stored token must work: {e}"
                );
                new_logins += 1;
                authorize(&lc, &shared_connection(&sb)).await;
            }
            Err(e) => panic!("round {round}: {e}"),
        }
    }
    println!("SIGKILL: {new_logins} of {KILLS} kills needed a new login");
    assert!(new_logins <= KILLS);
    folder(dir.path())
        .load(NAME)
        .expect("still parseable at the end");
}
