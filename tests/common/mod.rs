//! Shared helpers for the end-to-end tests: a private settings folder and device key per
//! test, the `preauth` binary with that environment, and a sandbox on 127.0.0.1.
#![allow(dead_code)] // each test binary uses a different subset

pub mod browser;
pub mod serve;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use assert_cmd::cargo::CommandCargoExt;
use tempfile::TempDir;

/// The demo app of the sandbox (see `preauth_sandbox::App::demo`).
pub const DEMO_CLIENT_ID: &str = "{b81cc4de-d192-400e-bcb4-09254394c52a}";
/// The demo app's client secret.
pub const DEMO_CLIENT_SECRET: &str = "sandbox-demo-secret";

/// A settings folder and a device-key folder of one test, removed when dropped.
pub struct Workspace {
    dir: TempDir,
    /// Variables every `preauth` of this workspace gets (a shared store, a machine name).
    env: Vec<(String, String)>,
}

impl Workspace {
    /// A fresh workspace.
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("a temporary folder"),
            env: Vec::new(),
        }
    }

    /// The same workspace, running every `preauth` with `name=value` in its environment.
    pub fn with_env(mut self, name: &str, value: &str) -> Workspace {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// The settings folder (created by preauth on first use).
    pub fn settings(&self) -> PathBuf {
        self.dir.path().join("settings")
    }

    /// The device key's host-secret folder.
    pub fn key_dir(&self) -> PathBuf {
        self.dir.path().join("key")
    }

    /// The temporary folder itself, for scripts and other files.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `preauth` with this workspace's settings folder and device key, nothing inherited
    /// that could point elsewhere.
    pub fn preauth(&self) -> Command {
        let mut command = Command::cargo_bin("preauth").expect("the preauth binary");
        command
            .env("PREAUTH_SETTINGS_DIR", self.settings())
            .env("DEVICEKEY_SECRET_DIR", self.key_dir())
            .env_remove("PREAUTH_KEY_FILE")
            .env_remove("PREAUTH_STORE")
            .env_remove("PREAUTH_MACHINE")
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("BROWSER")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .current_dir(self.path());
        command.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command
    }

    /// Gives this workspace a device key of its own (as on another machine that has sealed
    /// something): seals a throw-away value, which creates the host secret. Opening only
    /// never creates one.
    pub fn with_own_device_key(self) -> Workspace {
        self.run_c("encrypt value 'throw-away';").exits(0);
        assert!(self.key_dir().join("host.secret").is_file());
        self
    }

    /// The text of `settings-<name>.xml`.
    pub fn settings_file(&self, name: &str) -> String {
        std::fs::read_to_string(self.settings().join(format!("settings-{name}.xml")))
            .expect("the settings file")
    }
}

/// A `preauth sandbox` process on a free port of 127.0.0.1, stopped when dropped.
pub struct SandboxProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl SandboxProcess {
    /// Starts `preauth sandbox` with extra arguments and waits for its base URL.
    pub fn start(args: &[&str]) -> SandboxProcess {
        let mut child = Command::cargo_bin("preauth")
            .expect("the preauth binary")
            .arg("sandbox")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("preauth sandbox starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the sandbox prints its base URL");
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "unexpected first line {url:?}"
        );
        SandboxProcess { child, url }
    }

    /// Moves the sandbox's virtual clock forward.
    pub fn advance(&self, seconds: u64) {
        let (status, _) = http(
            "POST",
            &format!("{}/sandbox/clock/advance?seconds={seconds}", self.url),
            None,
        );
        assert_eq!(status, 200, "advancing the sandbox clock failed");
    }

    /// Queues `fault` (JSON such as `{"fault": "delay", "millis": 250}`) for the
    /// sandbox's next token request.
    pub fn fault(&self, fault: &str) {
        let url = format!("{}/sandbox/faults", self.url);
        let (status, body) = send("POST", &url, "Content-Type: application/json\r\n", fault);
        assert!(
            (200..300).contains(&status),
            "queueing {fault} failed: {status} {body}"
        );
    }

    /// The sandbox's counters as JSON.
    pub fn counters(&self) -> serde_json::Value {
        let (status, body) = http("GET", &format!("{}/sandbox/counters", self.url), None);
        assert_eq!(status, 200, "reading the sandbox counters failed");
        serde_json::from_str(&body).expect("counters are JSON")
    }

    /// How many refreshes (`grant_type=refresh_token` calls) the sandbox has answered.
    pub fn refresh_calls(&self) -> u64 {
        self.counters()["token_calls_refresh_token"]
            .as_u64()
            .expect("the refresh counter")
    }

    /// `preauthenticate` of the demo app as connection `name` in `ws`, through a loopback
    /// redirect, with `preauth sandbox --approve` as the browser.
    pub fn log_in(&self, ws: &Workspace, name: &str) -> Outcome {
        Outcome::of(ws.preauth().env("BROWSER", Self::browser()).args([
            "-c",
            &preauthenticate(&self.url, &loopback_redirect(), name),
        ]))
    }

    /// The command that logs in on this sandbox as a scripted browser (for `BROWSER`).
    pub fn browser() -> String {
        let exe = assert_cmd::cargo::cargo_bin("preauth");
        format!("{} sandbox --approve", exe.display())
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1 (for loopback redirect URLs).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A minimal HTTP/1.1 request to a loopback URL (`http://127.0.0.1:PORT/path`), with an
/// optional bearer token; returns the status and the body.
pub fn http(method: &str, url: &str, bearer: Option<&str>) -> (u16, String) {
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\nAccept: application/json\r\n"))
        .unwrap_or_default();
    send(method, url, &auth, "")
}

/// One HTTP/1.1 request to a loopback `url` with `headers` (each ending in CRLF) and
/// `body`; the status and the body.
pub fn send(method: &str, url: &str, headers: &str, body: &str) -> (u16, String) {
    let answer = exchange(method, url, headers, body);
    (answer.status, answer.body)
}

/// An HTTP answer: status, headers (names in lower case) and body.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Each header line, name in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Answer {
    /// The first value of header `name` (lower case), or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request to a loopback `url` with `headers` (each ending in CRLF) and
/// `body`; the whole answer.
pub fn exchange(method: &str, url: &str, headers: &str, body: &str) -> Answer {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = std::net::TcpStream::connect(host).expect("the server answers");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("the request is sent");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("the answer is read");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// What one `preauth` run did: its exit code and both outputs as text.
#[derive(Debug)]
pub struct Outcome {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Outcome {
    /// Runs `command` to its end like [`Outcome::of`], but kills it and fails the test
    /// after `limit`: a hang is the defect some tests guard against (and a login whose
    /// browser failed would wait minutes for its listener). Both outputs are read while
    /// it runs, so a long output cannot stall it.
    pub fn within(command: &mut Command, limit: std::time::Duration) -> Outcome {
        use std::io::Read;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("preauth starts");
        let read_all = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let stdout = read_all(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = read_all(Box::new(child.stderr.take().expect("piped stderr")));
        let deadline = std::time::Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().expect("preauth is waited for") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "preauth did not finish within {limit:?}; stderr: {}",
                    stderr.join().unwrap_or_default()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        Outcome {
            code: status.code().expect("preauth exits, no signal"),
            stdout: stdout.join().expect("stdout is read"),
            stderr: stderr.join().expect("stderr is read"),
        }
    }

    /// Runs `command` to its end.
    pub fn of(command: &mut Command) -> Outcome {
        let out = command.output().expect("preauth runs");
        Outcome {
            code: out.status.code().expect("preauth exits, no signal"),
            stdout: String::from_utf8(out.stdout).expect("UTF-8 on stdout"),
            stderr: String::from_utf8(out.stderr).expect("UTF-8 on stderr"),
        }
    }

    /// Asserts the exit code.
    #[track_caller]
    pub fn exits(&self, code: i32) -> &Outcome {
        assert_eq!(self.code, code, "unexpected exit code: {self:#?}");
        self
    }

    /// Asserts that standard output holds every one of `needles`.
    #[track_caller]
    pub fn says(&self, needles: &[&str]) -> &Outcome {
        for needle in needles {
            assert!(
                self.stdout.contains(needle),
                "{needle:?} not on stdout: {self:#?}"
            );
        }
        self
    }

    /// Asserts that standard error holds every one of `needles`.
    #[track_caller]
    pub fn warns(&self, needles: &[&str]) -> &Outcome {
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "{needle:?} not on stderr: {self:#?}"
            );
        }
        self
    }

    /// Asserts that neither output holds any of `secrets` (reported without the secret).
    #[track_caller]
    pub fn keeps_secret(&self, secrets: &[&str]) -> &Outcome {
        for (i, secret) in secrets.iter().enumerate() {
            assert!(!secret.is_empty(), "secret #{i} is empty");
            assert!(!self.stdout.contains(secret), "secret #{i} on stdout");
            assert!(!self.stderr.contains(secret), "secret #{i} on stderr");
        }
        self
    }
}

impl Workspace {
    /// Runs `preauth ARGS` in this workspace.
    pub fn run(&self, args: &[&str]) -> Outcome {
        Outcome::of(self.preauth().args(args))
    }

    /// Runs `preauth -c STATEMENTS` in this workspace.
    pub fn run_c(&self, statements: &str) -> Outcome {
        self.run(&["-c", statements])
    }

    /// Writes `settings-<name>.xml` into the settings folder by hand, as an Invantive user
    /// would: one Exact Online connection `name` whose `connectionString` attribute is
    /// `stored` (plain `key=value;…` or a sealed value).
    pub fn write_settings(&self, name: &str, stored: &str) -> PathBuf {
        self.write(
            &format!("settings/settings-{name}.xml"),
            &format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
                 <settings version=\"5\" forcedefault=\"false\">\n  <group name=\"Exact Online\">\n    \
                 <connection name=\"{name}\">\n      <database order=\"10\" provider=\"ExactOnlineAll\" \
                 connectionString=\"{stored}\"/>\n    </connection>\n  </group>\n</settings>\n"
            ),
        )
    }

    /// Enrolls this machine in the shared store of `enrolled` (an enrolled machine of it),
    /// with a code that `enrolled` makes.
    pub fn enroll_by(&self, enrolled: &Workspace) {
        let made = enrolled.run_c("enroll machine");
        let code = made.exits(0).stdout.trim().to_string();
        self.run_c(&format!("enroll machine with code '{code}'"))
            .exits(0);
    }

    /// Writes a file (a script, settings to import) into the workspace; returns its path.
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("the file's folder");
        }
        std::fs::write(&path, text).expect("the file is written");
        path
    }

    /// Adds Exact Online connections `names`, without tokens, to this workspace's store
    /// by `import settings` of one hand-written file (so that either store gets them the
    /// same way, in one transaction).
    pub fn import_without_tokens(&self, names: &[&str]) {
        let connections: String = names
            .iter()
            .map(|name| {
                format!(
                    "<connection name=\"{name}\"><database order=\"10\" provider=\"ExactOnlineAll\" \
                     connectionString=\"api-url=https://start.exactonline.nl;api-client-id=id;\
                     api-client-secret=secret;api-redirect-url=https://app.example/cb\"/></connection>\n"
                )
            })
            .collect();
        let file = self.write(
            "to-import/settings-many.xml",
            &format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings version=\"5\">\
                 <group name=\"Exact Online\">\n{connections}</group></settings>\n"
            ),
        );
        self.run_c(&format!("import settings '{}'", file.display()))
            .exits(0);
    }

    /// Every file of the settings folder with its bytes, sorted (empty when it is absent).
    pub fn settings_snapshot(&self) -> Vec<(String, Vec<u8>)> {
        let Ok(entries) = std::fs::read_dir(self.settings()) else {
            return Vec::new();
        };
        let mut files: Vec<(String, Vec<u8>)> = entries
            .map(|e| e.expect("a folder entry").path())
            .map(|p| {
                let bytes = std::fs::read(&p).unwrap_or_default();
                (
                    p.file_name().unwrap_or_default().to_string_lossy().into(),
                    bytes,
                )
            })
            .collect();
        files.sort();
        files
    }
}

/// The demo app's options for `preauthenticate` / `register`, against the platform at
/// `api_url` with `redirect` as its redirect URL.
pub fn demo_app(api_url: &str, redirect: &str) -> String {
    format!(
        "api url '{api_url}' client id '{DEMO_CLIENT_ID}' client secret '{DEMO_CLIENT_SECRET}' \
         redirect url '{redirect}'"
    )
}

/// `preauthenticate exact` of the demo app as connection `name`.
pub fn preauthenticate(api_url: &str, redirect: &str, name: &str) -> String {
    format!(
        "preauthenticate exact {} as connection '{name}';",
        demo_app(api_url, redirect)
    )
}

/// A loopback redirect URL on a free port, as the sandbox's demo app accepts.
pub fn loopback_redirect() -> String {
    format!("http://127.0.0.1:{}/callback", free_port())
}

/// The demo app's web redirect URL (not loopback: the return URL is pasted).
pub const WEB_REDIRECT: &str = "https://example.invalid/callback";

/// The value of `key` in a plain connection string inside exported settings XML.
pub fn connection_string_value(xml: &str, key: &str) -> String {
    let start = xml
        .find(&format!("{key}="))
        .unwrap_or_else(|| panic!("{key} not in the export"))
        + key.len()
        + 1;
    let rest = xml.get(start..).unwrap_or_default();
    let end = rest.find([';', '"']).unwrap_or(rest.len());
    rest.get(..end).unwrap_or_default().to_string()
}

/// `preauth sandbox --approve URL` in its own process: logs in as the demo user and
/// returns what it printed (the return URL when it is not a loopback one).
pub fn approve(authorization_url: &str) -> Outcome {
    Outcome::of(
        Command::cargo_bin("preauth")
            .expect("the preauth binary")
            .args(["sandbox", "--approve", authorization_url]),
    )
}

/// The authorization URL `preauthenticate` printed on standard error.
pub fn authorization_url(stderr: &str) -> String {
    stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("http://") && l.contains("state="))
        .unwrap_or_else(|| panic!("no authorization URL in {stderr:?}"))
        .to_string()
}

/// An access token and a refresh token that the sandbox issued to the demo app after a
/// real login, so that the sandbox accepts (and counts) them.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    /// The access token.
    pub access_token: String,
    /// The refresh token.
    pub refresh_token: String,
}

impl SandboxProcess {
    /// Logs in `count` times as the demo user (`preauthenticate` in batch in a scratch
    /// workspace, with the scripted browser) and returns the tokens the sandbox issued,
    /// read back with `export settings … plain`.
    pub fn issue_tokens(&self, count: usize) -> Vec<IssuedTokens> {
        let scratch = Workspace::new();
        let script: String = (0..count)
            .map(|i| {
                format!(
                    "{}\nexport settings 'issued-{i}' plain;\n",
                    preauthenticate(&self.url, &loopback_redirect(), &format!("issued-{i}"))
                )
            })
            .collect();
        let outcome = Outcome::of(
            scratch
                .preauth()
                .env("BROWSER", Self::browser())
                .args(["-c", &script]),
        );
        outcome.exits(0);
        let tokens: Vec<IssuedTokens> = outcome
            .stdout
            .split("</settings>")
            .filter(|xml| xml.contains("connectionString="))
            .map(|xml| IssuedTokens {
                access_token: connection_string_value(xml, "api-access-token"),
                refresh_token: connection_string_value(xml, "api-refresh-token"),
            })
            .collect();
        assert_eq!(tokens.len(), count, "one exported file per login");
        tokens
    }
}

impl Workspace {
    /// Registers `tokens` as connection `name` on `sandbox` (the OEM statement), saying
    /// they were obtained `age` ago by this machine's clock (in whole seconds); returns
    /// that time as stored.
    pub fn register_issued(
        &self,
        name: &str,
        sandbox: &SandboxProcess,
        tokens: &IssuedTokens,
        age: std::time::Duration,
    ) -> std::time::SystemTime {
        let obtained = rfc3339(std::time::SystemTime::now() - age);
        self.run_c(&format!(
            "register connection '{name}' platform exact {} \
             access token '{}' refresh token '{}' obtained at '{obtained}'",
            demo_app(&sandbox.url, WEB_REDIRECT),
            tokens.access_token,
            tokens.refresh_token
        ))
        .exits(0);
        humantime::parse_rfc3339(&obtained).expect("an RFC 3339 time")
    }
}

/// A sandbox, and a workspace with connections registered from tokens that sandbox issued.
pub struct Registered {
    /// The sandbox.
    pub sandbox: SandboxProcess,
    /// The workspace.
    pub ws: Workspace,
    /// Each connection's tokens, in the order asked for.
    pub tokens: Vec<IssuedTokens>,
    /// When each connection's tokens were obtained, as stored.
    pub obtained: Vec<std::time::SystemTime>,
}

impl Registered {
    /// One connection per `(name, age)`, obtained `age` ago.
    pub fn new(connections: &[(&str, std::time::Duration)]) -> Registered {
        let sandbox = SandboxProcess::start(&[]);
        let ws = Workspace::new();
        let tokens = sandbox.issue_tokens(connections.len());
        let obtained = connections
            .iter()
            .zip(&tokens)
            .map(|((name, age), issued)| ws.register_issued(name, &sandbox, issued, *age))
            .collect();
        Registered {
            sandbox,
            ws,
            tokens,
            obtained,
        }
    }

    /// `acme-gone`, obtained 8 days ago, whose refresh token another machine spent
    /// first (so that its own refresh is refused and recorded), beside a healthy
    /// `acme-ok` obtained a day ago.
    pub fn with_a_spent_connection() -> Registered {
        const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
        let registered = Registered::new(&[("acme-gone", DAY * 8), ("acme-ok", DAY)]);
        let there = Workspace::new();
        there.register_issued(
            "acme-gone",
            &registered.sandbox,
            &registered.tokens[0],
            DAY * 8,
        );
        registered.sandbox.advance((DAY * 8).as_secs());
        there.run(&["token", "acme-gone"]).exits(0);
        registered
            .ws
            .run_c("refresh connection 'acme-gone' force")
            .exits(1);
        registered
    }
}

/// `2026-11-20T10:00:00Z` (whole seconds, as `obtained at` takes it).
pub fn rfc3339(at: std::time::SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The calendar day of `at`, as `2026-12-01`.
pub fn day(at: std::time::SystemTime) -> String {
    rfc3339(at)[..10].to_string()
}

/// One day.
pub const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

impl Workspace {
    /// Runs `preauth ARGS` with no input and standard output discarded (what benchmarks
    /// time); panics unless it succeeds.
    pub fn run_quietly<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) {
        let status = self
            .preauth()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("preauth runs");
        assert!(status.success(), "preauth failed: {status}");
    }
}

/// systemd's own verdict (`systemd-analyze verify`) on the unit files `names` of
/// `examples/systemd/`, with `/usr/local/bin/preauth` pointing at the binary under test;
/// only one line when systemd-analyze is not installed.
pub fn systemd_verify(names: &[&str]) {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze is not installed; the unit files were only read");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let binary = assert_cmd::cargo::cargo_bin("preauth");
    let mut paths = Vec::new();
    for name in names {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/systemd")
            .join(name);
        let text = std::fs::read_to_string(&source)
            .expect(name)
            .replace("/usr/local/bin/preauth", &binary.display().to_string());
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        paths.push(path);
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&paths)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    assert!(stderr.trim().is_empty(), "systemd-analyze verify: {stderr}");
}

/// The statements an error message suggests: in backticks (the script language's advice)
/// and in `preauth -c "…"` command lines (a shell user's), unescaped.
pub fn suggested(text: &str) -> Vec<String> {
    let mut found: Vec<String> = text
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    // A shell user is advised `preauth -c "…"` command lines: the statement, unescaped.
    for (_, rest) in text
        .match_indices("preauth -c \"")
        .map(|(at, _)| text.split_at(at))
    {
        let quoted = &rest["preauth -c \"".len()..];
        let mut statement = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => statement.extend(chars.next()),
                '"' => break,
                c => statement.push(c),
            }
        }
        found.push(statement);
    }
    found
}
