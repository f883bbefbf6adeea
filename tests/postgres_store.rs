//! Connections shared by machines in PostgreSQL (`--store postgres://…`): the binary as
//! users run it, against `preauth sandbox` on loopback and a throwaway PostgreSQL
//! cluster started from the installed server binaries (one per test binary, a database
//! per test). "Machines" are workspaces with device keys of their own and their own
//! names (`PREAUTH_MACHINE`), as two servers would have.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    DAY, DEMO_CLIENT_SECRET, IssuedTokens, Outcome, SandboxProcess, WEB_REDIRECT, Workspace,
    approve, authorization_url, connection_string_value, demo_app, preauthenticate, serve,
};

/// A database of this test's own on the shared cluster, or `None` after the one skip
/// line (a failure in CI, which sets PREAUTH_REQUIRE_COMPONENTS).
fn database(name: &str) -> Option<String> {
    Some(pg_throwaway::shared()?.new_database(name))
}

/// A machine using the store at `url` under `name`, with a device key of its own.
fn machine(url: &str, name: &str) -> Workspace {
    Workspace::new()
        .with_env("PREAUTH_STORE", url)
        .with_env("PREAUTH_MACHINE", name)
}

/// `beta` enrolled with a code that `alpha` makes.
fn enroll(alpha: &Workspace, beta: &Workspace) {
    let made = alpha.run_c("enroll machine");
    made.exits(0).warns(&["enroll machine with code"]);
    let code = made.stdout.trim().to_string();
    assert!(code.starts_with("enroll1."), "{code}");
    beta.run_c(&format!("enroll machine with code '{code}'"))
        .exits(0)
        .says(&["this machine is enrolled as 'beta'"])
        .keeps_secret(&[&code]);
}

/// Connection 'acme', registered a day ago from tokens a sandbox issued, in a store of
/// its own shared by two enrolled machines.
struct Shared {
    url: String,
    sandbox: SandboxProcess,
    alpha: Workspace,
    beta: Workspace,
    tokens: Vec<common::IssuedTokens>,
}

impl Shared {
    /// In database `name`; `None` when PostgreSQL is not installed (see [`database`]).
    fn new(name: &str) -> Option<Shared> {
        let url = database(name)?;
        let sandbox = SandboxProcess::start(&[]);
        let (alpha, beta) = (machine(&url, "alpha"), machine(&url, "beta"));
        let tokens = sandbox.issue_tokens(1);
        alpha.register_issued("acme", &sandbox, &tokens[0], DAY);
        enroll(&alpha, &beta);
        Some(Shared {
            url,
            sandbox,
            alpha,
            beta,
            tokens,
        })
    }
}

/// The sandbox's count of refresh requests.
fn refreshes(sandbox: &SandboxProcess) -> u64 {
    sandbox.counters()["token_calls_refresh_token"]
        .as_u64()
        .expect("a counter")
}

#[test]
fn two_enrolled_machines_refresh_a_shared_connection_exactly_once() {
    let Some(Shared {
        url,
        sandbox,
        alpha,
        beta,
        tokens,
    }) = Shared::new("refresh_once")
    else {
        return;
    };
    beta.run_c("show machines")
        .exits(0)
        .says(&["alpha", "beta", "device"]);
    // The store finds a refresh token's holder by its hash: the other machine cannot
    // register a second connection on the token 'acme' holds.
    beta.run_c(&format!(
        "register connection 'copy' platform exact {} access token '{}' refresh token '{}'",
        demo_app(&sandbox.url, WEB_REDIRECT),
        tokens[0].access_token,
        tokens[0].refresh_token
    ))
    .exits(1)
    .warns(&["is the one connection 'acme' holds already"]);
    // Into the refresh window; 16 processes, half on each machine, all at once.
    sandbox.advance(600);
    let before = refreshes(&sandbox);
    let children: Vec<_> = (0..16)
        .map(|i| {
            let ws = if i % 2 == 0 { &alpha } else { &beta };
            ws.preauth()
                .args(["token", "acme"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("preauth starts")
        })
        .collect();
    let printed: Vec<String> = children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().expect("preauth ends");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .collect();
    assert_eq!(refreshes(&sandbox), before + 1, "exactly one refresh");
    assert!(
        printed.iter().all(|t| *t == printed[0]),
        "every process prints the same token"
    );
    assert_ne!(printed[0], tokens[0].access_token, "a new token");
    assert_eq!(sandbox.counters()["spent_refresh_token_reuses"], 0);
    // Nothing in the database is readable without a key slot.
    let dump = Command::new("pg_dump")
        .arg(&url)
        .output()
        .expect("pg_dump (installed with the server) runs");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(
        text.contains("preauth_connections"),
        "the dump holds the table"
    );
    for secret in [
        printed[0].as_str(),
        tokens[0].refresh_token.as_str(),
        common::DEMO_CLIENT_SECRET,
    ] {
        assert!(!text.contains(secret), "a secret in the database");
    }
}

#[test]
fn a_login_started_on_one_machine_is_finished_on_the_other() {
    let Some(url) = database("login_across") else {
        return;
    };
    let sandbox = SandboxProcess::start(&[]);
    let (alpha, beta) = (machine(&url, "alpha"), machine(&url, "beta"));
    alpha.run_c("show connections").exits(0);
    enroll(&alpha, &beta);
    let started = alpha.run_c(&format!(
        "preauthenticate exact {} as connection 'books';",
        demo_app(&sandbox.url, WEB_REDIRECT)
    ));
    started.exits(1);
    let back = approve(&authorization_url(&started.stderr))
        .stdout
        .trim()
        .to_string();
    assert!(back.starts_with(WEB_REDIRECT), "{back}");
    beta.run_c(&format!("exchange code url '{back}';"))
        .exits(0)
        .says(&["connection 'books' authorized"]);
    alpha.run(&["token", "books"]).exits(0);
    alpha.run(&["check"]).exits(0).says(&["OK"]);
}

#[test]
fn a_machine_that_is_not_enrolled_is_told_how_to_enroll() {
    let Some(url) = database("not_enrolled") else {
        return;
    };
    let sandbox = SandboxProcess::start(&[]);
    let alpha = machine(&url, "alpha");
    let tokens = sandbox.issue_tokens(1);
    alpha.register_issued("acme", &sandbox, &tokens[0], DAY);
    let stranger = machine(&url, "gamma");
    // The advice to enroll: as statements in the language, as command lines in a shell.
    let enroll = "on an enrolled machine run `enroll machine`, then here `enroll machine with code '…'` with the code it printed";
    for outcome in [
        stranger.run_c("refresh connection 'acme'"),
        stranger.run_c("export settings 'acme'"),
    ] {
        outcome.exits(1).warns(&[
            "this machine (gamma) is not enrolled in this shared store: enroll it, or give the key file the fleet uses (--key-file); ",
            enroll,
        ]);
    }
    stranger.run(&["token", "acme"]).exits(1).warns(&[
        "this machine (gamma) is not enrolled",
        "on an enrolled machine run preauth -c \"enroll machine\", then here preauth -c \"enroll machine with code '…'\" with the code it printed",
    ]);
    // Listing and monitoring read the rows' outlines, which hold no secret and open
    // nothing: a monitoring host needs no key slot.
    stranger
        .run_c("show connections")
        .exits(0)
        .says(&["acme", "needs refresh"]);
    stranger.run(&["check"]).exits(0).says(&["OK"]);
    // A used or mistyped code is refused, and spent.
    let code = alpha.run_c("enroll machine").stdout.trim().to_string();
    let wrong = format!("{}x", code);
    stranger
        .run_c(&format!("enroll machine with code '{wrong}'"))
        .exits(1)
        .warns(&[
            "does not match its slot (mistyped?); it is spent now; make a new one with `enroll machine` on an enrolled machine",
        ]);
    stranger
        .run_c(&format!("enroll machine with code '{code}'"))
        .exits(1)
        .warns(&[
            "unknown, used already or expired; make a new one with `enroll machine` on an enrolled machine",
        ]);
}

#[test]
fn a_refresh_holder_killed_with_sigkill_leaves_its_lease_to_its_machine() {
    let Some(url) = database("killed_holder") else {
        return;
    };
    let sandbox = SandboxProcess::start(&[]);
    let alpha = machine(&url, "alpha");
    let tokens = sandbox.issue_tokens(1);
    alpha.register_issued("acme", &sandbox, &tokens[0], DAY);
    sandbox.advance(600);
    // The holder's refresh request hangs at the sandbox; it holds a lease meanwhile.
    sandbox.fault(r#"{"fault": "delay", "millis": 20000}"#);
    let mut holder = alpha
        .preauth()
        .args(["token", "acme"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("preauth starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while sandbox.counters()["faults_applied"] == 0 {
        assert!(
            Instant::now() < deadline,
            "the holder never sent its refresh"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    holder.kill().expect("SIGKILL");
    holder.wait().expect("reaped");
    // The next process of the same machine sees the lease's holder dead and proceeds
    // (another machine would wait for the lease to expire); the chain holds.
    let started = Instant::now();
    let next = Outcome::of(
        alpha
            .preauth()
            .args(["--lock-timeout", "30", "token", "acme"]),
    );
    next.exits(0);
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "it did not wait out the lock"
    );
    // The chain goes on: the next refresh uses the refresh token stored last.
    sandbox.advance(600);
    alpha.run(&["token", "acme"]).exits(0);
    assert_eq!(sandbox.counters()["spent_refresh_token_reuses"], 0);
}

#[test]
fn a_settings_folder_moves_into_the_store_and_keeps_working() {
    let Some(url) = database("moved_folder") else {
        return;
    };
    let sandbox = SandboxProcess::start(&[]);
    let tokens = sandbox.issue_tokens(2);
    // A folder of connections on the first machine, sealed with its device key.
    let folder = Workspace::new();
    folder.register_issued("one", &sandbox, &tokens[0], DAY);
    folder.register_issued("two", &sandbox, &tokens[1], DAY);
    let settings = folder.settings();
    // The same device key folder, now with the store: the files open.
    let alpha = folder
        .with_env("PREAUTH_STORE", &url)
        .with_env("PREAUTH_MACHINE", "alpha");
    alpha
        .run_c(&format!("import settings '{}'", settings.display()))
        .exits(0)
        .says(&["one", "two"]);
    alpha
        .run_c(&format!("import settings '{}'", settings.display()))
        .exits(1)
        .warns(&["exists already"]);
    let beta = machine(&url, "beta");
    enroll(&alpha, &beta);
    sandbox.advance(600);
    beta.run(&["token", "one"]).exits(0);
    beta.run_c("refresh connection 'two' force").exits(0);
    alpha.run(&["check"]).exits(0).says(&["connections=2"]);
    // Dropped on one machine, gone on the other.
    beta.run_c("drop connection 'one'").exits(0);
    alpha
        .run_c("show connection 'one'")
        .exits(1)
        .warns(&["no connection named 'one'"]);
    // Exported back as a settings file, it opens where it is sealed.
    alpha
        .run_c("export settings 'two' plain")
        .exits(0)
        .says(&["<connection name=\"two\"", "api-refresh-token="]);
}

#[test]
fn check_and_token_never_create_a_store() {
    let Some(cluster) = pg_throwaway::shared() else {
        return;
    };
    let url = cluster.new_database("untouched");
    let ws = machine(&url, "alpha");
    ws.run(&["check"])
        .exits(3)
        .says(&["UNKNOWN", "there is no preauth store in this database"]);
    ws.run(&["token", "acme"]).exits(1).warns(&[
        "there is no preauth store in this database (check the URL); create it by running any statement with --store, such as preauth -c \"show connections\"",
    ]);
    // Still none: the first statement creates it.
    ws.run(&["check"]).exits(3);
    ws.run_c("show connections").exits(0);
    ws.run(&["check"]).exits(0).says(&["connections=0"]);
    // A database that does not exist is named as such.
    machine(&cluster.url_of("nosuchdb"), "alpha")
        .run(&["check"])
        .exits(3)
        .says(&["UNKNOWN", "nosuchdb"]);
}

#[test]
fn containers_with_one_key_file_share_the_store_without_enrolling() {
    let Some(url) = database("key_file_fleet") else {
        return;
    };
    let sandbox = SandboxProcess::start(&[]);
    let secrets = tempfile::tempdir().expect("a folder");
    let key = secrets.path().join("preauth.key");
    std::fs::write(&key, "a-random-key-file-of-at-least-32-bytes-0123456789\n").expect("key");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let container = |name: &str| {
        Workspace::new()
            .with_env("PREAUTH_STORE", &url)
            .with_env("PREAUTH_KEY_FILE", &key.display().to_string())
            .with_env("HOSTNAME", name)
    };
    let (first, second) = (container("c1"), container("c2"));
    let tokens = sandbox.issue_tokens(1);
    first.register_issued("acme", &sandbox, &tokens[0], DAY);
    sandbox.advance(600);
    second.run(&["token", "acme"]).exits(0);
    second.run_c("show machines").exits(0).says(&["key file"]);
}

#[test]
fn two_machines_share_one_keep_alive_run_and_refresh_each_connection_once() {
    let Some(url) = database("shared_keep_alive") else {
        return;
    };
    let sandbox = SandboxProcess::start(&[]);
    let (alpha, beta) = (machine(&url, "alpha"), machine(&url, "beta"));
    let tokens = sandbox.issue_tokens(20);
    for (i, t) in tokens.iter().enumerate() {
        alpha.register_issued(&format!("c{i:02}"), &sandbox, t, 2 * DAY);
    }
    enroll(&alpha, &beta);
    sandbox.advance(600);
    let before = refreshes(&sandbox);
    let runs: Vec<_> = [&alpha, &beta]
        .iter()
        .map(|ws| {
            ws.preauth()
                // Even "older than 0 days": a connection the other machine refreshed
                // after this one listed it is left alone (its token is not the one seen).
                .args(["-c", "refresh all connections older than 0 days"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("preauth starts")
        })
        .collect();
    let mut refreshed_lines = 0;
    for run in runs {
        let out = run.wait_with_output().expect("preauth ends");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        refreshed_lines += stdout.lines().filter(|l| l.contains(" refreshed ")).count();
    }
    assert_eq!(
        refreshes(&sandbox),
        before + 20,
        "each connection refreshed once"
    );
    assert_eq!(refreshed_lines, 20, "and reported once, by one of the two");
    assert_eq!(sandbox.counters()["spent_refresh_token_reuses"], 0);
    alpha.run(&["check"]).exits(0).says(&["connections=20"]);
}

#[test]
fn a_login_not_finished_on_one_machine_starts_again_by_name_on_the_other_with_what_was_typed() {
    let Some(Shared {
        sandbox,
        alpha,
        beta,
        ..
    }) = Shared::new("unfinished_login")
    else {
        return;
    };
    let first = alpha.run_c(&preauthenticate(&sandbox.url, WEB_REDIRECT, "late"));
    first.exits(1);
    let first_url = authorization_url(&first.stderr);
    // No secret is typed again: the store kept the unfinished login's app settings.
    let again = beta.run_c("preauthenticate connection 'LATE'");
    again
        .exits(1)
        .warns(&["the login for connection 'late' did not finish"]);
    let url = authorization_url(&again.stderr);
    assert_ne!(url, first_url, "a new login, with a state of its own");
    let returned = approve(&url);
    returned.exits(0);
    alpha
        .run_c(&format!("exchange code url '{}'", returned.stdout.trim()))
        .exits(0)
        .says(&["connection 'late' authorized"]);
    beta.run_c("export settings 'late' plain")
        .exits(0)
        .says(&[DEMO_CLIENT_SECRET, WEB_REDIRECT]);
    beta.run_c("preauthenticate connection 'never'")
        .exits(1)
        .warns(&["no connection named 'never'"]);
}

#[test]
fn two_serve_processes_on_one_store_refresh_once_for_32_concurrent_requests() {
    let Some(Shared {
        sandbox,
        alpha,
        beta,
        tokens,
        ..
    }) = Shared::new("serve_refresh_once")
    else {
        return;
    };
    // The store keeps the API keys: one key made on alpha works on both replicas.
    let key = serve::api_key(&alpha, "jobs", "token");
    let keys = [key.clone(), key];
    let mut servers = [
        serve::Server::start(&alpha, &[]),
        serve::Server::start(&beta, &[]),
    ];
    // The API lists the machines as `show machines` does: both, beta's own marked.
    let admin = serve::api_key(&alpha, "operator", "admin");
    let (status, machines) = servers[1].call("GET", "/api/v1/machines", Some(&admin), None);
    assert_eq!(status, 200, "{machines}");
    let slots = machines.as_array().expect("an array of slots");
    let devices: Vec<&str> = slots
        .iter()
        .filter(|m| m["kind"] == "device")
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(devices.len(), 2, "{machines}");
    assert!(devices.iter().any(|n| n.contains("alpha")), "{machines}");
    let own: Vec<&serde_json::Value> = slots.iter().filter(|m| m["this_machine"] == true).collect();
    assert_eq!(own.len(), 1, "{machines}");
    assert!(
        own[0]["name"].as_str().is_some_and(|n| n.contains("beta")),
        "{machines}"
    );
    assert!(
        slots.iter().all(|m| m["created_at"].is_string()),
        "{machines}"
    );
    sandbox.advance(600);
    let before = refreshes(&sandbox);
    let askers: Vec<(&str, &str)> = (0..32)
        .map(|i| (servers[i % 2].url.as_str(), keys[i % 2].as_str()))
        .collect();
    let handed = serve::tokens_at_once("acme", &askers);
    assert_eq!(refreshes(&sandbox), before + 1, "exactly one refresh");
    assert!(handed.iter().all(|t| *t == handed[0]), "one token for all");
    assert_ne!(handed[0], tokens[0].access_token, "a new token");
    assert_eq!(sandbox.counters()["spent_refresh_token_reuses"], 0);
    for server in &mut servers {
        let outcome = server.stop();
        assert_eq!(outcome.code, 0, "{outcome:#?}");
        outcome.keeps_secret(&[
            &handed[0],
            &tokens[0].refresh_token,
            common::DEMO_CLIENT_SECRET,
            &keys[0],
            &keys[1],
        ]);
    }
}

#[test]
fn a_login_started_on_one_servers_pages_is_exchanged_on_the_others() {
    let Some(Shared {
        sandbox,
        alpha,
        beta,
        ..
    }) = Shared::new("serve_pages_across_machines")
    else {
        return;
    };
    let servers = [
        serve::Server::start(&alpha, &[]),
        serve::Server::start(&beta, &[]),
    ];
    let (mut on_alpha, mut on_beta) = (servers[0].pages(), servers[1].pages());
    let csrf = serve::Pages::csrf(&on_alpha.get("/preauthenticate"));
    let started = on_alpha.post(
        "/preauthenticate",
        &[
            ("csrf", &csrf),
            ("name", "shop"),
            ("platform", "exact-online/nl"),
            ("api_url", &sandbox.url),
            ("client_id", common::DEMO_CLIENT_ID),
            ("client_secret", common::DEMO_CLIENT_SECRET),
            ("redirect_uri", WEB_REDIRECT),
            ("deviating", "on"),
        ],
    );
    assert_eq!(started.status, 200, "{}", started.body);
    let login = started
        .body
        .split(r#"target="_blank""#)
        .next()
        .and_then(|before| before.rsplit(r#"href=""#).next())
        .and_then(|rest| rest.split('"').next())
        .expect("the login link")
        .replace("&amp;", "&");
    let landed = approve(&login);
    landed.exits(0);

    // The other machine's server finishes it: the pending login is in the store.
    let csrf = serve::Pages::csrf(&on_beta.get("/preauthenticate/exchange"));
    let exchanged = on_beta.post(
        "/preauthenticate/exchange",
        &[("csrf", &csrf), ("return_url", landed.stdout.trim())],
    );
    assert_eq!(exchanged.status, 303, "{}", exchanged.body);
    let result = on_beta.get("/connections/shop");
    assert_eq!(result.status, 200);
    assert!(result.body.contains("dk1:"), "sealed: {}", result.body);
    assert!(on_alpha.get("/connections").body.contains(">shop</a>"));
    alpha.run(&["token", "shop"]).exits(0);
}

/// Waits until the sandbox has taken the fault set before (the request reached it).
fn wait_for_fault(sandbox: &SandboxProcess) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while sandbox.counters()["faults_applied"] == 0 {
        assert!(
            Instant::now() < deadline,
            "the refresh never reached the sandbox"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `preauth ARGS` on `ws` (a refresh held up by the sandbox's delay fault), and
/// crashes the database once the refresh reached the sandbox: the answer is on its way.
fn refresh_then_crash(
    ws: &Workspace,
    args: &[&str],
    sandbox: &SandboxProcess,
    cluster: &mut pg_throwaway::Cluster,
) -> std::process::Child {
    let holder = ws
        .preauth()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("preauth starts");
    wait_for_fault(sandbox);
    assert!(cluster.crash(), "the server stops");
    holder
}

/// Proves that the refresh token `ws` stores for 'acme' is the chain's current one: the
/// sandbox's clock moves past the stored access token's life, and a machine handed the
/// tokens as obtained that long ago refreshes them. (`ws` itself would send no refresh
/// before its own record of the access token ends: Exact refuses it.)
fn chain_goes_on(ws: &Workspace, sandbox: &SandboxProcess) {
    let plain = ws.run_c("export settings 'acme' plain");
    plain.exits(0);
    let handed = IssuedTokens {
        access_token: connection_string_value(&plain.stdout, "api-access-token"),
        refresh_token: connection_string_value(&plain.stdout, "api-refresh-token"),
    };
    sandbox.advance(600);
    let other = Workspace::new();
    other.register_issued("acme", sandbox, &handed, Duration::from_secs(600));
    other
        .run_c("refresh connection 'acme'")
        .exits(0)
        .says(&["connection 'acme' refreshed"]);
}

/// The spool files (answers waiting for the store) in a machine's settings folder.
fn spooled(ws: &Workspace) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(ws.settings().join("spool"))
        .map(|dir| dir.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default()
}

/// Connection 'acme' on a cluster of the test's own (it is crashed and restarted), shared
/// by two enrolled machines and in the refresh window.
fn restartable(
    name: &str,
) -> Option<(pg_throwaway::Cluster, SandboxProcess, Workspace, Workspace)> {
    let cluster = pg_throwaway::start_or_skip()?;
    let url = cluster.try_new_database(name).expect("a database");
    let sandbox = SandboxProcess::start(&[]);
    let (alpha, beta) = (machine(&url, "alpha"), machine(&url, "beta"));
    let tokens = sandbox.issue_tokens(1);
    alpha.register_issued("acme", &sandbox, &tokens[0], DAY);
    enroll(&alpha, &beta);
    sandbox.advance(600);
    Some((cluster, sandbox, alpha, beta))
}

#[test]
fn a_database_restart_while_a_refresh_is_on_its_way_loses_nothing() {
    let Some((mut cluster, sandbox, alpha, beta)) = restartable("restart_in_flight") else {
        return;
    };
    let before = refreshes(&sandbox);
    // The platform answers after 3 s; the database crashes and is back meanwhile, so the
    // session that leased the connection is gone when the answer arrives.
    sandbox.fault(r#"{"fault": "delay", "millis": 3000}"#);
    let holder = refresh_then_crash(&alpha, &["token", "acme"], &sandbox, &mut cluster);
    std::thread::sleep(Duration::from_millis(300));
    cluster.start_again().expect("the server starts again");
    // Meanwhile the other machine waits for the lease: it never sends the token.
    let waiting = Outcome::of(
        beta.preauth()
            .args(["--lock-timeout", "1", "token", "acme"]),
    );
    waiting.exits(1).warns(&["is being refreshed by alpha"]);
    let out = holder.wait_with_output().expect("preauth ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!token.is_empty());
    assert!(spooled(&alpha).is_empty(), "written, so nothing waits");
    // Both machines now hand out the same, working token; one refresh, no spent token.
    beta.run(&["token", "acme"]).exits(0).says(&[&token]);
    assert_eq!(refreshes(&sandbox), before + 1);
    // The chain goes on from the answer that arrived during the restart.
    chain_goes_on(&beta, &sandbox);
    assert_eq!(refreshes(&sandbox), before + 2);
    assert_eq!(sandbox.counters()["spent_refresh_token_reuses"], 0);
}

#[test]
fn an_answer_the_database_cannot_take_waits_on_this_machine_and_is_written_later() {
    let Some((mut cluster, sandbox, alpha, beta)) = restartable("restart_after_answer") else {
        return;
    };
    let before = refreshes(&sandbox);
    sandbox.fault(r#"{"fault": "delay", "millis": 1500}"#);
    let holder = refresh_then_crash(
        &alpha,
        &["--lock-timeout", "2", "token", "acme"],
        &sandbox,
        &mut cluster,
    );
    // The answer arrives while the server is down, and it stays down longer than the
    // holder tries: the answer is kept on alpha, and the holder says so.
    let out = holder.wait_with_output().expect("preauth ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "no token before it is stored");
    assert!(
        stderr.contains("they are safe") && stderr.contains("kept on this machine"),
        "{stderr}"
    );
    assert!(!stderr.contains("run the command again"), "{stderr}");
    assert_eq!(spooled(&alpha).len(), 1, "{stderr}");
    assert_eq!(refreshes(&sandbox), before + 1);
    cluster.start_again().expect("the server starts again");
    // The lease from before the crash keeps beta from spending the old token.
    Outcome::of(
        beta.preauth()
            .args(["--lock-timeout", "1", "token", "acme"]),
    )
    .exits(1)
    .warns(&["is being refreshed by alpha"]);
    assert_eq!(refreshes(&sandbox), before + 1, "beta sent nothing");
    // Any preauth on alpha writes the waiting answer first.
    let token = alpha
        .run(&["token", "acme"])
        .exits(0)
        .stdout
        .trim()
        .to_string();
    assert!(spooled(&alpha).is_empty(), "written, so nothing waits");
    beta.run(&["token", "acme"]).exits(0).says(&[&token]);
    assert_eq!(
        refreshes(&sandbox),
        before + 1,
        "the answer was used, not a new refresh"
    );
    chain_goes_on(&beta, &sandbox);
    assert_eq!(refreshes(&sandbox), before + 2);
    assert_eq!(sandbox.counters()["spent_refresh_token_reuses"], 0);
}

#[test]
fn platforms_and_api_keys_live_in_the_store_for_every_machine() {
    let Some(url) = database("documents") else {
        return;
    };
    let (alpha, beta) = (machine(&url, "alpha"), machine(&url, "beta"));
    // Alpha used the store before stores kept documents: its API keys are a file of its
    // settings folder. The first statement hands them to the store, once.
    let before = Workspace::new();
    before
        .run_c("create api key 'old-jobs' scope token")
        .exits(0);
    std::fs::create_dir_all(alpha.settings()).expect("settings folder");
    std::fs::copy(
        before.settings().join("api-keys.json"),
        alpha.settings().join("api-keys.json"),
    )
    .expect("copied");
    alpha
        .run_c("show machines")
        .exits(0)
        .warns(&["api-keys.json", "now kept in the shared store"]);
    enroll(&alpha, &beta);
    alpha
        .run_c(
            "create platform 'idp' authorize url 'http://127.0.0.1:9/a' token url 'http://127.0.0.1:9/t' issuer 'http://127.0.0.1:9'",
        )
        .exits(0)
        .says(&["document platforms.xml"]);
    alpha
        .run_c("create api key 'jobs' scope token from '10.0.0.0/8'")
        .exits(0);
    // Beta knows both, and neither is a file of its own folder.
    beta.run_c("show platform 'idp'")
        .exits(0)
        .says(&["http://127.0.0.1:9/t"]);
    beta.run_c("show api keys")
        .exits(0)
        .says(&["old-jobs", "jobs", "10.0.0.0/8"]);
    assert!(!beta.settings().join("platforms.xml").exists());
    assert!(!beta.settings().join("api-keys.json").exists());
    // A key dropped on beta is gone for alpha too.
    beta.run_c("drop api key 'old-jobs'").exits(0);
    let listed = alpha.run_c("show api keys");
    assert!(
        !listed.exits(0).stdout.contains("old-jobs"),
        "{}",
        listed.stdout
    );
}

#[test]
fn rows_written_before_outlines_are_opened_instead() {
    let Some(Shared {
        sandbox,
        alpha,
        tokens,
        ..
    }) = Shared::new("legacy_rows")
    else {
        return;
    };
    // As a store of version 1 leaves its rows: no outline, no token hash.
    let cleared = pg_throwaway::shared()
        .expect("the cluster")
        .psql("legacy_rows")
        .args([
            "-c",
            "UPDATE preauth_connections SET outline = NULL, refresh_hash = NULL,
                 platform = NULL, secrets = NULL, records = NULL",
        ])
        .status()
        .expect("psql runs");
    assert!(cleared.success());
    alpha
        .run_c("show connections")
        .exits(0)
        .says(&["acme", "needs refresh"]);
    alpha.run(&["check"]).exits(0).says(&["OK"]);
    alpha
        .run_c(&format!(
            "register connection 'copy' platform exact {} access token '{}' refresh token '{}'",
            demo_app(&sandbox.url, WEB_REDIRECT),
            tokens[0].access_token,
            tokens[0].refresh_token
        ))
        .exits(1)
        .warns(&["is the one connection 'acme' holds already"]);
}

#[test]
fn the_listing_is_paged_and_searchable_on_a_shared_store() {
    let Some(url) = database("paging") else {
        return;
    };
    let alpha = machine(&url, "alpha");
    serve::add_paging_connections(&alpha);
    let admin = serve::api_key(&alpha, "admin", "admin");
    let server = serve::Server::start(&alpha, &[]);
    serve::pages_through_the_api(&server, &admin);
    serve::pages_through_the_connections_page(&server);
    // /metrics counts as preauth check judges: six connections without tokens.
    let (status, metrics) = common::http("GET", &format!("{}/metrics", server.url), None);
    assert_eq!(status, 200);
    for line in [
        "preauth_store_up 1",
        "preauth_connections{state=\"critical\"} 6",
        "preauth_connections{state=\"ok\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
    alpha
        .run(&["check"])
        .exits(2)
        .says(&["connections=6", "failed=6"]);
}

#[test]
fn check_reads_a_large_store_a_batch_at_a_time_and_misses_none() {
    let Some(url) = database("large_check") else {
        return;
    };
    let alpha = machine(&url, "alpha");
    // More than one batch of outlines (2,000), and a name at the batch's edge twice over.
    let names: Vec<String> = (0..4_101).map(|i| format!("c{i:05}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    alpha.import_without_tokens(&names);
    alpha.run(&["check"]).exits(2).says(&[
        "CRITICAL",
        "connections=4101",
        "c00000",
        "c04100",
        "c02000",
    ]);
}

#[test]
fn a_spool_that_is_not_a_folder_stops_everything_before_a_refresh_is_sent() {
    let Some(Shared { sandbox, alpha, .. }) = Shared::new("spool_not_ready") else {
        return;
    };
    sandbox.advance(600);
    let before = refreshes(&sandbox);
    // A file where the spool folder belongs: no answer could be kept on this machine.
    std::fs::create_dir_all(alpha.settings()).expect("the settings folder");
    std::fs::write(alpha.settings().join("spool"), b"in the way").expect("a file");
    alpha.run(&["token", "acme"]).exits(1).warns(&[
        "settings/spool",
        "is not a folder",
        "move it aside",
    ]);
    assert_eq!(refreshes(&sandbox), before, "nothing was sent");
    std::fs::remove_file(alpha.settings().join("spool")).expect("removed");
    alpha.run(&["token", "acme"]).exits(0);
    assert_eq!(refreshes(&sandbox), before + 1);
}

#[test]
fn a_refused_refresh_token_is_critical_for_every_machine_that_checks() {
    let Some(Shared {
        sandbox,
        alpha,
        beta,
        tokens,
        ..
    }) = Shared::new("refused_everywhere")
    else {
        return;
    };
    // Another program spends the refresh token first; alpha's forced refresh is refused
    // and recorded in the row.
    let elsewhere = Workspace::new();
    elsewhere.register_issued("acme", &sandbox, &tokens[0], DAY);
    sandbox.advance(600);
    elsewhere.run(&["token", "acme"]).exits(0);
    alpha
        .run_c("refresh connection 'acme' force")
        .exits(1)
        .warns(&["already used"]);
    // Beta's monitoring, from the row's summary, sees it; so does a listing.
    beta.run(&["check"])
        .exits(2)
        .says(&["CRITICAL", "acme", "already used"]);
    beta.run_c("show connections")
        .exits(0)
        .says(&["refresh token refused"]);
}

#[test]
fn a_row_locked_by_another_session_is_busy_for_token_and_the_api() {
    let Some(url) = database("row_locked") else {
        return;
    };
    let cluster = pg_throwaway::shared().expect("started by `database`");
    let sandbox = SandboxProcess::start(&[]);
    let alpha = machine(&url, "alpha").with_env("PREAUTH_LOCK_TIMEOUT", "1");
    let tokens = sandbox.issue_tokens(1);
    // Obtained a day ago: the access token is dead, so a token needs the row's lock.
    alpha.register_issued("acme", &sandbox, &tokens[0], DAY);
    let key = serve::api_key(&alpha, "jobs", "token");
    let mut server = serve::Server::start(&alpha, &[]);
    let ask = || {
        let url = format!("{}/api/v1/connections/acme/token", server.url);
        let (status, body) = common::send(
            "POST",
            &url,
            &format!("Authorization: Bearer {key}\r\n"),
            "",
        );
        let body: serde_json::Value = serde_json::from_str(&body).expect("a JSON answer");
        (status, body)
    };

    // Another session (an operator's psql) holds the connection's row in an open
    // transaction, as a refresh on another machine does.
    let mut holder = cluster
        .psql("row_locked")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("psql starts");
    let mut script = holder.stdin.take().expect("psql's input");
    writeln!(
        script,
        "BEGIN; SELECT 1 FROM preauth_connections FOR UPDATE;"
    )
    .expect("sent");
    let holding = "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'";
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cluster_says(cluster, "row_locked", holding, "1") {
        assert!(Instant::now() < deadline, "the holder never took the row");
        std::thread::sleep(Duration::from_millis(20));
    }

    // The shell user is told it is busy and what to do, after the lock wait.
    alpha
        .run(&["token", "acme"])
        .exits(1)
        .warns(&["stayed locked by another process", "--lock-timeout"]);
    // The API answers 503 busy, the same sentence: try again, nothing is broken.
    let (status, body) = ask();
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("busy")),
        "{body}"
    );
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("stayed locked by another process"),
        "{body}"
    );
    assert_eq!(
        refreshes(&sandbox),
        0,
        "nothing was sent while the row was held"
    );

    // Released, both work and hand out the one refreshed token.
    writeln!(script, "COMMIT;").expect("sent");
    drop(script);
    assert!(holder.wait().expect("psql ends").success());
    let token = alpha.run(&["token", "acme"]);
    token.exits(0);
    let (status, body) = ask();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["access_token"].as_str(), Some(token.stdout.trim()));
    assert_eq!(refreshes(&sandbox), 1);
    let outcome = server.stop();
    assert_eq!(outcome.code, 0, "{outcome:#?}");
}

/// Whether `sql` on database `name` of `cluster` prints `expected`.
fn cluster_says(cluster: &pg_throwaway::Cluster, name: &str, sql: &str, expected: &str) -> bool {
    cluster
        .psql(name)
        .args(["-c", sql])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == expected)
}
