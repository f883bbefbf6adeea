//! `preauth.exe` (x86_64-pc-windows-gnu) run under Wine as a Windows user would, against the
//! sandbox running natively on 127.0.0.1: the quick start in a folder with spaces and
//! non-ASCII letters, a sealed folder refused on another machine (another Wine prefix) and
//! after Linux sealed it, sixteen processes in the refresh window making exactly one refresh
//! (`LockFileEx`), and a key file that Everyone may read refused.
//!
//! `.ci/run` builds the exe and sets `PREAUTH_WINDOWS_EXE` to it; without that variable
//! these tests say so in one line and pass (a plain `cargo test` has no Windows build).
//! Each "machine" is a Wine prefix (`target/wine/a`, `target/wine/b`): its own registry
//! (`MachineGuid`), its own `%LOCALAPPDATA%` and its own DPAPI-protected host secret.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use common::{
    DEMO_CLIENT_SECRET, Outcome, SandboxProcess, WEB_REDIRECT, Workspace, demo_app,
    loopback_redirect, rfc3339,
};

/// A Windows machine: `preauth.exe` under Wine in one prefix.
struct Machine {
    exe: PathBuf,
    runner: PathBuf,
    prefix: PathBuf,
}

impl Machine {
    /// The machine of Wine prefix `name`, or `None` (after saying so) without a Windows build.
    fn new(name: &str) -> Option<Machine> {
        let Some(exe) = std::env::var_os("PREAUTH_WINDOWS_EXE").filter(|e| !e.is_empty()) else {
            eprintln!(
                "skipped: PREAUTH_WINDOWS_EXE is not set (.ci/run builds preauth.exe and sets it)"
            );
            return None;
        };
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        Some(Machine {
            exe: PathBuf::from(exe),
            runner: root.join(".ci/windows/wine-run"),
            prefix: target.join("wine").join(name),
        })
    }

    /// `preauth.exe ARGS` on this machine with the settings folder `settings`, the device key's
    /// own default folder (`%LOCALAPPDATA%\preauth` of this prefix), nothing inherited that
    /// could point elsewhere.
    fn preauth(&self, settings: &Path) -> Command {
        let mut command = Command::new(&self.runner);
        command
            .arg(&self.exe)
            .env("WINEPREFIX", &self.prefix)
            .env("PREAUTH_SETTINGS_DIR", windows_path(settings))
            .env_remove("DEVICEKEY_SECRET_DIR")
            .env_remove("PREAUTH_KEY_FILE")
            .env_remove("PREAUTH_STORE")
            .env_remove("PREAUTH_MACHINE")
            .env_remove("BROWSER")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        command
    }

    /// Gives this machine a device key of its own (as a machine that has sealed something):
    /// seals a throw-away value, which creates the host secret. Opening never creates one.
    fn with_own_device_key(self, scratch: &Path) -> Machine {
        self.run(scratch, &["-c", "encrypt value 'throw-away'"])
            .exits(0);
        self
    }

    /// Runs `preauth.exe ARGS` to its end (at most two minutes: Wine starts slowly).
    fn run(&self, settings: &Path, args: &[&str]) -> Outcome {
        Outcome::within(self.preauth(settings).args(args), Duration::from_secs(120))
    }
}

/// `path` as Wine's Windows programs see it: on drive Z:, which is `/`.
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

/// `examples/quickstart.sql` with its loopback redirect on a free port, written to `dir`.
fn quickstart_copy(dir: &Path) -> PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart.sql");
    let text = std::fs::read_to_string(example).expect("the quick start");
    let redirect = "http://127.0.0.1:53682/callback";
    assert!(
        text.contains(redirect),
        "the quick start moved its redirect"
    );
    let copy = dir.join("quick start.sql");
    std::fs::write(&copy, text.replace(redirect, &loopback_redirect())).expect("the copy");
    copy
}

#[test]
fn the_quick_start_runs_in_a_folder_with_spaces_and_non_ascii_letters_and_is_sealed_to_its_machine()
{
    let (Some(a), Some(b)) = (Machine::new("a"), Machine::new("b")) else {
        return;
    };
    let ws = Workspace::new();
    // Invantive's own folder of a user whose name has a space and non-ASCII letters.
    let settings = ws.path().join("Jürgen Ærø").join("invantive");
    let script = quickstart_copy(ws.path());
    let run = a.run(&settings, &["--sandbox", &windows_path(&script)]);
    run.exits(0)
        .says(&["connection 'demo' refreshed", "encrypted"])
        .keeps_secret(&[DEMO_CLIENT_SECRET]);
    let file = std::fs::read_to_string(settings.join("settings-demo.xml")).expect("written");
    assert!(
        file.contains("connectionString=\"dk1:"),
        "not sealed: {file}"
    );
    assert!(!file.contains(DEMO_CLIENT_SECRET));
    let leftovers: Vec<_> = std::fs::read_dir(&settings)
        .expect("the folder")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // The same machine reads it again (its DPAPI-protected host secret and MachineGuid)...
    a.run(&settings, &["-c", "show connection 'demo'"])
        .exits(0)
        .says(&["demo"]);
    // ... another machine cannot.
    let b = b.with_own_device_key(&ws.path().join("scratch"));
    let elsewhere = b.run(&settings, &["token", "demo"]);
    assert_ne!(elsewhere.code, 0, "{elsewhere:#?}");
    elsewhere.warns(&["encrypted on another device"]);
}

#[test]
fn a_folder_sealed_on_linux_is_refused_under_windows_as_sealed_on_another_device() {
    let Some(a) = Machine::new("a") else {
        return;
    };
    let ws = Workspace::new();
    let a = a.with_own_device_key(&ws.path().join("scratch"));
    let script = quickstart_copy(ws.path());
    ws.run(&["--sandbox", &script.display().to_string()])
        .exits(0)
        .says(&["connection 'demo' refreshed"]);
    let refused = a.run(&ws.settings(), &["token", "demo"]);
    assert_ne!(refused.code, 0, "{refused:#?}");
    refused
        .warns(&["encrypted on another device"])
        .keeps_secret(&[DEMO_CLIENT_SECRET]);
}

#[test]
fn sixteen_windows_processes_in_the_refresh_window_refresh_exactly_once() {
    let Some(a) = Machine::new("a") else {
        return;
    };
    let sandbox = SandboxProcess::start(&[]);
    let tokens = sandbox.issue_tokens(1).remove(0);
    let ws = Workspace::new();
    let settings = ws.settings();
    // 580 s into the access token's 600 s, on both sides: inside Exact's last 30 s.
    let obtained = rfc3339(SystemTime::now() - Duration::from_secs(580));
    a.run(
        &settings,
        &[
            "-c",
            &format!(
                "register connection 'acme-nl' platform exact {} access token '{}' \
                 refresh token '{}' obtained at '{obtained}'",
                demo_app(&sandbox.url, WEB_REDIRECT),
                tokens.access_token,
                tokens.refresh_token
            ),
        ],
    )
    .exits(0);
    sandbox.advance(580);
    let before = sandbox.counters();

    let children: Vec<_> = (0..16)
        .map(|_| {
            a.preauth(&settings)
                .args(["token", "acme-nl"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("preauth.exe starts")
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|child| child.wait_with_output().expect("preauth.exe ends"))
        .collect();
    let mut printed = BTreeSet::new();
    for out in &outputs {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a process failed: {stderr}");
        let stdout = String::from_utf8(out.stdout.clone()).expect("UTF-8");
        printed.insert(stdout.trim().to_string());
    }
    assert_eq!(printed.len(), 1, "different tokens: {printed:?}");
    assert!(!printed.contains(&tokens.access_token), "not refreshed");

    let after = sandbox.counters();
    let delta = |name: &str| after[name].as_u64().unwrap() - before[name].as_u64().unwrap();
    assert_eq!(delta("token_calls_refresh_token"), 1, "{after}");
    assert_eq!(after["spent_refresh_token_reuses"], 0, "{after}");
    assert_eq!(delta("token_errors"), 0, "{after}");
}

#[test]
fn a_key_file_everyone_may_read_is_refused_with_the_icacls_advice() {
    let Some(a) = Machine::new("a") else {
        return;
    };
    let ws = Workspace::new();
    let key = ws.write(
        "keys/preauth key",
        "q0L8c1lH7b9mV2xZkR4tN6pW3sY5uA8dE0fG2hJ4kL6=\n",
    );
    // Wine derives a file's access list from its Unix mode: 0644 reads as "Everyone may read".
    set_mode(&key, 0o644);
    let seal = |settings: &Path| {
        let mut command = a.preauth(settings);
        command
            .env("PREAUTH_KEY_FILE", windows_path(&key))
            .args(["-c", "encrypt value 'not for others'"]);
        Outcome::within(&mut command, Duration::from_secs(120))
    };
    let refused = seal(&ws.settings());
    refused
        .exits(1)
        .warns(&["can be read by other accounts", "S-1-1-0", "icacls"]);
    assert_eq!(refused.stdout, "");

    set_mode(&key, 0o600);
    let sealed = seal(&ws.settings());
    sealed.exits(0).keeps_secret(&["not for others"]);
    assert!(sealed.stdout.starts_with("dk1:"), "{sealed:#?}");
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The text between `<tag>` and `</tag>` in `examples/windows/<file>`.
fn example_element(file: &str, tag: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/windows")
        .join(file);
    let text = std::fs::read_to_string(path).expect("the example");
    let start = text.find(&format!("<{tag}>")).expect("the element") + tag.len() + 2;
    let end = text.find(&format!("</{tag}>")).expect("its end");
    text[start..end].to_string()
}

/// Splits a Windows command line's arguments (double quotes group, as the examples write them).
fn split_arguments(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let (mut word, mut quoted, mut any) = (String::new(), false, false);
    for c in line.chars() {
        match c {
            '"' => (quoted, any) = (!quoted, true),
            ' ' if !quoted => {
                if any {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => (word, any) = (word + &c.to_string(), true),
        }
    }
    if any {
        words.push(word);
    }
    words
}

#[test]
fn the_scheduled_tasks_and_the_service_of_examples_windows_run_as_written() {
    let Some(a) = Machine::new("a") else {
        return;
    };
    let ws = Workspace::new();
    let settings = ws.path().join("invantive");
    let keepalive = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/keepalive.sql");
    // The paths of the examples, moved into this test's folder.
    let local = |argument: &str| {
        argument
            .replace(r"%USERPROFILE%\invantive", &windows_path(&settings))
            .replace(r"C:\Users\svc-preauth\invantive", &windows_path(&settings))
            .replace(
                r"C:\ProgramData\preauth\keepalive.sql",
                &windows_path(&keepalive),
            )
    };
    let args = |line: &str| -> Vec<String> { split_arguments(&local(line)) };
    assert_eq!(
        example_element("preauth-keepalive.xml", "Command"),
        r"C:\Program Files\preauth\preauth.exe"
    );

    // The keep-alive task's arguments: on a folder without connections it has nothing to do.
    std::fs::create_dir_all(&settings).expect("the folder");
    let task = args(&example_element("preauth-keepalive.xml", "Arguments"));
    let task: Vec<&str> = task.iter().map(String::as_str).collect();
    a.run(&settings, &task).exits(0).says(&["OK"]);

    // The check task of install-tasks.cmd, as a monitoring agent runs it: exit code 0 (OK).
    let install = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/windows/install-tasks.cmd"),
    )
    .expect("install-tasks.cmd");
    assert!(
        install.contains(r#"--settings-dir \"%SETTINGS%\" check --warn-days 7 --critical-days 2"#)
    );
    a.run(
        &settings,
        &[
            "--settings-dir",
            &windows_path(&settings),
            "check",
            "--warn-days",
            "7",
            "--critical-days",
            "2",
        ],
    )
    .exits(0)
    .says(&["PREAUTH OK"]);

    // The service's arguments, on a free port: serve prints its URL first and serves.
    let port = common::free_port();
    let serve = args(&example_element("preauth-serve.xml", "arguments"))
        .into_iter()
        .map(|a| a.replace("127.0.0.1:8750", &format!("127.0.0.1:{port}")))
        .collect::<Vec<_>>();
    let mut child = a
        .preauth(&settings)
        .args(&serve)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("preauth.exe serve starts");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("the URL");
    assert_eq!(line.trim(), format!("http://127.0.0.1:{port}"));
    let (status, _) = common::http("GET", &format!("http://127.0.0.1:{port}/healthz"), None);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "/healthz of preauth.exe serve");
}
