//! `preauth serve` as a child process, for the tests of its API.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Outcome, Workspace};

/// A `preauth serve` process; its outputs are collected until it stops.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, or `https://…` when started with `--tls-cert`.
    pub url: String,
    /// The one-time login URL of the web pages (the second line it prints).
    pub login: String,
    stdout: Option<JoinHandle<String>>,
    /// Standard error so far, line by line.
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
}

impl Server {
    /// `preauth serve --listen 127.0.0.1:0 --allow-api-host 127.0.0.1 ARGS` in `ws` (ARGS
    /// may add `--tls-cert` and `--tls-key`), once it prints its URL: connections
    /// registered through its API may point at a sandbox on this machine.
    pub fn start(ws: &Workspace, args: &[&str]) -> Server {
        let mut all = vec!["--allow-api-host", "127.0.0.1"];
        all.extend_from_slice(args);
        Server::start_on(ws, "127.0.0.1:0", &all)
    }

    /// `preauth serve --listen 127.0.0.1:0 ARGS` in `ws`: through its API, connections
    /// may name only the platforms' own hosts unless ARGS say otherwise.
    pub fn start_strict(ws: &Workspace, args: &[&str]) -> Server {
        Server::start_on(ws, "127.0.0.1:0", args)
    }

    /// `preauth serve --listen LISTEN ARGS` in `ws` on a loopback `listen` (`[::1]:0`),
    /// once it prints its URL.
    pub fn start_on(ws: &Workspace, listen: &str, args: &[&str]) -> Server {
        let mut child = ws
            .preauth()
            .args(["serve", "--listen", listen])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("preauth serve starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the URL is printed");
        let url = line.trim().to_string();
        assert!(
            ["http://127.0.0.1:", "https://127.0.0.1:", "http://[::1]:"]
                .iter()
                .any(|start| url.starts_with(start)),
            "first line {url:?}"
        );
        line.clear();
        stdout
            .read_line(&mut line)
            .expect("the login URL is printed");
        let login = line.trim().to_string();
        assert!(login.contains("/login?token="), "second line {login:?}");
        let drain = |mut from: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = from.read_to_string(&mut text);
                text
            })
        };
        let stderr = Arc::new(Mutex::new(String::new()));
        let lines = BufReader::new(child.stderr.take().expect("piped stderr"));
        let collected = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                let mut text = collected.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Server {
            url,
            login,
            stdout: Some(drain(Box::new(stdout))),
            stderr,
            stderr_reader: Some(stderr_reader),
            child,
        }
    }

    /// Sends it `signal` (`libc::SIGHUP`).
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on the id of a child this test started and has not reaped.
        unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
    }

    /// Waits until its standard error has `needle` on a line after the first `skip`
    /// lines; that line. Panics after 30 seconds.
    pub fn wait_for_stderr(&self, skip: usize, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.stderr.lock().unwrap().clone();
            if let Some(line) = text.lines().skip(skip).find(|l| l.contains(needle)) {
                return line.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?} on standard error:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The number of lines on its standard error so far.
    pub fn stderr_lines(&self) -> usize {
        self.stderr.lock().unwrap().lines().count()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `method path` with `key` as bearer and `body` as JSON; the status and the body
    /// as JSON (`Null` when empty or not JSON).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut headers = String::new();
        if let Some(key) = key {
            headers += &format!("Authorization: Bearer {key}\r\n");
        }
        if body.is_some() {
            headers += "Content-Type: application/json\r\n";
        }
        let (status, text) = super::send(
            method,
            &format!("{}{path}", self.url),
            &headers,
            body.unwrap_or(""),
        );
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Stops it with SIGTERM; its exit code and everything it printed.
    pub fn stop(&mut self) -> Outcome {
        self.signal(libc::SIGTERM);
        let status = self.child.wait().expect("preauth serve ends");
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().unwrap();
        }
        Outcome {
            code: status.code().unwrap_or(-1),
            stdout: format!("{}\n{}\n", self.url, self.login)
                + &self
                    .stdout
                    .take()
                    .map(|t| t.join().unwrap())
                    .unwrap_or_default(),
            stderr: self.stderr.lock().unwrap().clone(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates an API key in `ws` with a statement; the key printed.
pub fn api_key(ws: &Workspace, name: &str, scope: &str) -> String {
    let outcome = ws.run_c(&format!("create api key '{name}' scope {scope}"));
    outcome.exits(0);
    outcome.stdout.trim().to_string()
}

/// The three keys of a test: admin, register, token.
pub struct Keys {
    /// Scope admin.
    pub admin: String,
    /// Scope register.
    pub register: String,
    /// Scope token.
    pub token: String,
}

impl Keys {
    /// Creates the three keys in `ws`.
    pub fn create(ws: &Workspace) -> Keys {
        Keys {
            admin: api_key(ws, "admin", "admin"),
            register: api_key(ws, "partner", "register"),
            token: api_key(ws, "jobs", "token"),
        }
    }

    /// The three keys.
    pub fn all(&self) -> [&str; 3] {
        [&self.admin, &self.register, &self.token]
    }
}

/// Asks for the access token of `connection` at every `(server URL, key)` at once (one
/// thread each); the tokens handed out, after asserting that each answer is 200.
pub fn tokens_at_once(connection: &str, askers: &[(&str, &str)]) -> Vec<String> {
    let requests: Vec<(String, String)> = askers
        .iter()
        .map(|(url, key)| {
            (
                format!("{url}/api/v1/connections/{connection}/token"),
                format!("Authorization: Bearer {key}\r\n"),
            )
        })
        .collect();
    std::thread::scope(|scope| {
        let calls: Vec<_> = requests
            .iter()
            .map(|(url, header)| scope.spawn(move || super::send("POST", url, header, "")))
            .collect();
        calls
            .into_iter()
            .map(|call| {
                let (status, body) = call.join().expect("a call");
                assert_eq!(status, 200, "{body}");
                let body: Value = serde_json::from_str(&body).expect("JSON");
                body["access_token"].as_str().expect("a token").to_string()
            })
            .collect()
    })
}

/// A client of the web pages without a browser: it keeps the cookies it is given (the
/// session's, the one that ties a login to this browser), as a browser would.
pub struct Pages {
    base: String,
    /// Each cookie as `name=value`.
    cookies: Vec<String>,
    /// `X-Forwarded-For` sent with every request, as a reverse proxy in front would.
    forwarded_for: Option<String>,
}

impl Server {
    /// A client of the pages, logged in with the one-time login URL.
    pub fn pages(&self) -> Pages {
        let mut pages = self.visitor();
        let answer = pages.get(self.login_path());
        assert_eq!(answer.status, 303, "the login URL logs in: {answer:?}");
        assert!(
            pages.cookie("preauth_session").is_some(),
            "the login sets the session cookie"
        );
        pages
    }

    /// The path (and query) of the login URL, on this server's own address.
    pub fn login_path(&self) -> &str {
        let at = self.login.find("/login?").expect("a login URL");
        &self.login[at..]
    }

    /// A client of the pages that has not logged in.
    pub fn visitor(&self) -> Pages {
        Pages {
            base: self.url.clone(),
            cookies: Vec::new(),
            forwarded_for: None,
        }
    }
}

impl Pages {
    /// Sends `X-Forwarded-For: chain` from now on (a reverse proxy in front).
    pub fn forward_for(&mut self, chain: &str) {
        self.forwarded_for = Some(chain.to_string());
    }

    /// `GET path`.
    pub fn get(&mut self, path: &str) -> super::Answer {
        self.request("GET", path, "")
    }

    /// `POST path` of a form with `fields` (the CSRF token is one of them when the test
    /// wants it sent).
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> super::Answer {
        let body: String = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.request("POST", path, &body)
    }

    /// The CSRF token in a page's forms.
    pub fn csrf(page: &super::Answer) -> String {
        let at = page
            .body
            .find(r#"name="csrf" value=""#)
            .unwrap_or_else(|| panic!("no CSRF field in {}", page.body))
            + r#"name="csrf" value=""#.len();
        page.body[at..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// The value of cookie `name`, when it holds one.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    }

    fn request(&mut self, method: &str, path: &str, body: &str) -> super::Answer {
        let mut headers = String::new();
        if !self.cookies.is_empty() {
            headers += &format!("Cookie: {}\r\n", self.cookies.join("; "));
        }
        if method == "POST" {
            headers += "Content-Type: application/x-www-form-urlencoded\r\n";
        }
        if let Some(chain) = &self.forwarded_for {
            headers += &format!("X-Forwarded-For: {chain}\r\n");
        }
        let answer = super::exchange(method, &format!("{}{path}", self.base), &headers, body);
        for (_, set) in answer.headers.iter().filter(|(n, _)| n == "set-cookie") {
            let pair = set.split(';').next().unwrap_or_default().trim();
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            self.cookies
                .retain(|kept| kept.split_once('=').is_none_or(|(n, _)| n != name));
            if !value.is_empty() {
                self.cookies.push(pair.to_string());
            }
        }
        answer
    }
}

/// `text` percent-encoded for a form body.
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Connections `page-1` … `page-5` and `other`, without tokens, in `ws`'s store.
pub fn add_paging_connections(ws: &Workspace) {
    ws.import_without_tokens(&["page-1", "page-2", "page-3", "page-4", "page-5", "other"]);
}

/// Pages through `GET /api/v1/connections` of `server` (holding the connections of
/// [`add_paging_connections`]) with `admin`: every page as asked, the total, the next
/// page's `after`, a search, and a bad limit named.
pub fn pages_through_the_api(server: &Server, admin: &str) {
    let names = |body: &serde_json::Value| -> Vec<String> {
        body["connections"]
            .as_array()
            .expect("an array")
            .iter()
            .map(|c| c["name"].as_str().expect("a name").to_string())
            .collect()
    };
    let get = |query: &str| {
        let (status, body) = server.call(
            "GET",
            &format!("/api/v1/connections{query}"),
            Some(admin),
            None,
        );
        assert_eq!(status, 200, "{body}");
        body
    };
    let first = get("?limit=2");
    assert_eq!(names(&first), ["other", "page-1"]);
    assert_eq!(first["total"], 6);
    assert_eq!(first["next"], "page-1");
    let second = get("?limit=2&after=page-1");
    assert_eq!(names(&second), ["page-2", "page-3"]);
    let last = get("?limit=2&after=page-3");
    assert_eq!(names(&last), ["page-4", "page-5"]);
    assert!(last["next"].is_null(), "{last}");
    let found = get("?q=PAGE&limit=3");
    assert_eq!(names(&found), ["page-1", "page-2", "page-3"]);
    assert_eq!(found["total"], 5, "the search's total");
    assert_eq!(names(&get("")).len(), 6, "no limit: up to 1,000");
    let (status, body) = server.call("GET", "/api/v1/connections?limit=0", Some(admin), None);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "invalid");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("limit:")),
        "{body}"
    );
}

/// The connections page of `server` (holding the connections of
/// [`add_paging_connections`]), searched and paged as a person would.
pub fn pages_through_the_connections_page(server: &Server) {
    let mut pages = server.pages();
    let found = pages.get("/connections?q=PAGE");
    assert_eq!(found.status, 200, "{found:?}");
    assert!(
        found
            .body
            .contains("Showing 5 of 5 connections whose names contain it")
    );
    assert!(found.body.contains("page-5") && !found.body.contains(">other<"));
    let all = pages.get("/connections");
    assert!(
        all.body.contains("Showing 6 of 6 connections"),
        "{}",
        all.body
    );
    assert!(!all.body.contains("Next page"), "one page holds them all");
    let none = pages.get("/connections?q=nosuch");
    assert!(none.body.contains("No connection's name contains that."));
    // A hand-edited query shows the first page rather than an error.
    assert_eq!(pages.get("/connections?limit=zero").status, 200);
}
