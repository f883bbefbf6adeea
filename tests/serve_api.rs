//! `preauth serve`: the JSON API end to end, the binary as a child process on a free
//! port of 127.0.0.1 against a `preauth sandbox` process, with tokens the sandbox issued.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use common::serve::{self, Keys, Server, api_key, tokens_at_once};
use common::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, IssuedTokens, SandboxProcess, Workspace};
use serde_json::{Value, json};

/// The body of `POST /api/v1/connections` for the demo app at `sandbox`, with tokens
/// obtained `age` ago.
fn registration(name: &str, sandbox: &SandboxProcess, tokens: &IssuedTokens, age: u64) -> Value {
    json!({
        "name": name,
        "platform": "exact",
        "api_url": sandbox.url,
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "redirect_url": common::WEB_REDIRECT,
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "obtained_at": common::rfc3339(SystemTime::now() - Duration::from_secs(age)),
    })
}

/// A sandbox, `count` token pairs it issued, a workspace with the three keys, and a
/// server over that workspace.
struct Setup {
    sandbox: SandboxProcess,
    issued: Vec<IssuedTokens>,
    ws: Workspace,
    keys: Keys,
    server: Server,
}

impl Setup {
    fn new(count: usize) -> Setup {
        let sandbox = SandboxProcess::start(&[]);
        let issued = sandbox.issue_tokens(count);
        let ws = Workspace::new();
        let keys = Keys::create(&ws);
        let server = Server::start(&ws, &[]);
        Setup {
            sandbox,
            issued,
            ws,
            keys,
            server,
        }
    }

    /// Registers the `i`th pair as `name`, obtained `age` seconds ago, with the
    /// register key.
    fn register(&self, name: &str, i: usize, age: u64) -> (u16, Value) {
        let body = registration(name, &self.sandbox, &self.issued[i], age).to_string();
        self.server.call(
            "POST",
            "/api/v1/connections",
            Some(&self.keys.register),
            Some(&body),
        )
    }
}

fn refreshes(sandbox: &SandboxProcess) -> u64 {
    sandbox.counters()["token_calls_refresh_token"]
        .as_u64()
        .expect("the refresh counter")
}

/// The days left of the refresh token that expires first, from the metrics text.
fn days_left(metrics: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("preauth_refresh_token_days_left_min "))
        .and_then(|d| d.parse().ok())
        .expect("the days left")
}

/// Asserts an error answer: `status`, JSON with `code` and a one-sentence message.
fn assert_error(answer: &(u16, Value), status: u16, code: &str, what: &str) {
    assert_eq!(answer.0, status, "{what}: {answer:?}");
    assert_eq!(answer.1["error"], code, "{what}: {answer:?}");
    let message = answer.1["message"].as_str().expect("a message");
    assert!(
        !message.is_empty() && !message.contains('\n'),
        "{what}: {message}"
    );
}

#[test]
fn register_list_show_token_check_metrics_and_drop_over_the_api() {
    let mut setup = Setup::new(1);
    let (sandbox, ws, keys, server) = (&setup.sandbox, &setup.ws, &setup.keys, &setup.server);
    let tokens = &setup.issued[0];
    let stored = std::fs::read_to_string(ws.settings().join("api-keys.json")).unwrap();
    for key in keys.all() {
        assert!(!stored.contains(key), "a key is stored as itself");
    }

    // 580 s into the access token's 600 s on both sides: the first token request refreshes.
    let (status, connection) = setup.register("acme-nl", 0, 580);
    assert_eq!(status, 201, "{connection}");
    assert_eq!(connection["name"], "acme-nl");
    assert!(
        connection.get("stored_in").is_none(),
        "no server path: {connection}"
    );
    // Booleans say whether a secret is stored, never its value; absent values are null.
    assert_eq!(connection["client_secret"], true);
    assert_eq!(connection["refresh_token"], true);
    assert_eq!(connection["encrypted"], true);
    assert!(connection["problem"].is_null(), "{connection}");
    assert!(
        connection["access_token_expires"].is_string(),
        "{connection}"
    );
    assert!(ws.settings().join("settings-acme-nl.xml").is_file());

    let (status, listing) = server.call("GET", "/api/v1/connections", Some(&keys.admin), None);
    assert_eq!(status, 200);
    assert_eq!(listing["connections"][0]["name"], "acme-nl");
    assert_eq!(listing["connections"][0]["platform"], "exact-online");
    assert_eq!(listing["connections"][0]["encrypted"], true);
    assert!(listing["connections"][0]["country"].is_null(), "{listing}");
    let (status, shown) = server.call(
        "GET",
        "/api/v1/connections/ACME-NL",
        Some(&keys.admin),
        None,
    );
    assert_eq!((status, &shown["name"]), (200, &json!("acme-nl")));

    sandbox.advance(580);
    let before = refreshes(sandbox);
    let (status, first) = server.call(
        "POST",
        "/api/v1/connections/acme-nl/token",
        Some(&keys.token),
        None,
    );
    assert_eq!(status, 200, "{first}");
    let access = first["access_token"].as_str().expect("a token").to_string();
    assert_ne!(access, tokens.access_token, "refreshed in the window");
    assert_eq!(first["connection"], "acme-nl");
    assert_eq!(first["platform"], "exact-online");
    assert!(
        first["expires_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let fields: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        ["access_token", "connection", "expires_at", "platform"]
    );
    let (_, second) = server.call(
        "POST",
        "/api/v1/connections/acme-nl/token",
        Some(&keys.admin),
        None,
    );
    assert_eq!(
        second["access_token"],
        access.as_str(),
        "a valid token is reused"
    );
    assert_eq!(refreshes(sandbox) - before, 1);

    let (status, check) = server.call("GET", "/api/v1/check", Some(&keys.admin), None);
    assert_eq!((status, &check["state"]), (200, &json!("OK")), "{check}");
    assert_eq!(check["connections"][0]["name"], "acme-nl");
    let (status, metrics) = common::http("GET", &format!("{}/metrics", server.url), None);
    assert_eq!(status, 200);
    for line in [
        "preauth_store_up 1",
        "preauth_connections{state=\"ok\"} 1",
        "preauth_connections{state=\"critical\"} 0",
        "preauth_tokens_served_total 2",
        "preauth_refreshes_total 1",
        "preauth_refresh_refusals_total 0",
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
    let days = days_left(&metrics);
    assert!(
        (29.9..=30.0).contains(&days),
        "the refreshed token's 30 days: {days}"
    );
    // Machines are those of a shared store: a settings folder has none to list.
    let machines = server.call("GET", "/api/v1/machines", Some(&keys.admin), None);
    assert_error(
        &machines,
        409,
        "not_shared",
        "machines of a settings folder",
    );
    let (status, _) = server.call("GET", "/api/v1/machines", Some(&keys.token), None);
    assert_eq!(status, 403, "the machines need scope admin");
    let (status, document) = server.call("GET", "/openapi.json", None, None);
    assert_eq!((status, &document["openapi"]), (200, &json!("3.1.0")));
    assert_eq!(
        server.call("GET", "/healthz", None, None),
        (200, json!({"status": "ok"}))
    );

    let (status, _) = server.call(
        "DELETE",
        "/api/v1/connections/acme-nl",
        Some(&keys.admin),
        None,
    );
    assert_eq!(status, 204);
    assert!(!ws.settings().join("settings-acme-nl.xml").exists());
    // Every change through the API is in the log, with the key's name.
    server.wait_for_stderr(0, "API key 'partner': registered connection 'acme-nl'");
    server.wait_for_stderr(0, "API key 'admin': dropped connection 'acme-nl'");
    let gone = server.call(
        "GET",
        "/api/v1/connections/acme-nl",
        Some(&keys.admin),
        None,
    );
    assert_error(&gone, 404, "not_found", "a dropped connection");
    // A dropped connection's check is healthy again: nothing left.
    let (status, _) = server.call("GET", "/api/v1/check", Some(&keys.admin), None);
    assert_eq!(status, 200);

    let outcome = setup.server.stop();
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    outcome.keeps_secret(&[
        &tokens.access_token,
        &tokens.refresh_token,
        &access,
        DEMO_CLIENT_SECRET,
        &keys.admin,
        &keys.register,
        &keys.token,
    ]);
}

#[test]
fn bad_input_on_every_route_is_a_json_error_and_stores_nothing() {
    let mut setup = Setup::new(3);
    let (status, _) = setup.register("acme-nl", 0, 0);
    assert_eq!(status, 201);
    let (sandbox, ws, keys, server) = (&setup.sandbox, &setup.ws, &setup.keys, &setup.server);
    let issued = &setup.issued;
    // Registered by a statement while the server runs: its refresh token is taken too.
    ws.register_issued("by-statement", sandbox, &issued[2], Duration::ZERO);
    // Dropped while the server runs: refused at once.
    let revoked = api_key(ws, "old", "admin");
    ws.run_c("drop api key 'old'").exits(0);
    let snapshot = ws.settings_snapshot();

    let routes: [(&str, &str, &str); 6] = [
        ("GET", "/api/v1/check", "admin"),
        ("GET", "/api/v1/connections", "admin"),
        ("POST", "/api/v1/connections", "register"),
        ("GET", "/api/v1/connections/acme-nl", "admin"),
        ("DELETE", "/api/v1/connections/acme-nl", "admin"),
        ("POST", "/api/v1/connections/acme-nl/token", "token"),
    ];
    let other = registration("other", sandbox, &issued[1], 0).to_string();
    for (method, path, scope) in routes {
        let body = (method == "POST").then_some(other.as_str());
        let what = format!("{method} {path}");
        assert_error(
            &server.call(method, path, None, body),
            401,
            "unauthorized",
            &what,
        );
        assert_error(
            &server.call(method, path, Some("pak_wrong"), body),
            401,
            "unauthorized",
            &what,
        );
        assert_error(
            &server.call(method, path, Some(&revoked), body),
            401,
            "unauthorized",
            &what,
        );
        let weaker = match scope {
            "admin" => Some(&keys.register),
            "register" => Some(&keys.token),
            _ => None,
        };
        if let Some(weaker) = weaker {
            assert_error(
                &server.call(method, path, Some(weaker), body),
                403,
                "forbidden",
                &what,
            );
        }
    }

    let register =
        |body: &str| server.call("POST", "/api/v1/connections", Some(&keys.admin), Some(body));
    assert_error(&register("{\"name\": "), 400, "malformed_json", "cut JSON");
    assert_error(&register("not json"), 400, "malformed_json", "not JSON");
    let mut wrong_type = registration("other", sandbox, &issued[1], 0);
    wrong_type["verify"] = json!(issued[1].refresh_token);
    let answer = register(&wrong_type.to_string());
    assert_error(&answer, 400, "invalid_body", "a string for a boolean");
    assert!(
        !answer.1.to_string().contains(&issued[1].refresh_token),
        "{answer:?}"
    );
    assert_eq!(
        (&answer.1["field"], &answer.1["expected"]),
        (&json!("verify"), &json!("a boolean")),
        "{answer:?}"
    );
    // An escaped quote inside the value does not let its tail through either.
    wrong_type["verify"] = json!("SECRET\"TAILLEAK");
    let answer = register(&wrong_type.to_string());
    assert!(
        !answer.1.to_string().contains("TAILLEAK") && !answer.1.to_string().contains("SECRET"),
        "{answer:?}"
    );
    let mut missing_name = registration("other", sandbox, &issued[1], 0);
    missing_name.as_object_mut().unwrap().remove("name");
    let answer = register(&missing_name.to_string());
    assert_eq!(answer.1["field"], "name", "{answer:?}");
    let mut unknown = registration("other", sandbox, &issued[1], 0);
    unknown["colour"] = json!("blue");
    assert_error(
        &register(&unknown.to_string()),
        400,
        "invalid_body",
        "an unknown field",
    );
    let mut missing = registration("other", sandbox, &issued[1], 0);
    missing.as_object_mut().unwrap().remove("refresh_token");
    assert_error(
        &register(&missing.to_string()),
        400,
        "invalid_body",
        "no refresh token",
    );
    let huge = json!({"name": "x".repeat(70 * 1024)}).to_string();
    assert_error(&register(&huge), 413, "body_too_large", "a huge body");
    let plain = common::send(
        "POST",
        &format!("{}/api/v1/connections", server.url),
        &format!("Authorization: Bearer {}\r\n", keys.admin),
        &other,
    );
    assert_eq!(plain.0, 415, "no content type: {plain:?}");

    let taken = registration("ACME-NL", sandbox, &issued[1], 0).to_string();
    assert_error(&register(&taken), 409, "name_taken", "a taken name");
    let held = registration("other", sandbox, &issued[0], 0).to_string();
    let answer = register(&held);
    assert_error(&answer, 409, "token_held", "a refresh token another holds");
    assert!(
        !answer.1.to_string().to_lowercase().contains("acme-nl"),
        "the holder's name is not told: {answer:?}"
    );
    // A name with an invisible right-to-left override reads as another name.
    let disguised = registration("evil\u{202e}lmx", sandbox, &issued[1], 0).to_string();
    assert_error(
        &register(&disguised),
        422,
        "invalid",
        "a bidi override in a name",
    );
    let held_elsewhere = registration("other", sandbox, &issued[2], 0).to_string();
    assert_error(
        &register(&held_elsewhere),
        409,
        "token_held",
        "a refresh token a connection stored since holds",
    );
    let same = json!(issued[1].refresh_token);
    for (field, value, what) in [
        ("platform", json!("nope"), "an unknown platform"),
        ("access_token", same, "the same token twice"),
        (
            "obtained_at",
            json!("2999-01-01T00:00:00Z"),
            "obtained in the future",
        ),
        (
            "obtained_at",
            json!("2001-01-01T00:00:00Z"),
            "an expired refresh token",
        ),
        ("obtained_at", json!("yesterday"), "an unreadable time"),
    ] {
        let mut body = registration("other", sandbox, &issued[1], 0);
        body[field] = value;
        assert_error(&register(&body.to_string()), 422, "invalid", what);
    }

    for (method, path, key) in [
        ("GET", "/api/v1/connections/nobody", &keys.admin),
        ("DELETE", "/api/v1/connections/nobody", &keys.admin),
        ("POST", "/api/v1/connections/nobody/token", &keys.token),
    ] {
        assert_error(
            &server.call(method, path, Some(key), None),
            404,
            "not_found",
            path,
        );
    }
    assert_error(
        &server.call("GET", "/api/v1/connections/%FF", Some(&keys.admin), None),
        400,
        "invalid_path",
        "a name that is not UTF-8",
    );
    assert_error(
        &server.call("PUT", "/api/v1/connections", Some(&keys.admin), Some("{}")),
        405,
        "method_not_allowed",
        "a method the route does not take",
    );
    assert_error(
        &server.call("GET", "/api/v2/nothing", Some(&keys.admin), None),
        404,
        "no_route",
        "no route",
    );

    assert_eq!(
        ws.settings_snapshot(),
        snapshot,
        "a refused request changed the store"
    );
    let outcome = setup.server.stop();
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    outcome.keeps_secret(&[
        &issued[0].refresh_token,
        &issued[1].refresh_token,
        &issued[1].access_token,
        DEMO_CLIENT_SECRET,
        &keys.admin,
        &revoked,
    ]);
}

#[test]
fn sixteen_concurrent_token_requests_in_the_refresh_window_refresh_once() {
    let mut setup = Setup::new(1);
    let (status, _) = setup.register("acme-nl", 0, 580);
    assert_eq!(status, 201);
    let (sandbox, keys, server) = (&setup.sandbox, &setup.keys, &setup.server);
    let tokens = &setup.issued[0];
    sandbox.advance(580);
    let before = sandbox.counters();

    let handed: BTreeSet<String> =
        tokens_at_once("acme-nl", &[(server.url.as_str(), keys.token.as_str()); 16])
            .into_iter()
            .collect();
    assert_eq!(handed.len(), 1, "different tokens: {handed:?}");
    assert!(!handed.contains(&tokens.access_token));
    let after = sandbox.counters();
    let delta = |name: &str| after[name].as_u64().unwrap() - before[name].as_u64().unwrap();
    assert_eq!(delta("token_calls_refresh_token"), 1, "{after}");
    assert_eq!(after["spent_refresh_token_reuses"], 0, "{after}");
    let outcome = setup.server.stop();
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    outcome.keeps_secret(&[
        &tokens.refresh_token,
        handed.first().unwrap(),
        DEMO_CLIENT_SECRET,
    ]);
}

#[test]
fn another_address_than_loopback_needs_a_proxy_in_front() {
    let ws = Workspace::new();
    let outcome = ws.run(&["serve", "--listen", "0.0.0.0:0"]);
    outcome
        .exits(2)
        .warns(&["--behind-proxy", "TLS", "127.0.0.1"]);
    assert_eq!(outcome.stdout, "");
}

#[test]
fn a_taken_port_says_how_to_find_its_holder_and_writes_nothing() {
    let ws = Workspace::new();
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = held.local_addr().unwrap().port();
    let before = ws.settings_snapshot();
    let outcome = ws.run(&["serve", "--listen", &format!("127.0.0.1:{port}")]);
    outcome.exits(1).warns(&[
        &format!("cannot listen on 127.0.0.1:{port}"),
        &format!("ss -ltnp 'sport = :{port}'"),
        "--listen 127.0.0.1:PORT",
    ]);
    assert_eq!(outcome.stdout, "");
    assert_eq!(ws.settings_snapshot(), before, "nothing written");
}

#[test]
fn a_damaged_api_keys_file_stops_the_start_and_later_is_logged_with_each_failure() {
    let ws = Workspace::new();
    let keys = Keys::create(&ws);
    let file = ws.settings().join("api-keys.json");
    let good = std::fs::read(&file).unwrap();
    std::fs::write(&file, "{ \"keys\": [").unwrap();
    let refused = ws.run(&["serve", "--listen", "127.0.0.1:0"]);
    let moved = format!("mv {0} {0}.damaged", file.display());
    refused
        .exits(1)
        .warns(&["api-keys.json is damaged", &moved]);
    assert_eq!(refused.stdout, "", "it did not serve");

    // Damaged while it runs (a hand edit): each call fails, and the log says why.
    std::fs::write(&file, &good).unwrap();
    let mut server = Server::start(&ws, &[]);
    std::fs::write(&file, "{ \"keys\": [").unwrap();
    let path = "/api/v1/connections/nobody/token";
    assert_error(
        &server.call("POST", path, Some(&keys.token), None),
        500,
        "internal",
        "a damaged keys file",
    );
    let outcome = server.stop();
    let logged = outcome
        .stderr
        .lines()
        .find(|l| l.contains("answered 500:"))
        .unwrap_or_else(|| panic!("no failure logged: {outcome:#?}"));
    assert!(logged.contains(&moved), "{logged}");
    outcome.keeps_secret(&keys.all());
}

#[test]
fn sigterm_lets_a_refresh_in_flight_finish_and_store_its_tokens() {
    let mut setup = Setup::new(1);
    let (status, _) = setup.register("acme-nl", 0, 580);
    assert_eq!(status, 201);
    let (sandbox, ws) = (&setup.sandbox, &setup.ws);
    sandbox.advance(580);
    sandbox.fault(r#"{"fault": "delay", "millis": 1500}"#);
    let applied = |s: &SandboxProcess| s.counters()["faults_applied"].as_u64().unwrap();
    let before = applied(sandbox);
    let url = format!("{}/api/v1/connections/acme-nl/token", setup.server.url);
    let header = format!("Authorization: Bearer {}\r\n", setup.keys.token);
    let call = std::thread::spawn(move || common::send("POST", &url, &header, ""));
    // SIGTERM while the platform holds the refresh (the delay has begun).
    while applied(sandbox) == before {
        std::thread::sleep(Duration::from_millis(20));
    }
    let outcome = setup.server.stop();
    assert_eq!(outcome.code, 0, "{outcome:#?}");
    let (status, body) = call.join().expect("the call");
    assert_eq!(status, 200, "the request in flight was cut: {body}");
    let handed: Value = serde_json::from_str(&body).expect("JSON");
    let handed = handed["access_token"].as_str().expect("a token");
    assert_ne!(handed, setup.issued[0].access_token);
    // The new tokens were stored before the answer: the next job gets the same token
    // without a refresh.
    let refreshes_before = refreshes(sandbox);
    let next = ws.run(&["token", "acme-nl"]);
    assert_eq!(next.exits(0).stdout.trim(), handed);
    assert_eq!(refreshes(sandbox), refreshes_before);
}

#[test]
fn the_token_route_is_rate_limited_per_key() {
    let ws = Workspace::new();
    let keys = Keys::create(&ws);
    let other = api_key(&ws, "jobs-2", "token");
    // One a second: the second call comes well within the second even on a busy machine.
    let mut server = Server::start(&ws, &["--token-rate", "1"]);
    let path = "/api/v1/connections/nobody/token";
    let answers: Vec<(u16, Value)> = (0..2)
        .map(|_| server.call("POST", path, Some(&keys.token), None))
        .collect();
    assert_eq!(answers[0].0, 404, "{answers:?}");
    assert_error(&answers[1], 429, "rate_limited", "the second at once");
    assert!(
        answers[1].1["message"]
            .as_str()
            .unwrap()
            .contains("--token-rate")
    );
    assert_eq!(
        server.call("POST", path, Some(&other), None).0,
        404,
        "per key"
    );
    let listing = server.call("GET", "/api/v1/connections", Some(&keys.admin), None);
    assert_eq!(listing.0, 200, "only the token route is limited");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        server.call("POST", path, Some(&keys.token), None).0,
        404,
        "refilled"
    );
    assert_eq!(server.stop().code, 0);
}

#[test]
fn api_keys_are_created_listed_and_dropped_by_statements() {
    let ws = Workspace::new();
    let created = ws.run_c("create api key 'jobs' scope token");
    created
        .exits(0)
        .warns(&["shown this once", "Authorization: Bearer"]);
    let key = created.stdout.trim();
    assert!(key.starts_with("pak_") && key.len() > 40, "{key}");
    ws.run_c("create api key 'JOBS' scope admin")
        .exits(1)
        .warns(&["an API key named 'jobs' exists already"]);
    ws.run(&["--format", "json", "-c", "show api keys"])
        .exits(0)
        .says(&["\"name\":\"jobs\"", "\"scope\":\"token\"", "\"created\":"])
        .keeps_secret(&[key]);
    ws.run_c("create api key 'x' scope owner")
        .exits(2)
        .warns(&["expected 'register', 'token' or 'admin'"]);
    ws.run_c("drop api key 'Jobs'").exits(0);
    let listed = ws.run_c("show api keys");
    assert!(!listed.exits(0).stdout.contains("jobs"), "{listed:#?}");
    ws.run_c("drop api key 'jobs'")
        .exits(1)
        .warns(&["no API key named 'jobs'"]);
}

#[test]
fn the_systemd_unit_serves_on_loopback_reloads_on_sighup_and_gives_the_drain_time_to_finish() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/systemd/preauth-serve.service"
    );
    let unit = std::fs::read_to_string(path).expect("the unit");
    let setting = |key: &str| {
        unit.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key}"))
            .to_string()
    };
    assert_eq!(
        setting("ExecStart"),
        "/usr/local/bin/preauth serve --listen 127.0.0.1:8440 --no-login-url"
    );
    assert_eq!(setting("KillSignal"), "SIGTERM");
    // `systemctl reload` reads a renewed TLS certificate again (tests/serve_tls.rs).
    assert_eq!(setting("ExecReload"), "/bin/kill -HUP $MAINPID");
    let stop: u64 = setting("TimeoutStopSec").parse().expect("seconds");
    assert!(
        stop > 60,
        "longer than the request timeout, so a drain is not cut"
    );
    common::systemd_verify(&["preauth-serve.service"]);
}

#[test]
fn check_answers_503_and_metrics_count_a_connection_that_needs_a_login_soon() {
    let mut setup = Setup::new(2);
    assert_eq!(setup.register("fresh", 0, 0).0, 201);
    // Exact's refresh tokens live 30 days: one obtained 29 days ago is CRITICAL.
    assert_eq!(setup.register("old", 1, 29 * 86_400).0, 201);
    let (keys, server) = (&setup.keys, &setup.server);
    let (status, check) = server.call("GET", "/api/v1/check", Some(&keys.admin), None);
    assert_eq!(
        (status, &check["state"]),
        (503, &json!("CRITICAL")),
        "{check}"
    );
    let states: Vec<(&str, &str)> = check["connections"]
        .as_array()
        .expect("connections")
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["state"].as_str().unwrap()))
        .collect();
    assert!(states.contains(&("old", "CRITICAL")), "{states:?}");
    assert!(states.contains(&("fresh", "OK")), "{states:?}");
    assert!(
        check["summary"].as_str().unwrap().contains("old"),
        "{check}"
    );
    let (_, metrics) = common::http("GET", &format!("{}/metrics", server.url), None);
    for line in [
        "preauth_connections{state=\"ok\"} 1",
        "preauth_connections{state=\"critical\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} not in {metrics}");
    }
    let days = days_left(&metrics);
    assert!(
        (0.99..=1.0).contains(&days),
        "the old token's last day: {days}"
    );
    // The thresholds are those of `preauth check`: with none, a last day is still OK.
    let mut lenient = Server::start(&setup.ws, &["--warn-days", "0", "--critical-days", "0"]);
    let (status, check) = lenient.call("GET", "/api/v1/check", Some(&keys.admin), None);
    assert_eq!((status, &check["state"]), (200, &json!("OK")), "{check}");
    assert_eq!(lenient.stop().code, 0);
    let (status, _) = server.call("DELETE", "/api/v1/connections/old", Some(&keys.admin), None);
    assert_eq!(status, 204);
    let (status, check) = server.call("GET", "/api/v1/check", Some(&keys.admin), None);
    assert_eq!((status, &check["state"]), (200, &json!("OK")), "{check}");
    assert_eq!(setup.server.stop().code, 0);
}

#[test]
fn the_listing_is_paged_and_searchable_on_a_settings_folder() {
    let ws = Workspace::new();
    serve::add_paging_connections(&ws);
    let keys = Keys::create(&ws);
    let server = Server::start(&ws, &[]);
    serve::pages_through_the_api(&server, &keys.admin);
    serve::pages_through_the_connections_page(&server);
}

#[test]
fn a_sigterm_the_moment_the_server_has_printed_its_address_drains_and_exits_0() {
    // The stop signal's handler must be in place before anything is served: a SIGTERM
    // that arrives first must not end the process by the signal's default action.
    let ws = Workspace::new();
    for _ in 0..5 {
        let mut server = Server::start(&ws, &[]);
        let stopped = server.stop();
        stopped.exits(0);
    }
}

#[test]
fn a_platform_defined_over_the_api_is_the_scripts_and_a_registration_can_use_it() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    let keys = Keys::create(&ws);
    let mut server = Server::start(&ws, &[]);
    let base = format!("{}/auth/authentication", sandbox.url);
    let definition = json!({
        "id": "idp",
        "issuer": base,
        "authorize_url": format!("{base}/connect/authorize"),
        "token_url": format!("{base}/connect/token"),
        "client_authentication": "basic",
        "scope": "openid offline_access",
        "pkce": true,
        "parameters": [{"name": "audience", "value": "https://api.example.invalid"}],
        "refresh_tokens": "on",
    });
    let create = |key: &str, body: &Value| {
        server.call(
            "POST",
            "/api/v1/platforms",
            Some(key),
            Some(&body.to_string()),
        )
    };
    let with = |field: &str, value: Value| {
        let mut body = definition.clone();
        match value {
            Value::Null => body.as_object_mut().expect("an object").remove(field),
            value => body
                .as_object_mut()
                .expect("an object")
                .insert(field.into(), value),
        };
        body
    };

    // Refusals name the field and store nothing.
    for (body, field) in [
        (with("id", json!("no spaces")), "id"),
        (
            with("authorize_url", json!("http://10.0.0.1/authorize")),
            "authorize_url",
        ),
        (with("issuer", json!("ftp://127.0.0.1/")), "issuer"),
        (with("token_url", Value::Null), "token_url"),
        (
            with(
                "token_url",
                json!("https://elsewhere.example.invalid/token"),
            ),
            "token_url",
        ),
        (
            with("parameters", json!([{"name": "state", "value": "mine"}])),
            "parameters",
        ),
    ] {
        let answer = create(&keys.admin, &body);
        assert_error(&answer, 422, "invalid", field);
        assert_eq!(answer.1["field"], field, "{answer:?}");
    }
    let unknown = create(&keys.admin, &with("colour", json!("blue")));
    assert_error(&unknown, 400, "invalid_body", "an unknown field");
    assert_error(
        &create(&keys.register, &definition),
        403,
        "forbidden",
        "scope register",
    );
    assert_error(
        &create(&keys.admin, &with("id", json!("exact"))),
        409,
        "platform_exists",
        "built in",
    );
    let before = ws.run_c("show platforms");
    before.exits(0).says(&["exact-online"]);
    assert!(!before.stdout.contains("idp"), "nothing stored: {before:?}");

    // Defined: the script sees it, a second one of the id is refused.
    let created = create(&keys.admin, &definition);
    assert_eq!(created.0, 201, "{created:?}");
    assert_eq!(created.1, json!({"id": "idp"}));
    assert_error(
        &create(&keys.admin, &definition),
        409,
        "platform_exists",
        "the same id",
    );
    ws.run_c("show platforms").exits(0).says(&["idp"]);

    // A registration through the API takes it at once, and the token is handed out.
    let registration = json!({
        "name": "on-idp",
        "platform": "idp",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "redirect_url": common::WEB_REDIRECT,
        "access_token": "idp-access",
        "refresh_token": "idp-refresh",
    });
    let stored = server.call(
        "POST",
        "/api/v1/connections",
        Some(&keys.register),
        Some(&registration.to_string()),
    );
    assert_eq!(stored.0, 201, "{stored:?}");
    assert_eq!(stored.1["platform"], "idp", "{stored:?}");
    ws.run(&["token", "on-idp"]).exits(0).says(&["idp-access"]);
    server.stop();
}

#[test]
fn a_settings_file_posted_to_the_api_is_imported_as_import_settings_does_or_not_at_all() {
    let there = Workspace::new();
    there.write_settings(
        "books",
        "api-url=https://start.exactonline.nl;api-client-id=x;api-client-secret=s;api-redirect-url=https://example.invalid/cb",
    );
    let exported = there.run_c("export settings 'books' plain");
    exported.exits(0).warns(&["now exists in two places"]);
    let file = exported.stdout.clone();

    let ws = Workspace::new();
    let keys = Keys::create(&ws);
    let mut server = Server::start(&ws, &[]);
    let post = |body: &str, key: &str| {
        common::send(
            "POST",
            &format!("{}/api/v1/connections/import", server.url),
            &format!("Authorization: Bearer {key}\r\nContent-Type: application/xml\r\n"),
            body,
        )
    };
    let (status, _) = post(&file, &keys.register);
    assert_eq!(status, 403, "an import needs scope admin");
    let (status, _) = post("<settings><connection", &keys.admin);
    assert_eq!(status, 422, "a damaged file");
    let none = ws.run_c("show connections");
    assert!(!none.exits(0).stdout.contains("books"), "nothing imported");

    let (status, body) = post(&file, &keys.admin);
    assert_eq!(status, 201, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(answer["imported"], json!(["books"]));
    assert!(
        answer["warnings"][0]
            .as_str()
            .unwrap()
            .contains("now exists in two places"),
        "{answer}"
    );
    ws.run_c("show connection 'books'")
        .exits(0)
        .says(&["books"]);
    let before = ws.settings_snapshot();
    let (status, body) = post(&file, &keys.admin);
    assert_eq!(status, 409, "{body}");
    assert_eq!(ws.settings_snapshot(), before, "nothing changed");
    assert_eq!(server.stop().code, 0);
}
