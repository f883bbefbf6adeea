//! The refresh path under real conditions, end to end against `preauth sandbox` over
//! loopback: several due connections in one settings file, dead refresh tokens polled by
//! cron, broken neighbours, held locks, links, leftovers of killed processes, names that
//! fit in characters but not in bytes.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::{DAY, DEMO_CLIENT_SECRET, IssuedTokens, Outcome, SandboxProcess, Workspace, demo_app};

/// One counter of the sandbox.
fn counter(sandbox: &SandboxProcess, name: &str) -> u64 {
    sandbox.counters()[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {name}"))
}

/// Registers each issued token pair as `conn-<i>` (obtained `age` ago).
fn register_all(ws: &Workspace, sandbox: &SandboxProcess, tokens: &[IssuedTokens], age: Duration) {
    let obtained = common::rfc3339(std::time::SystemTime::now() - age);
    let script: String = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "register connection 'conn-{i}' platform exact {} access token '{}' refresh token '{}' obtained at '{obtained}';\n",
                demo_app(&sandbox.url, common::WEB_REDIRECT),
                t.access_token,
                t.refresh_token
            )
        })
        .collect();
    ws.run_c(&script).exits(0);
}

/// The `<connection …>…</connection>` element of `settings-<name>.xml`.
fn connection_element(ws: &Workspace, name: &str) -> String {
    let xml = ws.settings_file(name);
    let start = xml.find("<connection ").expect("a connection element");
    let end = xml.find("</connection>").expect("its end") + "</connection>".len();
    xml[start..end].to_string()
}

/// Moves the connections `names` into one hand-written settings file (Invantive keeps
/// several connections per file) called `settings-<file>.xml`.
fn merge_into_one_file(ws: &Workspace, names: &[String], file: &str) {
    let elements: Vec<String> = names.iter().map(|n| connection_element(ws, n)).collect();
    for name in names {
        fs::remove_file(ws.settings().join(format!("settings-{name}.xml"))).expect("remove");
    }
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings version=\"5\" forcedefault=\"false\">\n  <group name=\"Exact Online\">\n    {}\n  </group>\n</settings>\n",
        elements.join("\n    ")
    );
    fs::write(ws.settings().join(format!("settings-{file}.xml")), text).expect("write");
}

/// Keep-alive of `count` due connections, all in one file or one file each.
fn keep_alive_of_due_connections(count: usize, one_file: bool) {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(count);
    register_all(&ws, &sandbox, &tokens, DAY * 8);
    let names: Vec<String> = (0..count).map(|i| format!("conn-{i}")).collect();
    if one_file {
        merge_into_one_file(&ws, &names, "all");
    }
    // The sandbox's access tokens have expired too, so that it takes the refreshes.
    sandbox.advance(600);
    let before = counter(&sandbox, "token_calls_refresh_token");
    let outcome = Outcome::within(
        ws.preauth().args(["-c", "refresh all connections"]),
        Duration::from_secs(120),
    );
    outcome.exits(0).keeps_secret(&[DEMO_CLIENT_SECRET]);
    assert_eq!(
        outcome.stdout.matches("refreshed").count(),
        count,
        "{outcome:#?}"
    );
    assert_eq!(
        counter(&sandbox, "token_calls_refresh_token") - before,
        count as u64,
        "one refresh per connection"
    );
    assert_eq!(counter(&sandbox, "spent_refresh_token_reuses"), 0);
    // Every connection works afterwards, without another refresh.
    for name in names.iter().take(3) {
        let token = Outcome::within(ws.preauth().args(["token", name]), Duration::from_secs(30));
        token.exits(0);
    }
    assert_eq!(
        counter(&sandbox, "token_calls_refresh_token") - before,
        count as u64
    );
    ws.run(&["check"]).exits(0);
}

#[test]
fn keep_alive_of_1_3_10_and_50_due_connections_in_one_file_finishes() {
    for count in [1, 3, 10, 50] {
        keep_alive_of_due_connections(count, true);
    }
}

#[test]
fn keep_alive_of_1_3_10_and_50_due_connections_in_their_own_files_finishes() {
    for count in [1, 3, 10, 50] {
        keep_alive_of_due_connections(count, false);
    }
}

#[test]
fn a_held_lock_ends_in_one_sentence_naming_the_lock_file() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(1);
    register_all(&ws, &sandbox, &tokens, Duration::from_secs(3600));
    let lock_path = ws.settings().join(".settings-conn-0.xml.lock");
    let holder = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .expect("lock file");
    holder.lock().expect("another process holds the connection");
    let outcome = Outcome::within(
        ws.preauth()
            .env("PREAUTH_LOCK_TIMEOUT", "1")
            .args(["token", "conn-0"]),
        Duration::from_secs(30),
    );
    outcome.exits(1).says(&[]).warns(&[
        "'conn-0'",
        "stayed locked",
        &lock_path.display().to_string(),
        "--lock-timeout",
    ]);
    drop(holder);
    Outcome::within(
        ws.preauth().args(["token", "conn-0"]),
        Duration::from_secs(30),
    )
    .exits(0);
    // An empty variable counts as unset; a wrong one is named.
    Outcome::of(
        ws.preauth()
            .env("PREAUTH_LOCK_TIMEOUT", "")
            .args(["token", "conn-0"]),
    )
    .exits(0);
    Outcome::of(
        ws.preauth()
            .env("PREAUTH_LOCK_TIMEOUT", "soon")
            .args(["token", "conn-0"]),
    )
    .exits(1)
    .warns(&["PREAUTH_LOCK_TIMEOUT must be a whole number of seconds, not 'soon'"]);
}

#[test]
fn a_dead_refresh_token_is_sent_once_and_never_again_until_forced() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(2);
    // 'dead' and, on another machine, the same tokens; 'healthy' of the same app.
    let obtained = DAY;
    ws.register_issued("dead", &sandbox, &tokens[0], obtained);
    ws.register_issued("healthy", &sandbox, &tokens[1], obtained);
    let elsewhere = Workspace::new();
    elsewhere.register_issued("dead", &sandbox, &tokens[0], obtained);
    sandbox.advance(600);
    elsewhere.run(&["token", "dead"]).exits(0);
    let errors = counter(&sandbox, "token_errors");

    let first = ws.run(&["token", "dead"]);
    first.exits(1).warns(&["'dead'", "already used"]);
    assert_eq!(counter(&sandbox, "token_errors"), errors + 1, "sent once");
    for _ in 0..12 {
        let again = ws.run(&["token", "dead"]);
        again.exits(1).warns(&[
            "already used",
            "does not send this refresh token again",
            "refresh connection 'dead' force",
        ]);
        let statement = ws.run_c("refresh connection 'dead'");
        statement
            .exits(1)
            .warns(&["refresh connection 'dead' force"]);
    }
    let keep_alive = ws.run_c("refresh all connections older than 0 days");
    keep_alive.exits(1).says(&["healthy", "refreshed"]);
    assert_eq!(
        counter(&sandbox, "token_errors"),
        errors + 1,
        "the dead token was never sent again"
    );
    assert_eq!(
        counter(&sandbox, "rate_limited"),
        0,
        "the app is not blocked"
    );
    ws.run(&["token", "healthy"]).exits(0);
    let check = ws.run(&["check"]);
    check.exits(2).says(&["CRITICAL", "dead", "already used"]);

    // Forcing sends it once more (and records the refusal again).
    let forced = ws.run_c("refresh connection 'dead' force");
    forced.exits(1).warns(&["already used"]);
    assert_eq!(counter(&sandbox, "token_errors"), errors + 2);
}

#[test]
fn a_refused_refresh_token_is_never_shown_as_healthy_while_its_access_token_lives() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(1);
    // By this machine's record the access token lives 20 more seconds: inside Exact's
    // refresh window, so a refresh is sent (before it, preauth sends none).
    ws.register_issued("acme", &sandbox, &tokens[0], Duration::from_secs(580));
    let elsewhere = Workspace::new();
    elsewhere.register_issued("acme", &sandbox, &tokens[0], DAY);
    sandbox.advance(600);
    elsewhere.run(&["token", "acme"]).exits(0);
    // A forced refresh here is refused (the token is spent) and recorded.
    ws.run_c("refresh connection 'acme' force")
        .exits(1)
        .warns(&["already used"]);
    ws.run_c("show connections")
        .exits(0)
        .says(&["refresh token refused", "already used"]);
    // The keep-alive fails on it although its refresh token is young.
    ws.run_c("refresh all connections")
        .exits(1)
        .says(&["acme", "already used"]);
    // A job is told why there is no token to be had: the access token is in its last
    // seconds, and renewing it is blocked. (Outside the refresh window a job still gets
    // the access token with a warning; preauth sends Exact no refresh there, so no
    // refusal is recorded there.)
    ws.run(&["token", "acme"])
        .exits(1)
        .warns(&["already used", "refresh connection 'acme' force"]);
}

#[test]
fn a_new_registration_clears_the_record_of_a_dead_token() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(2);
    ws.register_issued("acme", &sandbox, &tokens[0], DAY);
    let elsewhere = Workspace::new();
    elsewhere.register_issued("acme", &sandbox, &tokens[0], DAY);
    sandbox.advance(600);
    elsewhere.run(&["token", "acme"]).exits(0);
    ws.run(&["token", "acme"]).exits(1).warns(&["already used"]);
    ws.run_c("drop connection 'acme'").exits(0);
    ws.register_issued("acme", &sandbox, &tokens[1], DAY);
    ws.run(&["token", "acme"]).exits(0);
    ws.run(&["check"]).exits(0);
}

#[test]
fn a_refresh_refused_as_too_early_returns_the_stored_token_that_still_works() {
    // This machine's clock says the access token is due; the platform's says it is not.
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(1);
    ws.register_issued("acme", &sandbox, &tokens[0], Duration::from_secs(590));
    let outcome = ws.run(&["token", "acme"]);
    outcome.exits(0);
    assert_eq!(outcome.stdout.trim_end(), tokens[0].access_token);
    let (status, _) = common::http(
        "GET",
        &format!("{}/api/v1/current/Me", sandbox.url),
        Some(outcome.stdout.trim_end()),
    );
    assert_eq!(status, 200, "the platform accepts the token");
    // Forced, the refusal is reported (inside the refresh window, so it is sent).
    ws.run_c("refresh connection 'acme' force")
        .exits(1)
        .warns(&["still valid"]);
}

#[test]
fn a_broken_settings_file_does_not_stop_the_others() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(2);
    register_all(&ws, &sandbox, &tokens, DAY * 8);
    let broken = ws.write(
        "settings/settings-zzz.xml",
        "<settings>\n  <group name=\"x\">\n    <connection name=\"zzz\">\n  </group>\n</settings>\n",
    );
    sandbox.advance(600);
    let shown = ws.run_c("show connections");
    shown
        .exits(0)
        .says(&["conn-0", "conn-1"])
        .warns(&["settings-zzz.xml:", "fix this file"]);
    let keep_alive = ws.run_c("refresh all connections");
    keep_alive
        .exits(1)
        .says(&["conn-0", "conn-1", "refreshed"])
        .warns(&["settings-zzz.xml:"]);
    assert_eq!(counter(&sandbox, "token_calls_refresh_token"), 2);
    let check = ws.run(&["check"]);
    check.exits(3).says(&["UNKNOWN", "settings-zzz.xml"]);
    assert!(!check.stdout.contains("conn-0:"), "{check:#?}");
    let listed = ws.run_c("check connections");
    listed.says(&["conn-0", "OK", "UNKNOWN"]);
    assert!(broken.exists(), "the broken file is left alone");
}

#[test]
fn names_differing_only_in_case_are_one_name() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(2);
    ws.register_issued("Öresund", &sandbox, &tokens[0], DAY);
    let second = ws.run_c(&format!(
        "register connection 'öresund' platform exact {} access token '{}' refresh token '{}'",
        demo_app(&sandbox.url, common::WEB_REDIRECT),
        tokens[1].access_token,
        tokens[1].refresh_token
    ));
    second.exits(1).warns(&["exists already"]);
    ws.run(&["token", "ÖRESUND"]).exits(0);
    ws.run_c("show connections").exits(0).says(&["Öresund"]);
}

#[test]
fn a_name_too_long_in_bytes_is_refused_before_the_login() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let name = "€".repeat(80);
    let logins = counter(&sandbox, "authorize_requests");
    let outcome = Outcome::of(
        ws.preauth()
            .env("BROWSER", SandboxProcess::browser())
            .args([
                "-c",
                &common::preauthenticate(&sandbox.url, &common::loopback_redirect(), &name),
            ]),
    );
    outcome.exits(1).warns(&["200 bytes"]);
    assert_eq!(counter(&sandbox, "authorize_requests"), logins);
    assert_eq!(counter(&sandbox, "token_calls_authorization_code"), 0);
}

#[cfg(unix)]
#[test]
fn a_linked_settings_file_stays_a_link_and_its_target_is_updated() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(1);
    ws.register_issued("acme", &sandbox, &tokens[0], DAY);
    let real_dir = ws.path().join("shared");
    fs::create_dir(&real_dir).expect("dir");
    let link = ws.settings().join("settings-acme.xml");
    let target = real_dir.join("settings-acme.xml");
    fs::rename(&link, &target).expect("move");
    std::os::unix::fs::symlink(&target, &link).expect("link");
    let before = fs::read_to_string(&target).expect("target");
    sandbox.advance(600);
    ws.run_c("refresh connection 'acme' force").exits(0);
    assert!(
        fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink(),
        "the link stays a link"
    );
    let after = fs::read_to_string(&target).expect("target");
    assert_ne!(after, before, "the target holds the new tokens");
    assert_eq!(fs::read_to_string(&link).expect("through the link"), after);
    ws.run(&["token", "acme"]).exits(0);
}

/// The id of a process that has ended.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("true");
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

/// Writes `name` in `dir` with a modification time of `modified`; returns its path.
fn plant(dir: &Path, name: &str, modified: SystemTime) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, "partial").expect("leftover");
    fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(modified))
        .expect("backdated");
    path
}

#[test]
fn temporaries_of_killed_writers_are_removed_once_old_and_nothing_else() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let tokens = sandbox.issue_tokens(2);
    ws.register_issued("acme", &sandbox, &tokens[0], DAY);
    let dir = ws.settings();
    let (now, old) = (
        SystemTime::now(),
        SystemTime::now() - Duration::from_secs(2 * 3600),
    );
    let (dead, live) = (dead_pid(), std::process::id());
    let random = "00aa11bb22cc33dd";
    // Left by writers killed over an hour ago: preauth's own names, today's and those
    // of older versions (without a process id).
    let stale = [
        format!(".settings-acme.xml.tmp.tmp-{dead}-{random}"),
        format!(".settings-acme.xml.bak.tmp-{dead}-{random}"),
        format!(".pending-authorizations.xml.tmp.tmp-{dead}-{random}"),
        format!(".settings-acme.xml.tmp-{random}"),
    ]
    .map(|name| plant(&dir, &name, old));
    let kept = [
        // Young: its writer may live where this process id means nothing (another
        // container on the same folder).
        plant(
            &dir,
            &format!(".settings-acme.xml.tmp.tmp-{dead}-11bb22cc33dd44ee"),
            now,
        ),
        // Old, but its process lives here: a writer paused (SIGSTOP, a suspended laptop).
        plant(
            &dir,
            &format!(".settings-acme.xml.tmp.tmp-{live}-{random}"),
            old,
        ),
        // Not preauth's naming, however close.
        plant(&dir, ".settings-acme.xml.tmp-notours", old),
        plant(&dir, &format!("settings-acme.xml.tmp-{dead}-{random}"), old),
        plant(&dir, ".settings-acme.xml.tmp-1-00AA11BB22CC33DD", old),
        plant(&dir, "notes.txt", old),
    ];
    // Reading changes nothing.
    ws.run_c("show connections").exits(0);
    assert!(stale.iter().all(|p| p.exists()), "a reader removed files");
    // A writer removes the stale ones, from the listing it makes anyway.
    sandbox.advance(600);
    ws.run_c("refresh connection 'acme' force").exits(0);
    for path in &stale {
        assert!(!path.exists(), "{} stays", path.display());
    }
    for path in &kept {
        assert!(path.exists(), "{} was removed", path.display());
    }
    // So does adding a connection.
    let another = plant(
        &dir,
        &format!(".settings-beta.xml.tmp.tmp-{dead}-{random}"),
        old,
    );
    ws.register_issued("beta", &sandbox, &tokens[1], DAY);
    assert!(!another.exists(), "{} stays", another.display());
    assert!(kept.iter().all(|p| p.exists()));
}
