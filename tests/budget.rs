//! The token budget and the failure classes, end to end: the `preauth` binary against a
//! sandbox on 127.0.0.1.
//!
//! Each connection counts its own token-endpoint calls of the day (`preauth-token-calls`
//! in the connection); the ledger in the store (`budget-ledger.json`) keeps only the
//! app's error answers of the last hour and what a person set per app. The tests make a
//! day's budget small with `alter app '…' set token calls per day N`, and move the
//! sandbox's clock and preauth's (`PREAUTH_CLOCK_OFFSET_SECONDS`) together, so that one
//! connection can be refreshed again and again.

mod common;

use std::time::{Duration, SystemTime};

use common::{DAY, DEMO_CLIENT_ID, Outcome, Registered, SandboxProcess, Workspace};

/// The ledger's name for the demo app on Exact.
fn demo_app_key() -> String {
    format!("exact-online {DEMO_CLIENT_ID}")
}

fn unix(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Writes a ledger in which the demo app had error answers at `errors`.
fn write_errors(ws: &Workspace, errors: &[SystemTime]) {
    let errors: Vec<u64> = errors.iter().map(|t| unix(*t)).collect();
    let ledger = serde_json::json!({ "errors": { demo_app_key(): errors } });
    std::fs::write(
        ws.settings().join("budget-ledger.json"),
        serde_json::to_vec(&ledger).expect("json"),
    )
    .expect("the ledger is written");
}

fn counter(sandbox: &SandboxProcess, name: &str) -> u64 {
    sandbox.counters()[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name}"))
}

/// The sandbox's clock and preauth's, moved forward together: each [`Clocks::tick`] takes
/// both past the access tokens' 10 minutes, so that every connection may be refreshed
/// once more.
struct Clocks {
    /// How far preauth's clock is ahead of the real one, in seconds.
    ahead: u64,
}

impl Clocks {
    fn new() -> Clocks {
        Clocks { ahead: 0 }
    }

    fn tick(&mut self, sandbox: &SandboxProcess) {
        sandbox.advance(600);
        self.ahead += 600;
    }

    /// `preauth ARGS` on `ws` at preauth's clock.
    fn command(&self, ws: &Workspace, args: &[&str]) -> std::process::Command {
        let mut command = ws.preauth();
        command
            .env("PREAUTH_CLOCK_OFFSET_SECONDS", self.ahead.to_string())
            .args(args);
        command
    }

    fn run(&self, ws: &Workspace, args: &[&str]) -> Outcome {
        Outcome::of(&mut self.command(ws, args))
    }

    /// The UTC day after preauth's today, as `2026-12-02`.
    fn tomorrow(&self) -> String {
        common::day(SystemTime::now() + Duration::from_secs(self.ahead) + DAY)
    }
}

/// Connections `names` of the demo app, registered with tokens obtained just now (so
/// that registering makes no token call), and each connection's day limited to `calls`.
fn registered_with_budget(names: &[&str], calls: u32) -> Registered {
    let connections: Vec<(&str, Duration)> = names.iter().map(|n| (*n, Duration::ZERO)).collect();
    let registered = Registered::new(&connections);
    registered
        .ws
        .run_c(&format!(
            "alter app '{DEMO_CLIENT_ID}' set token calls per day {calls}"
        ))
        .exits(0)
        .says(&[&format!("may make {calls} token-endpoint calls a day")]);
    registered
}

/// The calls connection `name` made today, as it keeps them (read from its plain
/// export: the settings file is sealed).
fn calls_kept(ws: &Workspace, name: &str) -> u64 {
    let exported = ws.run_c(&format!("export settings '{name}' plain"));
    exported.exits(0);
    let kept = common::connection_string_value(&exported.stdout, "preauth-token-calls");
    let (_, calls) = kept.split_once(' ').expect("<date> <calls>");
    calls.parse().expect("a count")
}

#[test]
fn background_work_stops_at_the_reserve_of_a_connection_and_a_person_may_use_it() {
    // 5 calls a day, 20 % reserve: background work makes 4 per connection.
    let registered = registered_with_budget(&["c0", "c1"], 5);
    let (sandbox, ws) = (&registered.sandbox, &registered.ws);
    let mut clocks = Clocks::new();
    let before = sandbox.refresh_calls();
    let mut said = String::new();
    for _ in 0..6 {
        clocks.tick(sandbox);
        let all = clocks.run(ws, &["-c", "refresh all connections older than 0 days"]);
        said += &format!("{}{}", all.stdout, all.stderr);
    }
    assert_eq!(sandbox.refresh_calls() - before, 8, "{said}");
    assert_eq!(calls_kept(ws, "c0"), 4);
    assert_eq!(calls_kept(ws, "c1"), 4);
    assert_eq!(
        said.matches("down to the reserve").count(),
        2,
        "the refresh that reached a connection's reserve says so, once: {said}"
    );
    assert!(
        said.contains("has made 4 of its 5 token-endpoint calls today")
            && said.contains("background work leaves the last 1 to interactive use"),
        "{said}"
    );
    // A program that needs a token now may use the reserve.
    clocks.tick(sandbox);
    clocks.run(ws, &["token", "c0"]).exits(0);
    assert_eq!(sandbox.refresh_calls() - before, 9);
    assert_eq!(calls_kept(ws, "c0"), 5);

    // With the day spent, even a person's call is refused, naming tomorrow, and nothing
    // on disk changes.
    clocks.tick(sandbox);
    let stored = ws.settings_snapshot();
    let sent = sandbox.refresh_calls();
    let refused = clocks.run(ws, &["-c", "refresh connection 'c0' force"]);
    refused.exits(1).warns(&[
        "'c0'",
        "made 5 of its 5",
        "nothing was sent",
        &clocks.tomorrow(),
    ]);
    assert_eq!(sandbox.refresh_calls(), sent);
    assert!(ws.settings_snapshot() == stored, "nothing on disk changed");
    // The other connection of the same app still has its reserve.
    clocks.run(ws, &["token", "c1"]).exits(0);
    assert_eq!(sandbox.refresh_calls(), sent + 1);
}

#[test]
fn many_connections_of_one_app_each_get_their_own_budget_and_show_limits_says_so() {
    let names = ["u0", "u1", "u2", "u3", "u4"];
    // 3 calls a day; 20 % of 3 keeps nothing back.
    let registered = registered_with_budget(&names, 3);
    let (sandbox, ws) = (&registered.sandbox, &registered.ws);
    let mut clocks = Clocks::new();
    let before = sandbox.refresh_calls();
    for _ in 0..4 {
        clocks.tick(sandbox);
        clocks.run(ws, &["-c", "refresh all connections older than 0 days"]);
    }
    // A count per app would have allowed 3 calls in all.
    assert_eq!(sandbox.refresh_calls() - before, 15);
    for name in names {
        assert_eq!(calls_kept(ws, name), 3, "{name}");
    }
    let shown = clocks.run(ws, &["--format", "json", "-c", "show limits"]);
    shown.exits(0);
    let rows: serde_json::Value = serde_json::from_str(shown.stdout.trim()).expect("JSON");
    let demo = rows
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["app"] == DEMO_CLIENT_ID)
        .expect("the demo app is listed");
    assert_eq!(demo["platform"], "exact-online");
    assert_eq!(demo["token_calls_per_day"], "3");
    assert_eq!(demo["most_calls_of_one_connection_today"], "3");
    assert_eq!(demo["connections_with_calls_today"], "5");
    assert_eq!(demo["errors_per_hour_block"], "10");
    // A reserve of 34 % (1 call) is kept from background work from now on.
    ws.run_c(&format!(
        "alter app '{DEMO_CLIENT_ID}' set reserve 34 percent"
    ))
    .exits(0)
    .says(&["may make 3 token-endpoint calls a day", "leaves 34 %"]);
    let shown = ws.run(&["--format", "json", "-c", "show limits"]);
    assert!(shown.stdout.contains("\"34\""), "{shown:#?}");
}

#[test]
fn the_last_errors_before_the_block_are_for_a_persons_forced_refresh() {
    let registered = Registered::new(&[("a", DAY * 8), ("b", DAY * 8)]);
    let (sandbox, ws) = (&registered.sandbox, &registered.ws);
    sandbox.advance(600);
    let now = SystemTime::now();
    write_errors(ws, &[now; 8]);
    let before = sandbox.refresh_calls();
    ws.run(&["token", "a"]).exits(1).warns(&[
        "8 error answers",
        "kept for a person's explicit action",
        "nothing was sent",
    ]);
    assert_eq!(
        sandbox.refresh_calls(),
        before,
        "nothing automatic was sent"
    );
    ws.run_c("refresh connection 'a' force").exits(0);
    assert_eq!(sandbox.refresh_calls(), before + 1);
    // One error below the block, nothing at all is sent.
    write_errors(ws, &[now; 9]);
    ws.run_c("refresh connection 'b' force")
        .exits(1)
        .warns(&["9 error answers", "blocks it at 10"]);
    assert_eq!(sandbox.refresh_calls(), before + 1);
}

#[test]
fn a_dead_connection_polled_for_two_hours_never_gets_the_app_blocked() {
    let registered = Registered::with_a_spent_connection();
    let (sandbox, ws) = (&registered.sandbox, &registered.ws);
    // The sandbox's clock is 8 days ahead; preauth follows it.
    let mut ahead = (DAY * 8).as_secs();
    let errors_before = counter(sandbox, "token_errors");
    for minute in 1..=120u64 {
        sandbox.advance(60);
        ahead += 60;
        let offset = ahead.to_string();
        let polled = common::Outcome::of(
            ws.preauth()
                .env("PREAUTH_CLOCK_OFFSET_SECONDS", &offset)
                .args(["token", "acme-gone"]),
        );
        assert_ne!(polled.code, 0, "minute {minute}: {polled:#?}");
        if minute % 30 == 0 {
            common::Outcome::of(
                ws.preauth()
                    .env("PREAUTH_CLOCK_OFFSET_SECONDS", &offset)
                    .args(["-c", "refresh all connections"]),
            );
        }
    }
    let errors = counter(sandbox, "token_errors") - errors_before;
    assert!(errors < 8, "{errors} error answers within two hours");
    assert_eq!(
        counter(sandbox, "rate_limited"),
        0,
        "the app was never blocked"
    );
    // The healthy connection of the same app still refreshes.
    let before = sandbox.refresh_calls();
    common::Outcome::of(
        ws.preauth()
            .env("PREAUTH_CLOCK_OFFSET_SECONDS", ahead.to_string())
            .args(["token", "acme-ok"]),
    )
    .exits(0);
    assert!(sandbox.refresh_calls() <= before + 1);
    ws.run(&["token", "acme-ok"]).exits(0);
    assert_eq!(counter(sandbox, "rate_limited"), 0);
}

#[test]
fn a_passing_failure_is_transient_with_a_next_try_shown_everywhere() {
    let registered = Registered::new(&[("acme", DAY * 8)]);
    let (sandbox, ws) = (&registered.sandbox, &registered.ws);
    sandbox.advance(600);
    sandbox.fault(r#"{"fault": "http500"}"#);
    ws.run(&["token", "acme"]).exits(1);
    let sent = sandbox.refresh_calls();
    // Within the backoff nothing is sent, and the refusal names the next try.
    ws.run(&["token", "acme"])
        .exits(1)
        .warns(&["not refreshed automatically before", "nothing was sent"]);
    assert_eq!(sandbox.refresh_calls(), sent);

    let shown = ws.run(&["--format", "json", "-c", "show connections"]);
    shown.exits(0).says(&[
        "refresh failing, retrying",
        "transient failure, try 1, next automatic try at ",
    ]);
    let check = ws.run(&["check", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(check.stdout.trim()).expect("JSON");
    let acme = &report["connections"][0];
    assert_eq!(acme["failure_class"], "transient", "{report}");
    let next_try = acme["next_try"].as_str().expect("a next try");
    let next_try = humantime::parse_rfc3339(next_try).expect("RFC 3339");
    let now = SystemTime::now();
    assert!(
        next_try > now - Duration::from_secs(5) && next_try <= now + Duration::from_secs(31),
        "the first backoff is at most 30 s: {next_try:?}"
    );
    // The answer was lost, so the token may be spent: a person should look.
    assert_eq!(report["connections"][0]["state"], "CRITICAL", "{report}");
    let text = ws.run(&["check"]);
    assert!(text.stdout.contains("transient failure"), "{text:#?}");

    // A platform that cannot be reached at all: transient too, nothing was spent.
    let gone = Registered::new(&[("far", DAY * 8)]);
    gone.sandbox.advance(600);
    let Registered { sandbox, ws, .. } = gone;
    drop(sandbox);
    ws.run(&["token", "far"]).exits(1);
    let check = ws.run(&["check", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(check.stdout.trim()).expect("JSON");
    assert_eq!(report["connections"][0]["failure_class"], "transient");
    assert!(report["connections"][0]["next_try"].is_string(), "{report}");
    // Nothing reached the platform: automatic tries go on, a warning meanwhile.
    assert_eq!(report["connections"][0]["state"], "WARNING", "{report}");
}

#[test]
fn two_machines_on_one_postgresql_share_the_count_of_each_connection() {
    let Some(cluster) = pg_throwaway::shared() else {
        return;
    };
    let url = cluster.new_database("budget_shared");
    let sandbox = SandboxProcess::start(&[]);
    let machine = |name: &str| {
        Workspace::new()
            .with_env("PREAUTH_STORE", &url)
            .with_env("PREAUTH_MACHINE", name)
    };
    let (alpha, beta) = (machine("alpha"), machine("beta"));
    let names = ["c0", "c1", "c2"];
    let tokens = sandbox.issue_tokens(names.len());
    for (name, t) in names.iter().zip(&tokens) {
        alpha.register_issued(name, &sandbox, t, Duration::ZERO);
    }
    let made = alpha.run_c("enroll machine");
    made.exits(0);
    beta.run_c(&format!(
        "enroll machine with code '{}'",
        made.stdout.trim()
    ))
    .exits(0);
    // 5 calls a day per connection, for both machines: background work makes 4.
    beta.run_c(&format!(
        "alter app '{DEMO_CLIENT_ID}' set token calls per day 5"
    ))
    .exits(0);
    let mut clocks = Clocks::new();
    let before = sandbox.refresh_calls();
    // Both machines hammer the same connections at once: their keep-alives, then
    // programs that need tokens, round after round.
    let together = |clocks: &Clocks, args: &[&str]| -> String {
        let runs: Vec<_> = [&alpha, &beta]
            .iter()
            .map(|ws| {
                clocks
                    .command(ws, args)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("preauth starts")
            })
            .collect();
        runs.into_iter()
            .map(|run| {
                let out = run.wait_with_output().expect("preauth ends");
                String::from_utf8_lossy(&out.stdout).to_string()
                    + &String::from_utf8_lossy(&out.stderr)
            })
            .collect()
    };
    let mut said = String::new();
    for _ in 0..6 {
        clocks.tick(&sandbox);
        said += &together(
            &clocks,
            &["-c", "refresh all connections older than 0 days"],
        );
    }
    assert_eq!(
        sandbox.refresh_calls() - before,
        12,
        "both machines together stop at each connection's reserve: {said}"
    );
    assert!(said.contains("has made 4 of its 5"), "{said}");
    for _ in 0..3 {
        clocks.tick(&sandbox);
        for name in names {
            said += &together(&clocks, &["token", name]);
        }
    }
    assert_eq!(
        sandbox.refresh_calls() - before,
        15,
        "the reserve is used once per connection, by either machine: {said}"
    );
    assert!(said.contains("has made 5 of its 5"), "{said}");
}
