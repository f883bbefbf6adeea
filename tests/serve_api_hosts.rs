//! Where a connection may send its requests: a key of scope register cannot point one at
//! a host of its choosing (server-side request forgery), no route stores an unusable
//! `api_url`, and a platform's answer that cannot be read reaches the server's log,
//! never the caller.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::serve::{Keys, Server};
use common::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, WEB_REDIRECT, Workspace};
use serde_json::json;

/// What an internal service behind the server would answer.
const PANEL: &str = "<html>INTERNAL ADMIN PANEL secret=42</html>";

/// A listener on 127.0.0.1 standing for a service inside the operator's network: it
/// answers every request with [`PANEL`] and keeps each request's first line.
struct Internal {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Internal {
    fn start() -> Internal {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = vec![0; 4096];
                let read = stream.read(&mut head).unwrap_or(0);
                let text = String::from_utf8_lossy(&head[..read]).to_string();
                kept.lock()
                    .unwrap()
                    .push(text.lines().next().unwrap_or_default().to_string());
                let _ = write!(
                    stream,
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{PANEL}",
                    PANEL.len()
                );
            }
        });
        Internal { port, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// A registration of connection `name` whose `api_url` is `api_url`, with tokens obtained
/// two hours ago (so that the token route refreshes).
fn registration(name: &str, api_url: &str) -> String {
    json!({
        "name": name,
        "platform": "exact",
        "api_url": api_url,
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "redirect_url": WEB_REDIRECT,
        "access_token": "AT-handed-over",
        "refresh_token": "RT-handed-over",
        "obtained_at": common::rfc3339(SystemTime::now() - Duration::from_secs(7200)),
    })
    .to_string()
}

#[test]
fn a_register_key_cannot_point_a_connection_at_a_host_of_its_choosing() {
    let internal = Internal::start();
    let ws = Workspace::new();
    let keys = Keys::create(&ws);
    let mut server = Server::start_strict(&ws, &[]);
    let register = |body: &str| {
        server.call(
            "POST",
            "/api/v1/connections",
            Some(&keys.register),
            Some(body),
        )
    };

    let probe = format!("http://127.0.0.1:{}/internal", internal.port);
    let (status, answer) = register(&registration("probe", &probe));
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"], "api_host_not_allowed", "{answer}");
    assert_eq!(answer["field"], "api_url", "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("--allow-api-host 127.0.0.1:{}", internal.port)),
        "{message}"
    );
    for unusable in ["javascript:alert(1)", "http://10.0.0.1:80"] {
        let (status, answer) = register(&registration("probe", unusable));
        assert_eq!(status, 422, "{unusable}: {answer}");
        assert_eq!(answer["error"], "invalid", "{unusable}: {answer}");
        assert_eq!(answer["field"], "api_url", "{unusable}: {answer}");
    }

    // Nothing was stored, so there is nothing to refresh, and nothing reached the listener.
    let (status, listed) = server.call("GET", "/api/v1/connections", Some(&keys.admin), None);
    assert_eq!(status, 200);
    assert_eq!(listed["connections"], json!([]), "{listed}");
    let (status, _) = server.call(
        "POST",
        "/api/v1/connections/probe/token",
        Some(&keys.token),
        None,
    );
    assert_eq!(status, 404);
    assert!(internal.seen().is_empty(), "{:?}", internal.seen());
    server
        .stop()
        .keeps_secret(&["AT-handed-over", "RT-handed-over", DEMO_CLIENT_SECRET]);
}

#[test]
fn an_opted_in_hosts_answer_reaches_the_log_and_never_the_caller() {
    let internal = Internal::start();
    let ws = Workspace::new();
    let keys = Keys::create(&ws);
    let allowed = format!("127.0.0.1:{}", internal.port);
    let mut server = Server::start_strict(&ws, &["--allow-api-host", &allowed]);
    let api_url = format!("http://{allowed}/internal");
    let (status, answer) = server.call(
        "POST",
        "/api/v1/connections",
        Some(&keys.register),
        Some(&registration("opted-in", &api_url)),
    );
    assert_eq!(status, 201, "{answer}");

    let (status, answer) = server.call(
        "POST",
        "/api/v1/connections/opted-in/token",
        Some(&keys.token),
        None,
    );
    assert_eq!(status, 502, "{answer}");
    assert_eq!(answer["error"], "platform_unavailable", "{answer}");
    let text = answer.to_string();
    assert!(
        !text.contains("INTERNAL") && !text.contains("secret=42"),
        "{text}"
    );
    assert!(text.contains("server's log"), "{text}");
    assert_eq!(
        internal.seen(),
        ["POST /internal/api/oauth2/token HTTP/1.1"],
        "the refresh went to the opted-in host"
    );
    let logged = server.wait_for_stderr(0, "began:");
    assert!(logged.contains("INTERNAL ADMIN PANEL"), "{logged}");
    server
        .stop()
        .keeps_secret(&["AT-handed-over", "RT-handed-over", DEMO_CLIENT_SECRET]);
}

#[test]
fn statements_store_no_unusable_api_url() {
    let ws = Workspace::new();
    ws.import_without_tokens(&["kept"]);
    let before = ws.settings_snapshot();
    for api_url in [
        "javascript:alert(1)",
        "http://10.0.0.1:80",
        "ftp://127.0.0.1/",
    ] {
        let registered = ws.run_c(&format!(
            "register connection 'new' platform exact api url '{api_url}' \
             client id '{DEMO_CLIENT_ID}' client secret '{DEMO_CLIENT_SECRET}' \
             redirect url '{WEB_REDIRECT}' access token 'AT-typed' refresh token 'RT-typed'"
        ));
        assert_eq!(registered.code, 1, "{registered:?}");
        assert!(
            registered.stderr.contains("is not usable"),
            "{}",
            registered.stderr
        );
        registered.keeps_secret(&["AT-typed", "RT-typed", DEMO_CLIENT_SECRET]);
        let altered = ws.run_c(&format!("alter connection 'kept' set api url '{api_url}'"));
        assert_eq!(altered.code, 1, "{altered:?}");
        assert!(
            altered.stderr.contains("is not usable"),
            "{}",
            altered.stderr
        );
    }
    assert_eq!(ws.settings_snapshot(), before, "nothing changed on disk");
}
