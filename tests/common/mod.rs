//! Shared helpers for the end-to-end tests: a private settings folder and device key per
//! test, the `preauth` binary with that environment, and a sandbox on 127.0.0.1.
#![allow(dead_code)] // each test binary uses a different subset

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
}

impl Workspace {
    /// A fresh workspace.
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("a temporary folder"),
        }
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
            .env_remove("BROWSER")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .current_dir(self.path());
        command
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
        assert!(url.starts_with("http://127.0.0.1:"), "unexpected first line {url:?}");
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

    /// The sandbox's counters as JSON.
    pub fn counters(&self) -> serde_json::Value {
        let (status, body) = http("GET", &format!("{}/sandbox/counters", self.url), None);
        assert_eq!(status, 200, "reading the sandbox counters failed");
        serde_json::from_str(&body).expect("counters are JSON")
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
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = std::net::TcpStream::connect(host).expect("the server answers");
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\nAccept: application/json\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("the request is sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("the answer is read");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
