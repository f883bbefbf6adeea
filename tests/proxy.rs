//! Proxy variables: token requests to loopback (the sandbox, plain HTTP) never go through a
//! proxy, whatever `http_proxy`, `HTTP_PROXY` or `ALL_PROXY` say, since the proxy would read
//! the refresh token and client secret; requests to other hosts still use the proxy.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use common::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Outcome, WEB_REDIRECT, Workspace, loopback_redirect,
    preauthenticate, rfc3339,
};

/// A "proxy" on a free port of 127.0.0.1 that records the request line of every connection
/// and answers 502, so that a client using it fails at once.
struct RecordingProxy {
    /// `http://127.0.0.1:PORT`.
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RecordingProxy {
    fn start() -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, stop) = (Arc::clone(&requests), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((stream, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                    let mut line = String::new();
                    let mut reader = BufReader::new(&stream);
                    let _ = reader.read_line(&mut line);
                    requests
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(format!("connection: {}", line.trim_end()));
                    let _ = (&stream).write_all(
                        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            })
        };
        RecordingProxy {
            url,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// The request lines received so far, one per connection.
    fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `command` with every proxy variable pointing at `proxy` and no exception configured.
fn behind(proxy: &RecordingProxy, command: &mut Command) -> Outcome {
    for name in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        command.env(name, &proxy.url);
    }
    for name in ["no_proxy", "NO_PROXY", "REQUEST_METHOD"] {
        command.env_remove(name);
    }
    Outcome::of(command)
}

#[test]
fn loopback_token_requests_never_go_through_the_proxy() {
    let proxy = RecordingProxy::start();
    let ws = Workspace::new();
    // A code exchange and a refresh against the embedded sandbox on 127.0.0.1.
    let script = format!(
        "{}\nadvance sandbox clock by 10 minutes;\nrefresh connection 'proxied';",
        preauthenticate("${SANDBOX_URL}", &loopback_redirect(), "proxied")
    );
    let run = behind(&proxy, ws.preauth().args(["--sandbox", "-c", &script]));
    run.exits(0)
        .says(&[
            "connection 'proxied' authorized",
            "connection 'proxied' refreshed",
        ])
        .keeps_secret(&[DEMO_CLIENT_SECRET]);
    assert_eq!(proxy.requests(), Vec::<String>::new(), "the proxy was used");
}

#[test]
fn other_platform_hosts_still_use_the_https_proxy() {
    let proxy = RecordingProxy::start();
    let ws = Workspace::new();
    // A plain connection on an https platform URL whose access token has expired, so that
    // `preauth token` refreshes it.
    let obtained = SystemTime::now() - Duration::from_secs(3600);
    let issued = rfc3339(obtained);
    let expired = rfc3339(obtained + Duration::from_secs(600));
    let refresh_token = "proxy-test-refresh-token";
    ws.write(
        "settings/settings-remote.xml",
        &format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
             <settings version=\"5\" forcedefault=\"false\">\n  <group name=\"Exact Online\">\n    \
             <connection name=\"remote\">\n      <database order=\"10\" provider=\"ExactOnlineAll\" \
             connectionString=\"api-url=https://start.exactonline.invalid;api-client-id={DEMO_CLIENT_ID};\
             api-client-secret={DEMO_CLIENT_SECRET};api-redirect-url={WEB_REDIRECT};\
             api-access-token=proxy-test-access-token;api-access-token-issued={issued};\
             api-access-token-expires={expired};api-refresh-token={refresh_token};\
             api-refresh-token-issued={issued}\"/>\n    </connection>\n  </group>\n</settings>\n"
        ),
    );
    let run = behind(&proxy, ws.preauth().args(["token", "remote"]));
    run.exits(1)
        .keeps_secret(&[DEMO_CLIENT_SECRET, refresh_token]);
    assert_eq!(run.stdout, "");
    // Tunnelled: the proxy sees the host, never the request.
    let requests = proxy.requests();
    assert!(
        !requests.is_empty()
            && requests
                .iter()
                .all(|r| r == "connection: CONNECT start.exactonline.invalid:443 HTTP/1.1"),
        "{requests:?} {run:#?}"
    );
}
