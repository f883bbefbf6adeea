//! End-to-end interop with a real, independently written OpenID Connect provider: panva's
//! `oidc-provider` (OpenID Certified), installed from npm into `tests/oidc-provider/` on
//! first use and started by each test on a free port of 127.0.0.1
//! (`tests/oidc-provider/provider.mjs`). It is configured strictly: `offline_access` only
//! with consent, rotating single-use refresh tokens whose replay revokes the grant, PKCE
//! required, each client held to the authentication method it registered. A scripted
//! browser (`tests/oidc-provider/browser.mjs`, preauth's `BROWSER`) logs in as a person
//! would and only ever contacts 127.0.0.1.
//!
//! Without Node.js and npm, or when the install fails, the tests pass without running and
//! one `skipped: …` line says why, unless `PREAUTH_REQUIRE_COMPONENTS` is set (CI sets it):
//! then they fail.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::Duration;

use common::{
    Outcome, Workspace, authorization_url, connection_string_value, free_port, loopback_redirect,
    send,
};
use serde_json::Value;

/// A client that `provider.mjs` registers (the same id, secret and method there). The
/// secrets hold characters that HTTP Basic must form-encode (RFC 6749 §2.3.1).
struct Client {
    id: &'static str,
    secret: &'static str,
    /// How it authenticates, as `create platform … client authentication` says it.
    auth: &'static str,
}

/// Registered for `client_secret_basic`.
const BASIC: Client = Client {
    id: "interop-basic",
    secret: "basic secret/with+special%chars&=",
    auth: "basic",
};

/// Registered for `client_secret_post`.
const POST: Client = Client {
    id: "interop-post",
    secret: "post secret/with+special%chars&=",
    auth: "body",
};

/// The web redirect URL both clients registered: the paste route (nothing contacts it).
const PASTE_REDIRECT: &str = "https://app.example.invalid/callback";

/// The longest a `preauth` run or a login may take here.
const LIMIT: Duration = Duration::from_secs(60);

/// The folder of `provider.mjs`, `browser.mjs` and their npm package.
fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider")
}

/// Whether a missing provider fails the test instead of skipping it.
fn required() -> bool {
    std::env::var_os("PREAUTH_REQUIRE_COMPONENTS").is_some_and(|v| !v.is_empty())
}

/// Node.js on `PATH` with the provider's package installed (once per test binary), or
/// why not.
fn node_ready() -> Result<(), &'static str> {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    READY
        .get_or_init(|| {
            let version = Command::new("node")
                .arg("--version")
                .output()
                .map_err(|e| format!("Node.js is not installed (`node --version`: {e})"))?;
            let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
            let major: u32 = version
                .trim_start_matches('v')
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            if major < 18 {
                return Err(format!(
                    "oidc-provider needs Node.js 18 or later, found {version:?}"
                ));
            }
            let dir = package_dir();
            let pinned = json_at(&dir.join("package.json"), "/dependencies/oidc-provider");
            let installed = json_at(
                &dir.join("node_modules/oidc-provider/package.json"),
                "/version",
            );
            if installed.is_none() || installed != pinned {
                install(&dir)?;
            }
            Ok(())
        })
        .as_ref()
        .map(|_| ())
        .map_err(String::as_str)
}

/// The string at `pointer` in the JSON file `path`, if there is one.
fn json_at(path: &Path, pointer: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let json: Value = serde_json::from_str(&text).ok()?;
    json.pointer(pointer)?.as_str().map(str::to_string)
}

/// `npm ci` of the provider's locked packages into a private folder beside
/// `node_modules`, then one rename (after removing an outdated install): another test
/// process never sees half an install, and the one that loses the race keeps the
/// winner's.
fn install(dir: &Path) -> Result<(), String> {
    let staging = tempfile::Builder::new()
        .prefix(".install-")
        .tempdir_in(dir)
        .map_err(|e| format!("no folder to install oidc-provider in: {e}"))?;
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(dir.join(file), staging.path().join(file))
            .map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    let npm = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(staging.path())
        .output()
        .map_err(|e| format!("npm is not installed (`npm ci`: {e})"))?;
    if !npm.status.success() {
        let stderr = String::from_utf8_lossy(&npm.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        return Err(format!(
            "`npm ci` of oidc-provider failed ({}): {}",
            npm.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ));
    }
    let target = dir.join("node_modules");
    let _ = std::fs::remove_dir_all(&target);
    match std::fs::rename(staging.path().join("node_modules"), &target) {
        Ok(()) => Ok(()),
        Err(_) if target.join("oidc-provider/package.json").is_file() => Ok(()),
        Err(e) => Err(format!("cannot move node_modules into place: {e}")),
    }
}

/// `provider.mjs` on a free port of 127.0.0.1, stopped when dropped (and on its own when
/// this process dies: it exits when its standard input closes). Its standard error (the
/// provider's warnings) is shown when a test fails.
struct Provider {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    issuer: String,
    log: tempfile::NamedTempFile,
}

impl Provider {
    /// Starts the provider with `args` after the port (see provider.mjs) and waits for
    /// its ready line; tries another port when the free one was taken meanwhile.
    fn start(args: &[&str]) -> Provider {
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = std::iter::repeat_with(free_port)
                .find(|&p| p != 53682)
                .expect("a free port");
            let log = tempfile::NamedTempFile::new().expect("a log file");
            let mut child = Command::new("node")
                .arg(package_dir().join("provider.mjs"))
                .arg(port.to_string())
                .args(args)
                .current_dir(package_dir())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(log.reopen().expect("the log file"))
                .spawn()
                .expect("node starts");
            let mut ready = String::new();
            let stdout = child.stdout.take().expect("piped stdout");
            let _ = BufReader::new(stdout).read_line(&mut ready);
            let issuer = format!("http://127.0.0.1:{port}");
            if ready.trim() == issuer {
                return Provider { child, issuer, log };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(log.path()).unwrap_or_default();
        }
        panic!("provider.mjs did not start: {last_log}");
    }

    /// The provider's counters: `grants` (successful, per grant type), `refused_grants`
    /// and `wrong_client_auth_method`.
    fn counters(&self) -> Value {
        let (status, body) = common::http("GET", &format!("{}/test/counters", self.issuer), None);
        assert_eq!(status, 200, "the provider's counters: {body}");
        serde_json::from_str(&body).expect("counters are JSON")
    }

    /// How many grants of `grant_type` the provider answered with tokens.
    fn grants(&self, grant_type: &str) -> u64 {
        self.counters()["grants"][grant_type]
            .as_u64()
            .unwrap_or_default()
    }

    /// A form POST to `path` authenticated as `client` by its registered method; the
    /// status and the JSON answer.
    fn post(&self, path: &str, client: &Client, fields: &[(&str, &str)]) -> (u16, Value) {
        let mut fields: Vec<(&str, &str)> = fields.to_vec();
        let mut headers = String::new();
        if client.auth == "basic" {
            let credentials = format!("{}:{}", form_encode(client.id), form_encode(client.secret));
            headers = format!(
                "Authorization: Basic {}\r\n",
                base64(credentials.as_bytes())
            );
        } else {
            fields.extend([("client_id", client.id), ("client_secret", client.secret)]);
        }
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect();
        let (status, answer): (u16, String) = send(
            "POST",
            &format!("{}{path}", self.issuer),
            &format!("{headers}Content-Type: application/x-www-form-urlencoded\r\n"),
            &body.join("&"),
        );
        let json = serde_json::from_str(&answer)
            .unwrap_or_else(|_| panic!("not JSON from {path} (HTTP {status}): {answer}"));
        (status, json)
    }

    /// The provider's introspection (RFC 7662) of `token`, asked by `client`.
    fn introspect(&self, client: &Client, token: &str) -> Value {
        let (status, answer) = self.post("/token/introspection", client, &[("token", token)]);
        assert_eq!(status, 200, "introspection failed: {answer}");
        answer
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.log.path()).unwrap_or_default();
            eprintln!("provider.mjs said:\n{log}");
        }
    }
}

/// The scripted browser as a `BROWSER` command (preauth splits it at blanks).
fn browser() -> String {
    let script = package_dir().join("browser.mjs").display().to_string();
    assert!(
        !script.contains(char::is_whitespace),
        "the checkout's path has a blank, which BROWSER cannot hold: {script}"
    );
    format!("node {script}")
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Standard base64 with padding (for an HTTP Basic header).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// How a test defines platform `op`.
enum Definition {
    /// From the provider's discovery metadata alone: `create platform 'op' from issuer '…'`.
    Discovered,
    /// From discovery, with options written after it (which override what it found).
    DiscoveredWith(&'static str),
    /// Written out by hand, without discovery, authenticating as the client registered.
    Explicit,
}

/// One test's world: a provider, a workspace with platform `op` on it, and the client
/// the test logs in as.
struct Interop {
    op: Provider,
    ws: Workspace,
    client: &'static Client,
}

impl Interop {
    /// Starts a provider and defines platform `op`; `None` after printing why the test
    /// is skipped.
    fn start(client: &'static Client, definition: Definition) -> Option<Interop> {
        Interop::start_with(&[], client, definition)
    }

    /// The same, with `provider_args` for provider.mjs after the port.
    fn start_with(
        provider_args: &[&str],
        client: &'static Client,
        definition: Definition,
    ) -> Option<Interop> {
        if let Err(why) = node_ready() {
            assert!(!required(), "PREAUTH_REQUIRE_COMPONENTS is set, but {why}");
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| println!("skipped: {why}"));
            return None;
        }
        let interop = Interop {
            op: Provider::start(provider_args),
            ws: Workspace::new(),
            client,
        };
        let issuer = &interop.op.issuer;
        let statement = match definition {
            Definition::Discovered => format!("create platform 'op' from issuer '{issuer}';"),
            Definition::DiscoveredWith(options) => {
                format!("create platform 'op' from issuer '{issuer}' {options};")
            }
            Definition::Explicit => format!(
                "create platform 'op' authorize url '{issuer}/auth' token url '{issuer}/token' \
                 issuer '{issuer}' client authentication {} scope 'openid offline_access' pkce on;",
                client.auth
            ),
        };
        interop.run_c(&statement).exits(0);
        Some(interop)
    }

    /// `preauth ARGS` in the workspace, with the scripted browser as `BROWSER`.
    fn run(&self, args: &[&str]) -> Outcome {
        Outcome::within(
            self.ws.preauth().env("BROWSER", browser()).args(args),
            LIMIT,
        )
    }

    /// `preauth -c STATEMENTS`.
    fn run_c(&self, statements: &str) -> Outcome {
        self.run(&["-c", statements])
    }

    /// Logs in on `op` as connection `name` with `redirect` as the redirect URL; a
    /// loopback one finishes through preauth's listener, a web one prints the URL to
    /// finish with.
    fn login(&self, name: &str, redirect: &str) -> Outcome {
        let Client { id, secret, .. } = self.client;
        let outcome = self.run_c(&format!(
            "preauthenticate op client id '{id}' client secret '{secret}' \
             redirect url '{redirect}' as connection '{name}';"
        ));
        outcome.keeps_secret(&[secret]);
        outcome
    }

    /// Logs in as `name` through the loopback listener and asserts that it worked.
    fn logged_in(&self, name: &str) -> Outcome {
        let login = self.login(name, &loopback_redirect());
        login.exits(0);
        login
    }

    /// The access token and refresh token stored for `name` (`export settings … plain`).
    fn stored_tokens(&self, name: &str) -> (String, String) {
        let export = self.run_c(&format!("export settings '{name}' plain;"));
        export.exits(0);
        (
            connection_string_value(&export.stdout, "api-access-token"),
            connection_string_value(&export.stdout, "api-refresh-token"),
        )
    }

    /// Forces a refresh of `name`; the refresh tokens before and after.
    fn rotate(&self, name: &str) -> (String, String) {
        let (_, before) = self.stored_tokens(name);
        self.run_c(&format!("refresh connection '{name}' force;"))
            .exits(0)
            .says(&["refreshed"])
            .keeps_secret(&[&before, self.client.secret]);
        let (_, after) = self.stored_tokens(name);
        (before, after)
    }
}

/// The value of `property` in `show platform`'s table.
fn property(table: &str, property: &str) -> String {
    table
        .lines()
        .find_map(|l| l.strip_prefix(property))
        .unwrap_or_else(|| panic!("no {property:?} in {table}"))
        .trim()
        .to_string()
}

#[test]
fn discovery_defines_the_platform_from_the_providers_metadata() {
    // Discovery cannot tell that refresh tokens rotate: the statement says so.
    let rotating = Definition::DiscoveredWith("refresh tokens rotating");
    let Some(it) = Interop::start(&BASIC, rotating) else {
        return;
    };
    let shown = it.run_c("show platform 'op'");
    shown.exits(0);
    let issuer = &it.op.issuer;
    let table = &shown.stdout;
    assert_eq!(property(table, "issuer"), *issuer);
    assert_eq!(
        property(table, "authorization endpoint"),
        format!("{issuer}/auth")
    );
    assert_eq!(property(table, "token endpoint"), format!("{issuer}/token"));
    // The provider offers basic first; S256 only; both scopes; RFC 9207 iss promised.
    assert_eq!(property(table, "client authentication"), "basic");
    assert_eq!(property(table, "pkce"), "yes");
    assert_eq!(property(table, "scopes"), "openid offline_access");
    assert_eq!(
        property(table, "authorization parameters"),
        "prompt=consent"
    );
    assert_eq!(property(table, "return URL must carry iss"), "yes");
    assert_eq!(property(table, "refresh tokens"), "single use");
}

#[test]
fn a_login_through_the_loopback_listener_with_basic_authentication() {
    let Some(it) = Interop::start(&BASIC, Definition::Discovered) else {
        return;
    };
    let login = it.logged_in("loop");
    let url = authorization_url(&login.stderr);
    for sent in ["prompt=consent", "code_challenge_method=S256", "nonce="] {
        assert!(url.contains(sent), "{sent} missing from {url}");
    }
    assert_eq!(it.op.grants("authorization_code"), 1);
    assert_eq!(it.op.counters()["wrong_client_auth_method"], 0);
    // Consent was given, so the provider issued a refresh token, and the access token the
    // provider gave is the one stored.
    let (access, refresh) = it.stored_tokens("loop");
    assert!(!refresh.is_empty(), "no refresh token stored");
    assert_eq!(it.op.introspect(&BASIC, &access)["active"], true);
    it.run(&["check"]).exits(0).says(&["OK"]);
}

#[test]
fn a_login_through_the_paste_route_with_body_authentication() {
    let Some(it) = Interop::start(&POST, Definition::Explicit) else {
        return;
    };
    let started = it.login("web", PASTE_REDIRECT);
    started
        .exits(1)
        .warns(&["exchange code url '<that whole address>'"]);
    // The person logs in in a browser that lands on the web redirect URL (never contacted).
    let browser = Outcome::of(
        Command::new("node")
            .arg(package_dir().join("browser.mjs"))
            .arg(authorization_url(&started.stderr)),
    );
    browser.exits(0);
    let back = browser.stdout.trim();
    assert!(
        back.starts_with(&format!("{PASTE_REDIRECT}?code=")),
        "not a return URL: {back}"
    );
    assert!(
        back.contains("iss=http%3A%2F%2F127.0.0.1%3A"),
        "no RFC 9207 iss: {back}"
    );
    assert_eq!(it.op.grants("authorization_code"), 0, "not exchanged yet");
    it.run_c(&format!("exchange code url '{back}' for connection 'web';"))
        .exits(0)
        .keeps_secret(&[POST.secret]);
    assert_eq!(it.op.grants("authorization_code"), 1);
    assert_eq!(it.op.counters()["wrong_client_auth_method"], 0);
    it.run(&["check"]).exits(0).says(&["OK"]);
}

#[test]
fn preauth_token_prints_an_access_token_the_provider_says_is_active() {
    let Some(it) = Interop::start(&BASIC, Definition::Discovered) else {
        return;
    };
    it.logged_in("tok");
    let (_, refresh) = it.stored_tokens("tok");
    let first = it.run(&["token", "tok"]);
    first.exits(0).keeps_secret(&[&refresh, BASIC.secret]);
    let token = first.stdout.trim();
    let introspection = it.op.introspect(&BASIC, token);
    assert_eq!(introspection["active"], true, "{introspection}");
    assert_eq!(introspection["client_id"], BASIC.id);
    assert_eq!(introspection["sub"], "alice");
    // The login's 30-second token was inside the 60-second refresh window, so that call
    // refreshed once; the refreshed token lives an hour and is handed out as it is.
    assert_eq!(it.op.grants("refresh_token"), 1);
    it.run(&["token", "tok"]).exits(0).says(&[token]);
    assert_eq!(it.op.grants("refresh_token"), 1);
}

#[test]
fn a_forced_refresh_rotates_the_refresh_token() {
    let Some(it) = Interop::start(
        &POST,
        Definition::DiscoveredWith("client authentication body"),
    ) else {
        return;
    };
    it.logged_in("rot");
    let (old, new) = it.rotate("rot");
    assert_ne!(old, new, "the provider's new refresh token was not stored");
    assert_eq!(it.op.grants("refresh_token"), 1);
    assert_eq!(
        it.op.introspect(&POST, &old)["active"],
        false,
        "old one spent"
    );
    assert_eq!(it.op.introspect(&POST, &new)["active"], true);
    // The next forced refresh spends the stored one: the chain goes on.
    let (again, newest) = it.rotate("rot");
    assert_eq!(again, new);
    assert_ne!(newest, new);
    assert_eq!(it.op.grants("refresh_token"), 2);
    it.run(&["check"]).exits(0).says(&["OK"]);
}

#[test]
fn a_replayed_refresh_token_is_refused_and_preauth_never_sends_the_dead_one_again() {
    // Refreshed access tokens live 30 s here, so that the stored one is always due.
    let Some(it) = Interop::start_with(
        &["30"],
        &POST,
        Definition::DiscoveredWith("client authentication body"),
    ) else {
        return;
    };
    it.logged_in("replay");
    let (old, _) = it.rotate("replay");
    // Someone replays the spent refresh token: refused, and the provider's replay
    // detection revokes the whole grant, the chain preauth holds included.
    let (status, answer) = it.op.post(
        "/token",
        &POST,
        &[("grant_type", "refresh_token"), ("refresh_token", &old)],
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let refused = || it.op.counters()["refused_grants"].clone();
    assert_eq!(refused()[0]["detail"], "refresh token already used");
    // preauth's next refresh is refused for good, with the provider's reason; it is
    // recorded and the check reports it.
    it.run_c("refresh connection 'replay' force")
        .exits(1)
        .warns(&["'replay'", "invalid_grant", "grant request is invalid"]);
    assert_eq!(refused().as_array().map(Vec::len), Some(2));
    it.run(&["check"]).exits(2).says(&["CRITICAL", "replay"]);
    // The stored access token is due, yet neither a token request nor a refresh that is
    // not forced sends the dead refresh token again.
    it.run(&["token", "replay"])
        .exits(1)
        .warns(&["grant request is invalid"]);
    it.run_c("refresh connection 'replay'").exits(1);
    assert_eq!(refused().as_array().map(Vec::len), Some(2), "sent again");
    assert_eq!(it.op.grants("refresh_token"), 1);
}

#[test]
fn eight_concurrent_token_requests_in_the_refresh_window_refresh_once() {
    let Some(it) = Interop::start(&BASIC, Definition::Discovered) else {
        return;
    };
    it.logged_in("many");
    let (from_login, _) = it.stored_tokens("many");
    let it = Arc::new(it);
    let start = Arc::new(Barrier::new(8));
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let (it, start) = (Arc::clone(&it), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                it.run(&["token", "many"])
            })
        })
        .collect();
    let outcomes: Vec<Outcome> = runs.into_iter().map(|r| r.join().expect("a run")).collect();
    for outcome in &outcomes {
        outcome.exits(0);
    }
    let token = outcomes[0].stdout.trim();
    assert!(
        outcomes.iter().all(|o| o.stdout.trim() == token),
        "different tokens: {outcomes:#?}"
    );
    assert_ne!(
        token, from_login,
        "the login's token was inside the refresh window"
    );
    assert_eq!(it.op.grants("refresh_token"), 1, "{}", it.op.counters());
    assert_eq!(it.op.counters()["refused_grants"], serde_json::json!([]));
    assert_eq!(it.op.introspect(&BASIC, token)["active"], true);
}

#[test]
fn a_client_authenticating_by_another_method_than_it_registered_is_refused_with_the_providers_reason()
 {
    // BASIC registered client_secret_basic; the platform sends the secret in the body.
    let Some(it) = Interop::start(
        &BASIC,
        Definition::DiscoveredWith("client authentication body"),
    ) else {
        return;
    };
    // The provider's own error_description reaches the person.
    it.login("wrong", &loopback_redirect()).exits(1).warns(&[
        "'wrong'",
        "client authentication failed: client 'interop-basic' is registered for \
         client_secret_basic, not client_secret_post",
    ]);
    assert_eq!(it.op.counters()["wrong_client_auth_method"], 1);
    assert_eq!(it.op.grants("authorization_code"), 0);
}

#[test]
fn offline_access_without_consent_yields_no_refresh_token_and_preauth_says_so() {
    // An explicit prompt replaces preauth's prompt=consent: the provider then drops
    // offline_access (OpenID Connect Core §11) and issues no refresh token.
    let Some(it) = Interop::start(&BASIC, Definition::DiscoveredWith("prompt 'login'")) else {
        return;
    };
    it.login("short", &loopback_redirect())
        .exits(1)
        .warns(&["issued no refresh token for 'short'", "offline_access"]);
    assert_eq!(it.op.grants("authorization_code"), 1);
    it.run(&["check"])
        .exits(2)
        .says(&["CRITICAL", "no refresh token"]);
}
