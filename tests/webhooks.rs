//! Signed webhooks from the store's outbox (issue 23): the real binary, the sandbox, and a
//! receiver in the test on 127.0.0.1 that checks every signature with the secret the
//! creation printed.

mod common;

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::{
    DAY, DEMO_CLIENT_SECRET, Outcome, SandboxProcess, Workspace, demo_app, loopback_redirect,
    rfc3339,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

impl Received {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }
}

/// A webhook receiver on 127.0.0.1: answers each request with the next status queued
/// (200 when none is), and keeps what it got.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(statuses: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let got = Arc::new(Mutex::new(Vec::new()));
        let queue = Arc::new(Mutex::new(
            statuses.iter().copied().collect::<VecDeque<_>>(),
        ));
        let keep = Arc::clone(&got);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                keep.lock().unwrap().push(request);
                let status = queue.lock().unwrap().pop_front().unwrap_or(200);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Receiver { url, got }
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// What arrived, once `count` requests did (or after `limit`).
    fn wait_for(&self, count: usize, limit: Duration) -> Vec<Received> {
        let start = Instant::now();
        while self.got().len() < count && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.got()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        path,
        headers,
        body: String::from_utf8(body).ok()?,
    })
}

/// What a receiver does: `t=<seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, with a
/// `t` at most 5 minutes from now.
fn verify(secret: &str, signature: &str, body: &str) -> bool {
    verify_ahead(secret, signature, body, 0)
}

/// [`verify`] for a sender whose clock is `ahead` seconds ahead of the real one.
fn verify_ahead(secret: &str, signature: &str, body: &str, ahead: u64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in signature.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<u64>().ok(),
            Some(("v1", value)) => v1 = Some(value.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + ahead;
    if now.abs_diff(t) > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    expected == v1
}

/// Creates webhook `name` to `url` with `options`; returns the secret it printed.
fn create_webhook(ws: &Workspace, name: &str, url: &str, options: &str) -> String {
    let created = ws.run_c(&format!("create webhook '{name}' url '{url}' {options}"));
    created
        .exits(0)
        .warns(&["shown this once", "Preauth-Signature"]);
    let secret = created.stdout.trim().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    secret
}

/// The one event in `got`, once its signature with `secret` is checked.
fn the_one_signed_event(got: &[Received], secret: &str) -> serde_json::Value {
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        verify(secret, got[0].header("Preauth-Signature"), &got[0].body),
        "{:?}",
        got[0]
    );
    got[0].json()
}

/// A hand-written connection `name` (no tokens), dropped later to make an event.
fn hand_written(ws: &Workspace, name: &str) {
    ws.write_settings(
        name,
        "api-url=http://127.0.0.1:9;api-client-id=x;api-client-secret=s;api-redirect-url=http://127.0.0.1:9/cb",
    );
}

/// A workspace whose deliveries retry after milliseconds instead of minutes.
fn quick_workspace() -> Workspace {
    Workspace::new().with_env("PREAUTH_WEBHOOK_MINUTE_MS", "20")
}

#[test]
fn a_spent_token_is_told_as_refresh_failed_and_the_new_login_as_recovered() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = quick_workspace();
    let receiver = Receiver::start(&[]);
    let secret = create_webhook(&ws, "ops", &format!("{}/ops", receiver.url), "");
    let slack = create_webhook(
        &ws,
        "chat",
        &format!("{}/slack", receiver.url),
        "events refresh_failed format slack",
    );
    let tokens = sandbox.issue_tokens(1);
    let registered = ws.run_c(&format!(
        "register connection 'acme' platform exact {} access token '{}' refresh token '{}' \
         obtained at '{}'",
        demo_app(&sandbox.url, &loopback_redirect()),
        tokens[0].access_token,
        tokens[0].refresh_token,
        rfc3339(SystemTime::now() - DAY)
    ));
    registered.exits(0);
    // The answer to a refresh is lost (one more try is allowed, nothing is told), then the
    // next (forced) try finds the refresh token spent: that failure is for good and is told.
    sandbox.advance(600);
    sandbox.fault(r#"{"fault": "drop_after_rotate"}"#);
    let lost = ws.run_c("refresh connection 'acme'");
    lost.exits(1);
    let spent_at = Instant::now();
    // The one later try after a lost answer waits for its backoff; a person may force it.
    let spent = ws.run_c("refresh connection 'acme' force");
    let told_within = spent_at.elapsed();
    spent.exits(1).warns(&["already used"]);
    let failed: Vec<Received> = receiver
        .got()
        .into_iter()
        .filter(|r| r.body.contains("refresh_failed"))
        .collect();
    assert_eq!(failed.len(), 2, "one to each webhook: {failed:?}");
    eprintln!("refresh_failed was delivered within {told_within:?} of the failing command's start");
    let ops = failed
        .iter()
        .find(|r| r.path == "/ops")
        .expect("ops got it");
    let event = ops.json();
    assert_eq!(event["type"], "refresh_failed");
    assert_eq!(event["connection"], "acme");
    assert_eq!(event["platform"], "exact-online");
    assert_eq!(event["state"], "failed");
    assert!(
        event["advice"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "log_in_again"),
        "{event}"
    );
    assert_eq!(
        ops.header("Preauth-Event-Id"),
        event["id"].as_str().unwrap()
    );
    let chat = failed
        .iter()
        .find(|r| r.path == "/slack")
        .expect("chat got it");
    let text = chat.json()["text"].as_str().unwrap().to_string();
    assert!(
        text.contains("'acme'") && text.contains("log_in_again"),
        "{text}"
    );
    assert!(verify(&slack, chat.header("Preauth-Signature"), &chat.body));

    // A blocked refresh records nothing new and tells nothing new.
    let before = receiver.got().len();
    ws.run_c("refresh connection 'acme'").exits(1);
    assert_eq!(receiver.got().len(), before);

    // A new login repairs it: recovered. Dropping it: connection_dropped.
    let login = Outcome::of(
        ws.preauth()
            .env("BROWSER", SandboxProcess::browser())
            .args(["-c", "preauthenticate connection 'acme'"]),
    );
    login.exits(0);
    ws.run_c("drop connection 'acme'").exits(0);

    let all = receiver.got();
    let to_ops: Vec<&Received> = all.iter().filter(|r| r.path == "/ops").collect();
    let types: Vec<String> = to_ops
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "connection_created",
            "refresh_failed",
            "recovered",
            "connection_dropped"
        ]
    );
    for request in &to_ops {
        assert!(
            verify(&secret, request.header("Preauth-Signature"), &request.body),
            "{request:?}"
        );
        // A signature made with another secret, or over another body, fails.
        assert!(!verify(
            &slack,
            request.header("Preauth-Signature"),
            &request.body
        ));
        let tampered = request.body.replace("acme", "acmf");
        assert!(!verify(
            &secret,
            request.header("Preauth-Signature"),
            &tampered
        ));
    }
    // Nothing sent holds a token or a secret.
    for request in &all {
        for secret in [
            tokens[0].access_token.as_str(),
            tokens[0].refresh_token.as_str(),
            DEMO_CLIENT_SECRET,
            secret.as_str(),
            slack.as_str(),
        ] {
            assert!(!request.body.contains(secret), "{request:?}");
        }
    }
    // The secrets are shown at creation only: not by show, not in the store's files.
    let shown = ws.run_c("show webhooks; show webhook deliveries");
    shown
        .exits(0)
        .says(&["ops", "chat", "delivered", "connection_dropped"])
        .keeps_secret(&[&secret, &slack]);
    for (file, bytes) in ws.settings_snapshot() {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&secret) && !text.contains(&slack),
            "{file} holds a webhook secret"
        );
    }
    for outcome in [&registered, &lost, &spent, &login] {
        outcome.keeps_secret(&[&secret, &slack]);
    }
}

#[test]
fn a_receiver_that_fails_twice_gets_the_same_event_three_times_and_it_is_delivered_once() {
    let ws = quick_workspace();
    let receiver = Receiver::start(&[500, 500]);
    let secret = create_webhook(&ws, "ops", &receiver.url, "events connection_dropped");
    hand_written(&ws, "books");
    ws.run_c("drop connection 'books'").exits(0);
    let got = receiver.wait_for(3, Duration::from_secs(10));
    assert_eq!(got.len(), 3, "{got:?}");
    let id = got[0].header("Preauth-Event-Id");
    assert!(id.starts_with("evt_"), "{id}");
    for request in &got {
        assert_eq!(request.header("Preauth-Event-Id"), id);
        assert_eq!(request.body, got[0].body);
        assert!(verify(
            &secret,
            request.header("Preauth-Signature"),
            &request.body
        ));
        assert_eq!(request.json()["type"], "connection_dropped");
    }
    let shown = ws.run(&["--format", "json", "-c", "show webhook deliveries"]);
    shown.exits(0);
    let rows: serde_json::Value = serde_json::from_str(&shown.stdout).expect("JSON");
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["event"], id);
    assert_eq!(rows[0]["tries"], "3");
    assert_eq!(rows[0]["answer"], "HTTP 200");
    assert_eq!(rows[0]["state"], "delivered");
    // Nothing more arrives later.
    ws.run_c("refresh all connections").exits(0);
    assert_eq!(receiver.got().len(), 3);
}

#[test]
fn an_event_of_a_killed_process_is_delivered_by_a_later_refresh_all_and_by_serve() {
    let ws = quick_workspace();
    let receiver = Receiver::start(&[]);
    let secret = create_webhook(&ws, "ops", &receiver.url, "");
    let outbox = ws.settings().join("webhook-outbox.json");
    let kill_after_enqueue = |name: &str| {
        hand_written(&ws, name);
        let mut child = ws
            .preauth()
            .env("PREAUTH_WEBHOOK_DELAY_MS", "60000")
            .args(["-c", &format!("drop connection '{name}'")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("preauth starts");
        let start = Instant::now();
        while !std::fs::read_to_string(&outbox).is_ok_and(|t| t.contains(name))
            && start.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(std::fs::read_to_string(&outbox).unwrap().contains(name));
        child.kill().expect("SIGKILL");
        child.wait().expect("it ends");
    };

    kill_after_enqueue("books");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        receiver.got().is_empty(),
        "nothing was sent before the kill"
    );
    ws.run_c("refresh all connections").exits(0);
    let got = receiver.got();
    assert_eq!(the_one_signed_event(&got, &secret)["connection"], "books");

    kill_after_enqueue("ledger");
    let mut server = common::serve::Server::start(&ws, &[]);
    let got = receiver.wait_for(2, Duration::from_secs(20));
    server.stop();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1].json()["connection"], "ledger");
    assert!(verify(
        &secret,
        got[1].header("Preauth-Signature"),
        &got[1].body
    ));
}

#[test]
fn a_webhook_is_aimed_at_https_or_loopback_only_and_nothing_is_stored_otherwise() {
    let ws = Workspace::new();
    for (url, says) in [
        ("http://hooks.example.com/preauth", "plain http"),
        (
            "https://user:pw@hooks.example.com/preauth",
            "user name or password",
        ),
        ("https://hooks.example.com/preauth#x", "fragment"),
    ] {
        ws.run_c(&format!("create webhook 'ops' url '{url}'"))
            .exits(1)
            .warns(&["webhook url", says, "nothing was stored"]);
    }
    assert!(!ws.settings().join("webhooks.json").exists());
    let listed = ws.run(&["--format", "json", "-c", "show webhooks"]);
    listed.exits(0);
    assert_eq!(listed.stdout.trim(), "[]");
    create_webhook(&ws, "ops", "https://hooks.example.com/preauth", "");
    ws.run_c("create webhook 'OPS' url 'https://hooks.example.com/other'")
        .exits(1)
        .warns(&["exists already", "run `drop webhook '"]);
    ws.run_c("drop webhook 'ops'").exits(0);
    ws.run_c("drop webhook 'ops'")
        .exits(1)
        .warns(&["no webhook named 'ops'", "`show webhooks` lists them"]);
}

#[test]
fn machines_sharing_a_postgres_store_send_to_its_webhooks_with_the_secret_shown_once() {
    let Some(cluster) = pg_throwaway::shared() else {
        return;
    };
    let url = cluster.new_database("webhooks_shared");
    let machine = |name: &str| {
        quick_workspace()
            .with_env("PREAUTH_STORE", &url)
            .with_env("PREAUTH_MACHINE", name)
    };
    let (alpha, beta) = (machine("alpha"), machine("beta"));
    let receiver = Receiver::start(&[]);
    let secret = create_webhook(&alpha, "ops", &receiver.url, "events connection_dropped");
    let code = alpha.run_c("enroll machine");
    code.exits(0);
    beta.run_c(&format!(
        "enroll machine with code '{}'",
        code.stdout.trim()
    ))
    .exits(0);
    hand_written(&alpha, "books");
    let file = alpha.settings().join("settings-books.xml");
    alpha
        .run_c(&format!("import settings '{}'", file.display()))
        .exits(0);
    // The other machine sees the webhook, opens its secret and signs with it.
    beta.run_c("show webhooks")
        .exits(0)
        .says(&["ops"])
        .keeps_secret(&[&secret]);
    beta.run_c("drop connection 'books'").exits(0);
    let got = receiver.got();
    assert_eq!(the_one_signed_event(&got, &secret)["connection"], "books");
    alpha
        .run_c("show webhook deliveries")
        .exits(0)
        .says(&["delivered", "books"])
        .keeps_secret(&[&secret]);
}

#[test]
fn a_refresh_token_near_its_end_is_told_as_expiring_once_a_day() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = quick_workspace();
    let receiver = Receiver::start(&[]);
    let secret = create_webhook(&ws, "ops", &receiver.url, "events expiring");
    let tokens = sandbox.issue_tokens(1);
    // Exact's refresh tokens last 30 days: this one has 5 left.
    ws.register_issued("acme", &sandbox, &tokens[0], DAY * 25);
    for _ in 0..2 {
        ws.run_c("refresh all connections older than 40 days")
            .exits(0)
            .says(&["left alone"]);
    }
    let got = receiver.got();
    assert_eq!(got.len(), 1, "told once a day: {got:?}");
    let event = got[0].json();
    assert_eq!(event["type"], "expiring");
    assert_eq!(event["connection"], "acme");
    assert_eq!(event["advice"][0], "log_in_again");
    assert!(verify(
        &secret,
        got[0].header("Preauth-Signature"),
        &got[0].body
    ));
    for secret in [&tokens[0].access_token, &tokens[0].refresh_token] {
        assert!(!got[0].body.contains(secret.as_str()));
    }
}

/// The receiver the README prints, as printed there.
fn readme_receiver() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = &readme[readme
        .find("## Limits and notifications")
        .expect("the section")..];
    let start = section.find("```python\n").expect("a Python receiver") + "```python\n".len();
    section[start..][..section[start..].find("```").expect("its end")].to_string()
}

/// The README's receiver on `port` with `secret`; `None` (after one skip line) when there
/// is no `python3`.
fn start_readme_receiver(ws: &Workspace, secret: &str, port: u16) -> Option<std::process::Child> {
    let script = ws.write("receiver.py", &readme_receiver());
    let child = std::process::Command::new("python3")
        .arg(&script)
        .arg(port.to_string())
        .env("PREAUTH_WEBHOOK_SECRET", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        assert!(
            !pg_throwaway::required(),
            "{} is set, but python3 cannot be started",
            pg_throwaway::REQUIRE_VARIABLE
        );
        eprintln!("skipped: the README's webhook receiver: python3 cannot be started");
        return None;
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the README's receiver does not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(child)
}

/// A webhook `ops` for `connection_dropped` to the README's receiver holding `secret`
/// (the webhook's own when `None`); drops a hand-written connection `name`; what
/// `show webhook deliveries` and the receiver printed.
fn drop_told_to_readme_receiver(
    ws: &Workspace,
    name: &str,
    secret: Option<&str>,
) -> Option<(Outcome, String)> {
    let port = common::free_port();
    let created = create_webhook(
        ws,
        "ops",
        &format!("http://127.0.0.1:{port}/preauth"),
        "events connection_dropped",
    );
    let mut receiver = start_readme_receiver(ws, secret.unwrap_or(&created), port)?;
    hand_written(ws, name);
    ws.run_c(&format!("drop connection '{name}'")).exits(0);
    let deliveries = ws.run_c("show webhook deliveries");
    ws.run_c("drop webhook 'ops'").exits(0);
    receiver.kill().expect("the receiver stops");
    let output = receiver.wait_with_output().expect("its output");
    let printed = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(!printed.contains(&created), "the secret is never sent");
    Some((deliveries, printed))
}

#[test]
fn the_readme_receiver_accepts_what_preauth_signs_and_refuses_a_wrong_secret() {
    let ws = Workspace::new();
    let Some((deliveries, printed)) = drop_told_to_readme_receiver(&ws, "gone", None) else {
        return;
    };
    deliveries
        .exits(0)
        .says(&["connection_dropped", "delivered"]);
    let event: serde_json::Value =
        serde_json::from_str(printed.lines().next().expect("one event printed"))
            .expect("the event is JSON");
    assert_eq!(event["type"], "connection_dropped");
    assert_eq!(event["connection"], "gone");

    // A receiver holding another secret refuses: nothing printed, nothing delivered.
    let (refused, printed) =
        drop_told_to_readme_receiver(&ws, "also-gone", Some("whsec_not_this_one"))
            .expect("python3 ran before");
    refused.exits(0).says(&["also-gone", "HTTP 400", "pending"]);
    assert_eq!(printed, "");
}

#[test]
fn serve_sends_its_own_events_at_once_not_at_its_next_look_at_the_outbox() {
    let ws = Workspace::new();
    let receiver = Receiver::start(&[]);
    let secret = create_webhook(&ws, "ops", &receiver.url, "events connection_dropped");
    let admin = common::serve::api_key(&ws, "ops-admin", "admin");
    hand_written(&ws, "books");
    let server = common::serve::Server::start(&ws, &[]);
    // Past the first look at the outbox at start: the next one is 5 seconds later.
    std::thread::sleep(Duration::from_millis(500));
    let dropped_at = Instant::now();
    let (status, _) = server.call("DELETE", "/api/v1/connections/books", Some(&admin), None);
    assert_eq!(status, 204);
    let got = receiver.wait_for(1, Duration::from_secs(20));
    let latency = dropped_at.elapsed();
    assert_eq!(
        the_one_signed_event(&got, &secret)["type"],
        "connection_dropped"
    );
    eprintln!("serve delivered its own event {latency:?} after the request began");
    // Sent when stored, not at the next look 5 seconds on: well within half of that.
    assert!(latency < Duration::from_millis(2500), "{latency:?}");
}

#[test]
fn the_keep_alive_inside_serve_tells_a_failed_refresh_and_a_refresh_token_near_its_end() {
    // Obtained 25 days ago (5 days left) and spent by another machine: the pass is refused.
    let registered = common::Registered::new(&[("acme", DAY * 25)]);
    let there = Workspace::new();
    there.register_issued("acme", &registered.sandbox, &registered.tokens[0], DAY * 25);
    registered.sandbox.advance((DAY * 25).as_secs());
    there.run(&["token", "acme"]).exits(0);
    // Past the access token the other machine got (Exact refuses a refresh before).
    registered.sandbox.advance(660);
    let ws = &registered.ws;
    let receiver = Receiver::start(&[]);
    let secret = create_webhook(ws, "ops", &receiver.url, "events refresh_failed, expiring");
    let server = common::serve::Server::start(ws, &["--keep-alive", "--keep-alive-at", "now"]);
    let got = receiver.wait_for(2, Duration::from_secs(30));
    drop(server);
    let mut types: Vec<String> = got
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap_or_default().to_string())
        .collect();
    types.sort();
    assert_eq!(types, ["expiring", "refresh_failed"], "{got:?}");
    for one in &got {
        assert_eq!(one.json()["connection"], "acme");
        assert!(verify(&secret, one.header("Preauth-Signature"), &one.body));
    }
}

#[test]
fn a_connection_down_to_its_reserve_is_told_as_budget_low_once_a_day() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = quick_workspace();
    let receiver = Receiver::start(&[]);
    let secret = create_webhook(&ws, "ops", &receiver.url, "events budget_low");
    let tokens = sandbox.issue_tokens(1);
    // Obtained just now: registering makes no token call.
    ws.register_issued("acme", &sandbox, &tokens[0], Duration::ZERO);
    // 5 calls a day and a reserve of 1: the 4th call reaches the reserve.
    ws.run_c(&format!(
        "alter app '{}' set token calls per day 5",
        common::DEMO_CLIENT_ID
    ))
    .exits(0);
    let mut ahead = 0u64;
    for call in 1..=5 {
        // Both clocks past the access token's 10 minutes: each `token` refreshes.
        sandbox.advance(600);
        ahead += 600;
        Outcome::of(
            ws.preauth()
                .env("PREAUTH_CLOCK_OFFSET_SECONDS", ahead.to_string())
                .args(["token", "acme"]),
        )
        .exits(0);
        if call < 4 {
            assert!(receiver.got().is_empty(), "call {call}: nothing yet");
        }
    }
    let got = receiver.wait_for(2, Duration::from_secs(3));
    assert_eq!(got.len(), 1, "told once: {got:?}");
    let event = got[0].json();
    assert_eq!(event["type"], "budget_low");
    assert_eq!(event["connection"], "acme");
    assert_eq!(event["platform"], "exact-online");
    let message = event["message"].as_str().expect("a message");
    assert!(message.contains("4 of its 5"), "{message}");
    // Signed at the clock of the command that delivered it (the 4th or the 5th).
    let signed = |ahead| {
        verify_ahead(
            &secret,
            got[0].header("Preauth-Signature"),
            &got[0].body,
            ahead,
        )
    };
    assert!(signed(ahead - 600) || signed(ahead), "{:?}", got[0]);
    for secret in [&tokens[0].access_token, &tokens[0].refresh_token] {
        assert!(!got[0].body.contains(secret.as_str()));
    }
}
