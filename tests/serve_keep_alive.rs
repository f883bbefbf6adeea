//! `preauth serve --keep-alive`: the keep-alive inside the server, end to end with real
//! `preauth serve` replicas on one store (a settings folder both use, or PostgreSQL with
//! two enrolled machines), against `preauth sandbox` on loopback. `--keep-alive-at now`
//! runs the pass at start instead of at 03:00; a short `--keep-alive-lease` lets a
//! replica take over the pass of one killed mid-pass within seconds.

mod common;

use std::time::{Duration, Instant, SystemTime};

use common::serve::{Keys, Server};
use common::{DAY, Registered, SandboxProcess, Workspace};

/// The keep-alive's options of every replica in these tests.
const KEEP_ALIVE: [&str; 5] = [
    "--keep-alive",
    "--keep-alive-at",
    "now",
    "--keep-alive-lease",
    "3",
];

/// The value of the metric line that starts with `name ` (labels included), when there.
fn gauge(metrics: &str, name: &str) -> Option<u64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// Seconds since the Unix epoch now.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// `/metrics` of `server` once it shows a finished pass and plans the next one a day
/// on (a replica that found another one's pass under way looks again when that one's
/// claim would lapse); panics after 60 seconds.
fn finished_pass(server: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, text) = common::http("GET", &format!("{}/metrics", server.url), None);
        assert_eq!(status, 200, "{text}");
        let ended = gauge(&text, "preauth_keep_alive_last_run_end_timestamp_seconds");
        let next = gauge(&text, "preauth_keep_alive_next_run_timestamp_seconds");
        if ended.is_some_and(|t| t > 0) && next.is_some_and(|t| t > unix_now() + DAY.as_secs() / 2)
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no finished pass and next pass tomorrow in /metrics:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts that the last pass in `metrics` refreshed `refreshed` connections, failed
/// none and left `left_alone` alone.
fn shows_the_pass(metrics: &str, refreshed: u64, left_alone: u64) {
    let count = |outcome: &str| {
        gauge(
            metrics,
            &format!("preauth_keep_alive_last_run_connections{{outcome=\"{outcome}\"}}"),
        )
    };
    assert_eq!(count("refreshed"), Some(refreshed), "{metrics}");
    assert_eq!(count("failed"), Some(0), "{metrics}");
    assert_eq!(count("left_alone"), Some(left_alone), "{metrics}");
    for name in [
        "preauth_keep_alive_next_run_timestamp_seconds",
        "preauth_keep_alive_last_run_start_timestamp_seconds",
        "preauth_keep_alive_last_run_connections",
    ] {
        assert!(metrics.contains(&format!("# HELP {name} ")), "{metrics}");
    }
}

/// When each connection of `ws` got its refresh token (`refresh all connections older
/// than 30 days` refreshes none of them and lists them all).
fn obtained(ws: &Workspace) -> Vec<(String, SystemTime)> {
    let listed = ws.run(&[
        "--format",
        "json",
        "-c",
        "refresh all connections older than 30 days",
    ]);
    let rows: serde_json::Value = serde_json::from_str(&listed.exits(0).stdout).expect("JSON");
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            let at = row["refresh_token_obtained"].as_str().expect("a time");
            let name = row["name"].as_str().expect("a name").to_string();
            (name, humantime::parse_rfc3339(at).expect("RFC 3339"))
        })
        .collect()
}

/// Asserts that the connections of `ws` named `due…` got a new refresh token within the
/// last hour and the others (`young…`) did not.
fn due_ones_renewed(ws: &Workspace) {
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let all = obtained(ws);
    assert!(
        all.iter().any(|(name, _)| name.starts_with("young")),
        "{all:?}"
    );
    for (name, at) in all {
        assert_eq!(at > hour_ago, name.starts_with("due"), "{name}: {at:?}");
    }
}

/// Two replicas started at once with the keep-alive: between them each due connection
/// is refreshed once and the young ones not at all; /metrics of both shows the pass.
fn two_replicas_share_the_pass(
    sandbox: &SandboxProcess,
    replicas: [&Workspace; 2],
    due: u64,
    young: u64,
) {
    sandbox.advance(600);
    let before = sandbox.refresh_calls();
    let mut servers = replicas.map(|ws| Server::start(ws, &KEEP_ALIVE));
    for server in &servers {
        shows_the_pass(&finished_pass(server), due, young);
    }
    assert_eq!(
        sandbox.refresh_calls(),
        before + due,
        "each due connection once"
    );
    assert_eq!(sandbox.counters()["spent_refresh_token_reuses"], 0);
    due_ones_renewed(replicas[0]);
    let logs: Vec<_> = servers.iter_mut().map(Server::stop).collect();
    let ran: Vec<_> = logs
        .iter()
        .filter(|log| log.stderr.contains("keep-alive: pass done"))
        .collect();
    assert_eq!(ran.len(), 1, "one replica ran the pass: {logs:#?}");
    assert!(ran[0].stderr.contains(&format!(
        "pass done: {due} refreshed, 0 failed, {young} left alone"
    )));
    for log in &logs {
        assert_eq!(log.code, 0, "{log:#?}");
        log.keeps_secret(&[common::DEMO_CLIENT_SECRET]);
    }
}

#[test]
fn two_replicas_on_one_settings_folder_refresh_each_due_connection_once() {
    let aged = DAY * 8;
    let Registered { sandbox, ws, .. } = Registered::new(&[
        ("due-1", aged),
        ("due-2", aged),
        ("due-3", aged),
        ("due-4", aged),
        ("young-1", DAY),
        ("young-2", DAY),
    ]);
    two_replicas_share_the_pass(&sandbox, [&ws, &ws], 4, 2);
}

#[test]
fn two_replicas_on_postgresql_refresh_each_due_connection_once() {
    let Some(url) = pg_throwaway::shared().map(|pg| pg.new_database("serve_keep_alive")) else {
        return;
    };
    let machine = |name: &str| {
        Workspace::new()
            .with_env("PREAUTH_STORE", &url)
            .with_env("PREAUTH_MACHINE", name)
    };
    let (alpha, beta) = (machine("alpha"), machine("beta"));
    let sandbox = SandboxProcess::start(&[]);
    let tokens = sandbox.issue_tokens(4);
    for (i, issued) in tokens.iter().enumerate() {
        let (name, age) = match i {
            0 => ("young-1".to_string(), DAY),
            _ => (format!("due-{i}"), DAY * 8),
        };
        alpha.register_issued(&name, &sandbox, issued, age);
    }
    beta.enroll_by(&alpha);
    two_replicas_share_the_pass(&sandbox, [&alpha, &beta], 3, 1);
}

/// Starts a replica with the keep-alive on `ws`, once `sandbox` has moved past the access
/// tokens' lives: of its six due connections, two answer at once and four are held at the
/// sandbox for `millis` (the sandbox rotates a token only after the delay). Returns the
/// replica once the pass is under way (two refreshed, four held), and the sandbox's count
/// of refreshes before it.
fn pass_under_way(sandbox: &SandboxProcess, ws: &Workspace, millis: u64) -> (Server, u64) {
    sandbox.advance(600);
    let (before, faults) = (
        sandbox.refresh_calls(),
        sandbox.counters()["faults_applied"]
            .as_u64()
            .expect("a counter"),
    );
    for delay in [0, 0, millis, millis, millis, millis] {
        sandbox.fault(&format!(r#"{{"fault":"delay","millis":{delay}}}"#));
    }
    let server = Server::start(ws, &KEEP_ALIVE);
    let deadline = Instant::now() + Duration::from_secs(60);
    while sandbox.refresh_calls() < before + 2
        || sandbox.counters()["faults_applied"].as_u64() < Some(faults + 6)
    {
        assert!(Instant::now() < deadline, "the pass never got under way");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, before)
}

/// Six due connections and a young one, registered from tokens a sandbox issued.
fn six_due_and_one_young() -> Registered {
    let aged = DAY * 8;
    Registered::new(&[
        ("due-1", aged),
        ("due-2", aged),
        ("due-3", aged),
        ("due-4", aged),
        ("due-5", aged),
        ("due-6", aged),
        ("young-1", DAY),
    ])
}

#[test]
fn sigterm_mid_pass_lets_the_refreshes_under_way_finish_and_gives_the_pass_up() {
    let Registered { sandbox, ws, .. } = six_due_and_one_young();
    let (mut server, before) = pass_under_way(&sandbox, &ws, 3_000);
    let stopped = server.stop();
    assert_eq!(stopped.code, 0, "{stopped:#?}");
    stopped.warns(&[
        "keep-alive: finishing the refreshes under way before stopping",
        "keep-alive: pass stopped: 6 refreshed, 0 failed, 1 left alone",
        "stopped after the requests in flight finished",
    ]);
    assert_eq!(
        sandbox.refresh_calls(),
        before + 6,
        "each stored, none lost"
    );
    assert_eq!(sandbox.counters()["spent_refresh_token_reuses"], 0);
    due_ones_renewed(&ws);
    // The claim is given up, not recorded as the day's pass: the next start goes on
    // at once, and finds nothing left to refresh.
    let record = || -> serde_json::Value {
        let text = std::fs::read_to_string(ws.settings().join("keep-alive.json"));
        serde_json::from_str(&text.expect("the record")).expect("JSON")
    };
    assert!(record()["finished_at"].is_null(), "{}", record());
    let mut again = Server::start(&ws, &KEEP_ALIVE);
    shows_the_pass(&finished_pass(&again), 0, 7);
    assert_eq!(sandbox.refresh_calls(), before + 6);
    assert_eq!(record()["left_alone"], 7);
    again.stop();
}

#[test]
fn a_replica_killed_mid_pass_leaves_the_rest_to_the_other_and_serving_goes_on() {
    let Registered { sandbox, ws, .. } = six_due_and_one_young();
    let keys = Keys::create(&ws);
    let (first, before) = pass_under_way(&sandbox, &ws, 20_000);
    // Serving answers while the pass is in progress.
    let (status, health) = first.call("GET", "/healthz", None, None);
    assert_eq!((status, &health["status"]), (200, &serde_json::json!("ok")));
    let (status, token) = first.call(
        "POST",
        "/api/v1/connections/young-1/token",
        Some(&keys.token),
        None,
    );
    assert_eq!(status, 200, "{token}");
    let (_, metrics) = common::http("GET", &format!("{}/metrics", first.url), None);
    assert_eq!(
        gauge(
            &metrics,
            "preauth_keep_alive_last_run_end_timestamp_seconds"
        ),
        Some(0),
        "{metrics}"
    );
    assert!(
        gauge(
            &metrics,
            "preauth_keep_alive_last_run_start_timestamp_seconds"
        ) > Some(0)
    );

    let second = Server::start(&ws, &KEEP_ALIVE);
    second.wait_for_stderr(0, "another replica (pid ");
    first.signal(libc::SIGKILL);
    second.wait_for_stderr(0, "taking over the pass of pid ");
    shows_the_pass(&finished_pass(&second), 4, 3);
    // Two by the killed replica, four by the other, one for the token request.
    assert_eq!(sandbox.refresh_calls(), before + 7);
    assert_eq!(
        sandbox.counters()["spent_refresh_token_reuses"],
        0,
        "nothing spent twice"
    );
    drop(first);
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    assert!(obtained(&ws).iter().all(|(_, at)| *at > hour_ago));
    // Every connection is in order, as a monitoring check sees it.
    ws.run(&["check"]).exits(0).says(&["connections=7"]);
}
