//! A shared store whose server stops answering: the binary as users run it, against
//! `preauth sandbox` on loopback and a throwaway PostgreSQL cluster of each test's own
//! (the faults are injected into the server itself, so no other test may share it).
//!
//! SIGSTOP freezes a server as a hung host does: the kernel still accepts TCP
//! connections and acknowledges what is sent, but nothing answers. preauth must give up
//! within its store timeout (`--store-timeout`, 8 s unless set), say so in one
//! sentence, and work again once the server does.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{DAY, Outcome, SandboxProcess, Workspace, serve};
use pg_throwaway::Cluster;
use serde_json::Value;

/// How much later than its bound a command may finish: process start, the key
/// derivation, a loaded machine.
const MARGIN: Duration = Duration::from_secs(3);

/// How long the lock holder of a test holds the table.
const HOLD: Duration = Duration::from_secs(6);

/// The store timeout when none is given (`--store-timeout`).
const DEFAULT_BOUND: Duration = Duration::from_secs(8);

/// Processes stopped with SIGSTOP, continued (SIGCONT) when this is dropped, so a failing
/// test never leaves a frozen server behind.
struct Frozen {
    pids: Vec<libc::pid_t>,
}

impl Frozen {
    /// Stops `pids` (SIGSTOP).
    fn stop(pids: Vec<u32>) -> Frozen {
        let pids: Vec<libc::pid_t> = pids
            .into_iter()
            .map(|pid| libc::pid_t::try_from(pid).expect("a process id"))
            .collect();
        let frozen = Frozen { pids };
        for &pid in &frozen.pids {
            // SAFETY: kill(2) with a process id read from the cluster; no memory involved.
            let sent = unsafe { libc::kill(pid, libc::SIGSTOP) };
            assert_eq!(sent, 0, "SIGSTOP to {pid}");
        }
        frozen
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for &pid in &self.pids {
            // SAFETY: as in `Frozen::stop`.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
    }
}

/// The postmaster's process id.
fn postmaster(cluster: &Cluster) -> u32 {
    cluster.postmaster_pid().expect("the server runs")
}

/// The postmaster and every process it started (background workers and the backends
/// of open connections), from `/proc`.
fn server_processes(cluster: &Cluster) -> Vec<u32> {
    let parent = postmaster(cluster);
    let mut pids = vec![parent];
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …; comm may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            pids.push(pid);
        }
    }
    assert!(pids.len() > 1, "the server's own processes are found");
    pids
}

/// A cluster of the test's own with connection 'acme' (tokens from a sandbox) on a
/// machine that uses it as its store.
struct Acme {
    cluster: Cluster,
    /// Issued the tokens and answers refreshes; kept for the test's length.
    _sandbox: SandboxProcess,
    ws: Workspace,
    /// The access token, as `preauth token acme` prints it.
    token: String,
}

impl Acme {
    /// Set up, or `None` after the one skip line when PostgreSQL is not installed.
    fn new() -> Option<Acme> {
        let cluster = pg_throwaway::start_or_skip()?;
        let sandbox = SandboxProcess::start(&[]);
        let ws = Workspace::new()
            .with_env("PREAUTH_STORE", &cluster.url())
            .with_env("PREAUTH_MACHINE", "alpha");
        let tokens = sandbox.issue_tokens(1);
        ws.register_issued("acme", &sandbox, &tokens[0], DAY);
        ws.run(&["check"]).exits(0).says(&["PREAUTH OK"]);
        let token = ws.run(&["token", "acme"]);
        token.exits(0);
        let token = token.stdout.trim().to_string();
        Some(Acme {
            cluster,
            _sandbox: sandbox,
            ws,
            token,
        })
    }
}

/// Runs `command`, which must end within `bound` plus [`MARGIN`]; its outcome and how
/// long it took.
fn timed(command: &mut std::process::Command, bound: Duration) -> (Outcome, Duration) {
    let started = Instant::now();
    let outcome = Outcome::within(command, bound + MARGIN);
    (outcome, started.elapsed())
}

#[test]
fn a_frozen_server_makes_check_unknown_and_token_fail_within_the_bound_then_both_work_again() {
    let Some(Acme {
        cluster, ws, token, ..
    }) = Acme::new()
    else {
        return;
    };
    let location = format!("postgres://postgres@127.0.0.1:{}/test", cluster.port());

    let frozen = Frozen::stop(vec![postmaster(&cluster)]);
    // The default bound: UNKNOWN (exit 3) before a monitoring system's 10 s plugin
    // timeout, the store named without a hang.
    let (check, took) = timed(ws.preauth().arg("check"), DEFAULT_BOUND);
    check.exits(3);
    let first = check.stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("PREAUTH UNKNOWN - "), "{check:#?}");
    assert!(
        first.contains(&location) && first.contains("did not answer"),
        "{check:#?}"
    );
    assert!(took < Duration::from_secs(10), "check took {took:?}");
    // A job's token: exit 1 with one sentence on standard error, nothing on standard
    // output.
    let (failed, took) = timed(ws.preauth().args(["token", "acme"]), DEFAULT_BOUND);
    failed.exits(1);
    assert_eq!(failed.stdout, "", "{failed:#?}");
    assert_eq!(failed.stderr.trim().lines().count(), 1, "{failed:#?}");
    failed.warns(&[&location, "did not answer", "within 8 s"]);
    assert!(took >= Duration::from_secs(7), "gave up early: {took:?}");
    // The bound is an option (and a variable).
    let (check, took) = timed(
        ws.preauth().args(["--store-timeout", "2", "check"]),
        Duration::from_secs(2),
    );
    check
        .exits(3)
        .says(&["PREAUTH UNKNOWN - ", "did not answer"]);
    assert!(
        took < Duration::from_secs(2) + MARGIN,
        "check took {took:?}"
    );
    let (failed, _) = timed(
        ws.preauth()
            .env("PREAUTH_STORE_TIMEOUT", "2")
            .args(["token", "acme"]),
        Duration::from_secs(2),
    );
    failed.exits(1).warns(&["did not answer", "within 2 s"]);

    // The server answers again: so does preauth, with the same token.
    drop(frozen);
    ws.run(&["check"]).exits(0).says(&["PREAUTH OK"]);
    ws.run(&["token", "acme"]).exits(0).says(&[&token]);
}

/// `method path` on `server` with `key`, in a thread of its own: the status and body,
/// or a failure when no answer comes within `limit`.
fn call(
    server: &serve::Server,
    method: &str,
    path: &str,
    key: &str,
    limit: Duration,
) -> (u16, Value) {
    let (tx, rx) = mpsc::channel();
    let (method, url) = (method.to_string(), format!("{}{path}", server.url));
    let headers = format!("Authorization: Bearer {key}\r\n");
    std::thread::spawn(move || {
        let (status, body) = common::send(&method, &url, &headers, "");
        let _ = tx.send((status, serde_json::from_str(&body).unwrap_or(Value::Null)));
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("preauth serve did not answer within {limit:?}"))
}

#[test]
fn a_server_frozen_mid_session_bounds_each_query_and_the_pool_starts_afresh() {
    let Some(Acme {
        cluster, ws, token, ..
    }) = Acme::new()
    else {
        return;
    };
    let key = serve::api_key(&ws, "admin", "admin");
    let mut server = serve::Server::start(&ws, &["--store-timeout", "3"]);
    let bound = Duration::from_secs(3);
    let list =
        |server: &serve::Server| call(server, "GET", "/api/v1/connections", &key, bound + MARGIN);
    // The server holds an open connection to the database now, idle in its pool.
    let (status, body) = list(&server);
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("\"acme\""), "{body}");

    // Every process of the database freezes, the backend of that connection included:
    // the next query is sent on a connection that was fine and gets no answer. Then a
    // new connection gets none either.
    let frozen = Frozen::stop(server_processes(&cluster));
    for step in [
        "did not answer a query",
        "did not answer the connection request",
    ] {
        let started = Instant::now();
        let (status, body) = list(&server);
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"], "store_unavailable", "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(step), "{body}");
        assert!(
            started.elapsed() >= bound - Duration::from_millis(500),
            "gave up early"
        );
    }

    // Thawed, the next calls work on a new connection: the frozen one was not kept.
    drop(frozen);
    let (status, body) = list(&server);
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        &server,
        "POST",
        "/api/v1/connections/acme/token",
        &key,
        bound + MARGIN,
    );
    assert_eq!(
        (status, body["access_token"].as_str()),
        (200, Some(token.as_str()))
    );
    let outcome = server.stop();
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    outcome.warns(&["did not answer"]);
}

#[test]
fn a_lock_wait_outlasts_the_store_timeout_but_a_plain_query_does_not() {
    let Some(Acme {
        cluster, ws, token, ..
    }) = Acme::new()
    else {
        return;
    };
    // Another session holds the connections' table for a while (a migration, or an
    // operator's maintenance), longer than the store timeout.
    let mut holder = cluster
        .psql("test")
        .args([
            "-c",
            "BEGIN",
            "-c",
            "LOCK TABLE preauth_connections IN ACCESS EXCLUSIVE MODE",
            "-c",
            "SELECT pg_sleep(6)",
            "-c",
            "COMMIT",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("psql starts");
    // The sleep shows in pg_stat_activity once the table is held.
    let deadline = Instant::now() + Duration::from_secs(10);
    let holding = "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(6)'";
    while !cluster_says(&cluster, holding, "1") {
        assert!(Instant::now() < deadline, "the holder never held the table");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Reading is a query: the server cancels it at the statement timeout, and check
    // says so (UNKNOWN) within the store timeout.
    let (check, _) = timed(
        ws.preauth().args(["--store-timeout", "2", "check"]),
        Duration::from_secs(2),
    );
    check
        .exits(3)
        .says(&["PREAUTH UNKNOWN - ", "cancelled", "statement timeout"]);
    // Waiting for a connection is a lock wait: given up after the lock wait, with the
    // lock's own sentence, not the store's.
    let (gave_up, _) = timed(
        ws.preauth().args([
            "--store-timeout",
            "1",
            "--lock-timeout",
            "1",
            "token",
            "acme",
        ]),
        Duration::from_secs(2),
    );
    gave_up
        .exits(1)
        .warns(&["stayed locked by another process", "--lock-timeout"]);
    // The default lock wait: longer than a query's bound, until the holder commits.
    let (waited, took) = timed(
        ws.preauth().args(["--store-timeout", "1", "token", "acme"]),
        HOLD,
    );
    waited.exits(0).says(&[&token]);
    assert!(took >= Duration::from_secs(2), "it did not wait: {took:?}");
    assert!(holder.wait().expect("psql ends").success());
}

#[test]
fn a_stopped_server_is_503_store_unavailable_for_the_api_until_it_is_back() {
    let Some(Acme {
        mut cluster,
        ws,
        token,
        ..
    }) = Acme::new()
    else {
        return;
    };
    let key = serve::api_key(&ws, "admin", "admin");
    let mut server = serve::Server::start(&ws, &[]);
    let limit = DEFAULT_BOUND + MARGIN;
    let list = |server: &serve::Server| call(server, "GET", "/api/v1/connections", &key, limit);
    let (status, body) = list(&server);
    assert_eq!(status, 200, "{body}");

    // The database is shut down: the connection in the pool is cut, and no new one is
    // accepted. Each answer is "unavailable, try later", not a failure of preauth.
    assert!(cluster.stop(), "the server stops");
    for _ in 0..2 {
        let (status, body) = list(&server);
        assert_eq!(
            (status, body["error"].as_str()),
            (503, Some("store_unavailable")),
            "{body}"
        );
    }
    ws.run(&["token", "acme"])
        .exits(1)
        .warns(&["cannot connect", "check that the server runs"]);

    // Back on its port, the next call works on a new connection.
    cluster.start_again().expect("the server starts again");
    let (status, body) = list(&server);
    assert_eq!(status, 200, "{body}");
    ws.run(&["token", "acme"]).exits(0).says(&[&token]);
    let outcome = server.stop();
    assert_eq!(outcome.code, 0, "{outcome:#?}");
}

/// Whether `sql` on the test database of `cluster` prints `expected`.
fn cluster_says(cluster: &Cluster, sql: &str, expected: &str) -> bool {
    cluster
        .psql("test")
        .args(["-c", sql])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == expected)
}
