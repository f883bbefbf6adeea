//! The budget ledger and the failure classes, end to end: the `preauth` binary against a
//! sandbox on 127.0.0.1, the ledger in the settings folder (`budget-ledger.json`).
//!
//! The ledger counts preauth's own token-endpoint calls per app and UTC day and its error
//! answers per hour; the tests that start from a nearly spent day write that state into
//! the ledger as earlier calls would have left it.

mod common;

use std::time::{Duration, SystemTime};

use common::{DAY, DEMO_CLIENT_ID, Registered, SandboxProcess, Workspace};

/// The ledger's name for the demo app on Exact.
fn demo_app_key() -> String {
    format!("exact-online {DEMO_CLIENT_ID}")
}

fn unix(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Writes a ledger in which the demo app made `calls` token calls today and had error
/// answers at `errors`.
fn write_ledger(ws: &Workspace, calls: u32, errors: &[SystemTime]) {
    let today = unix(SystemTime::now()) / DAY.as_secs();
    let errors: Vec<u64> = errors.iter().map(|t| unix(*t)).collect();
    let ledger = serde_json::json!({
        "calls": { demo_app_key(): { "day": today, "calls": calls } },
        "errors": { demo_app_key(): errors },
    });
    std::fs::write(
        ws.settings().join("budget-ledger.json"),
        serde_json::to_vec(&ledger).expect("json"),
    )
    .expect("the ledger is written");
}

/// The demo app's calls today, as the ledger says.
fn ledger_calls(ws: &Workspace) -> u64 {
    let text = std::fs::read(ws.settings().join("budget-ledger.json")).expect("the ledger");
    let ledger: serde_json::Value = serde_json::from_slice(&text).expect("ledger JSON");
    ledger["calls"][demo_app_key()]["calls"]
        .as_u64()
        .unwrap_or(0)
}

fn counter(sandbox: &SandboxProcess, name: &str) -> u64 {
    sandbox.counters()[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name}"))
}

#[test]
fn background_work_stops_at_the_reserve_and_a_person_may_use_it() {
    let names = ["c0", "c1", "c2", "c3", "c4"];
    let connections: Vec<(&str, Duration)> = names.iter().map(|n| (*n, DAY * 8)).collect();
    let registered = Registered::new(&connections);
    let (sandbox, ws) = (&registered.sandbox, &registered.ws);
    sandbox.advance(600);
    // Exact allows 200 calls a day; 157 were made: background work may make 3 more.
    write_ledger(ws, 157, &[]);
    let before = sandbox.refresh_calls();
    let all = ws.run_c("refresh all connections");
    assert_ne!(
        all.code, 0,
        "a refused keep-alive is not a success: {all:#?}"
    );
    assert_eq!(sandbox.refresh_calls() - before, 3, "{all:#?}");
    assert_eq!(ledger_calls(ws), 160);
    assert_eq!(
        all.stdout.matches("down to the reserve").count(),
        1,
        "the refresh that reached the reserve says so, once: {all:#?}"
    );
    let said = format!("{}{}", all.stdout, all.stderr);
    assert!(
        said.contains("background work leaves the last 40 to interactive use"),
        "{said}"
    );
    // A program that needs a token now may use the reserve.
    let refused: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| ws.run(&["token", n]).code != 0)
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(sandbox.refresh_calls() - before, 5);
    assert_eq!(ledger_calls(ws), 162);

    // With the day spent, even a person's call is refused, naming tomorrow, and nothing
    // on disk but the ledger changes.
    let more = Registered::new(&[("late", DAY * 8)]);
    more.sandbox.advance(600);
    write_ledger(&more.ws, 200, &[]);
    let stored = more.ws.settings_snapshot();
    let before = more.sandbox.refresh_calls();
    let refused = more.ws.run_c("refresh connection 'late' force");
    let tomorrow = common::day(SystemTime::now() + DAY);
    refused
        .exits(1)
        .warns(&["used 200 of its 200", "nothing was sent", &tomorrow]);
    assert_eq!(more.sandbox.refresh_calls(), before);
    let outside_ledger = |files: Vec<(String, Vec<u8>)>| -> Vec<(String, Vec<u8>)> {
        files
            .into_iter()
            .filter(|(name, _)| !name.contains("budget-ledger"))
            .collect()
    };
    let (after, stored) = (
        outside_ledger(more.ws.settings_snapshot()),
        outside_ledger(stored),
    );
    assert!(after == stored, "only the ledger may change");
}

#[test]
fn the_last_errors_before_the_block_are_for_a_persons_forced_refresh() {
    let registered = Registered::new(&[("a", DAY * 8), ("b", DAY * 8)]);
    let (sandbox, ws) = (&registered.sandbox, &registered.ws);
    sandbox.advance(600);
    let now = SystemTime::now();
    write_ledger(ws, 0, &[now; 8]);
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
    write_ledger(ws, 1, &[now; 9]);
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

/// Runs `sql` in database `name` of the shared cluster.
fn psql(name: &str, sql: &str) -> String {
    let cluster = pg_throwaway::shared().expect("the shared cluster");
    let out = cluster
        .psql(name)
        .args(["-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn two_machines_on_one_postgresql_share_the_ledger_and_its_reserve() {
    let Some(cluster) = pg_throwaway::shared() else {
        return;
    };
    let database = "budget_shared";
    let url = cluster.new_database(database);
    let sandbox = SandboxProcess::start(&[]);
    let machine = |name: &str| {
        Workspace::new()
            .with_env("PREAUTH_STORE", &url)
            .with_env("PREAUTH_MACHINE", name)
    };
    let (alpha, beta) = (machine("alpha"), machine("beta"));
    let tokens = sandbox.issue_tokens(16);
    for (i, t) in tokens.iter().enumerate() {
        alpha.register_issued(&format!("c{i:02}"), &sandbox, t, 2 * DAY);
    }
    let made = alpha.run_c("enroll machine");
    made.exits(0);
    beta.run_c(&format!(
        "enroll machine with code '{}'",
        made.stdout.trim()
    ))
    .exits(0);
    sandbox.advance(600);
    // 150 of the day's 200 calls were made: background work may make 10 more, together.
    let today = unix(SystemTime::now()) / DAY.as_secs();
    let ledger = serde_json::json!({
        "calls": { demo_app_key(): { "day": today, "calls": 150 } },
    });
    psql(
        database,
        &format!(
            "INSERT INTO preauth_documents (name, body) VALUES ('budget-ledger.json', convert_to('{ledger}', 'UTF8'))"
        ),
    );
    let before = sandbox.refresh_calls();
    let runs: Vec<_> = [&alpha, &beta]
        .iter()
        .map(|ws| {
            ws.preauth()
                .args(["-c", "refresh all connections older than 0 days"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("preauth starts")
        })
        .collect();
    let mut refused = 0;
    for run in runs {
        let out = run.wait_with_output().expect("preauth ends");
        let said = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        refused += said.matches("leaves the last 40").count();
    }
    assert_eq!(
        sandbox.refresh_calls() - before,
        10,
        "both machines together stop at the reserve"
    );
    assert!(
        refused >= 6,
        "the other connections were refused: {refused}"
    );
    let stored = psql(
        database,
        "SELECT convert_from(body, 'UTF8') FROM preauth_documents WHERE name = 'budget-ledger.json'",
    );
    let stored: serde_json::Value = serde_json::from_str(stored.trim()).expect("ledger JSON");
    assert_eq!(stored["calls"][demo_app_key()]["calls"], 160);
    // The reserve is there for a program that needs a token now, on either machine.
    let waiting: Vec<String> = (0..16)
        .map(|i| format!("c{i:02}"))
        .filter(|name| {
            beta.run_c(&format!("show connection '{name}'"))
                .stdout
                .contains("needs refresh")
        })
        .collect();
    let name = waiting.first().expect("a connection left for later");
    beta.run(&["token", name]).exits(0);
    assert_eq!(sandbox.refresh_calls() - before, 11);
}

#[test]
fn an_app_the_platform_exempted_gets_its_own_budget_and_show_limits_says_so() {
    let registered = Registered::new(&[("a", DAY * 8), ("b", DAY * 8), ("c", DAY * 8)]);
    let (sandbox, ws) = (&registered.sandbox, &registered.ws);
    sandbox.advance(600);
    write_ledger(ws, 7, &[]);
    // Ten calls a day instead of 200: background work stops at 8, after one refresh.
    ws.run_c(&format!(
        "alter app '{DEMO_CLIENT_ID}' set token calls per day 10"
    ))
    .exits(0);
    let before = sandbox.refresh_calls();
    let all = ws.run_c("refresh all connections");
    assert_eq!(sandbox.refresh_calls() - before, 1, "{all:#?}");
    // A reserve of 10 % (1 call) lets background work make one more.
    ws.run_c(&format!(
        "alter app '{DEMO_CLIENT_ID}' set reserve 10 percent"
    ))
    .exits(0)
    .says(&["may make 10 token-endpoint calls a day", "leaves 10 %"]);
    let again = ws.run_c("refresh all connections");
    assert_eq!(sandbox.refresh_calls() - before, 2, "{again:#?}");
    let shown = ws.run(&["--format", "json", "-c", "show limits"]);
    shown.exits(0);
    let rows: serde_json::Value = serde_json::from_str(shown.stdout.trim()).expect("JSON");
    let demo = rows
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["app"] == DEMO_CLIENT_ID)
        .expect("the demo app is listed");
    assert_eq!(demo["platform"], "exact-online");
    assert_eq!(demo["token_calls_per_day"], "10");
    assert_eq!(demo["calls_today"], "9");
    assert_eq!(demo["reserve_percent"], "10");
    assert_eq!(demo["errors_per_hour_block"], "10");
}
