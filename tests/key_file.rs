//! `--key-file` / `PREAUTH_KEY_FILE`: connections sealed with a secret file the platform mounts
//! open on any machine or container given the same file (no host secret, no machine-id
//! needed), and nowhere else; every refusal is one sentence that names the file or the option,
//! changes nothing on disk and never shows the key.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    DEMO_CLIENT_SECRET, Outcome, SandboxProcess, WEB_REDIRECT, Workspace, connection_string_value,
    demo_app, loopback_redirect, preauthenticate, rfc3339,
};

/// A key file as `head -c 32 /dev/urandom | base64` writes it (without the newline).
const KEY: &str = "v4Jq9kP1xT7nZ2cR8bW5mL0sD3fH6gY1aE9uQ4oI2tM=";
/// Another key of the same shape.
const OTHER_KEY: &str = "Xq3Lr8Vb1Nm6Tz0Wc5Hy2Pk7Js4Gd9Fa1Eu8Oi3Rt6M=";
/// How a sealed value starts when a key file sealed it: the header bytes 1, 3, 1.
const KEY_FILE_ENVELOPE: &str = "dk1:AQMB";

/// Writes a key file with `mode`; returns its path.
fn write_key(dir: &Path, name: &str, contents: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("the key file's folder");
    }
    std::fs::write(&path, contents).expect("the key file is written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

/// `preauth --key-file KEY ARGS` in `ws`.
fn with_key(ws: &Workspace, key: &Path, args: &[&str]) -> Outcome {
    Outcome::of(ws.preauth().arg("--key-file").arg(key).args(args))
}

/// Copies the files of the settings folder `from` into a new folder `to`, as a backup or a
/// shared volume would carry them to another machine.
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("the folder");
    for entry in std::fs::read_dir(from).expect("the folder is read") {
        let path = entry.expect("an entry").path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().expect("a name"))).expect("copied");
        }
    }
}

/// Asserts `outcome` failed with exit 1, nothing on standard output and one line on standard
/// error holding every one of `needles`, without any of `secrets`.
#[track_caller]
fn fails_with_one_sentence(outcome: &Outcome, needles: &[&str], secrets: &[&str]) {
    outcome.exits(1).keeps_secret(secrets).warns(needles);
    assert_eq!(outcome.stdout, "", "{outcome:#?}");
    assert_eq!(outcome.stderr.lines().count(), 1, "{outcome:#?}");
}

/// The statement that registers the demo app's tokens as connection `name`.
fn register(sandbox: &SandboxProcess, name: &str, access: &str, refresh: &str) -> String {
    format!(
        "register connection '{name}' platform exact {} access token '{access}' \
         refresh token '{refresh}' obtained at '{}'",
        demo_app(&sandbox.url, WEB_REDIRECT),
        rfc3339(std::time::SystemTime::now())
    )
}

#[test]
fn a_folder_sealed_with_a_key_file_opens_on_another_machine_given_the_same_file() {
    let sandbox = SandboxProcess::start(&[]);
    let ws = Workspace::new();
    // Written with echo: the newline is not part of the key.
    let key = write_key(ws.path(), "preauth.key", &format!("{KEY}\n"), 0o600);

    let login = Outcome::of(
        ws.preauth()
            .env("BROWSER", SandboxProcess::browser())
            .arg("--key-file")
            .arg(&key)
            .args([
                "-c",
                &preauthenticate(&sandbox.url, &loopback_redirect(), "acme-nl"),
            ]),
    );
    login.exits(0).keeps_secret(&[KEY, DEMO_CLIENT_SECRET]);
    let stored = ws.settings_file("acme-nl");
    assert!(
        stored.contains(&format!("connectionString=\"{KEY_FILE_ENVELOPE}")),
        "not sealed with the key file: {stored}"
    );
    assert!(
        !ws.key_dir().exists(),
        "a key file needs no host secret, yet one was made"
    );
    let export = with_key(&ws, &key, &["-c", "export settings 'acme-nl' plain"]);
    export.exits(0);
    let access_token = connection_string_value(&export.stdout, "api-access-token");
    let refresh_token = connection_string_value(&export.stdout, "api-refresh-token");
    let secrets = [KEY, DEMO_CLIENT_SECRET, refresh_token.as_str()];

    // Another machine: its own device-key folder (empty), the folder copied over, the same
    // secret mounted at another path, written without a newline.
    let other = Workspace::new();
    copy_folder(&ws.settings(), &other.settings());
    let mounted = write_key(other.path(), "run/secrets/preauth", KEY, 0o400);
    let token = with_key(&other, &mounted, &["token", "acme-nl"]);
    token.exits(0).keeps_secret(&secrets);
    assert_eq!(token.stdout, format!("{access_token}\n"));

    // A refresh there seals the new tokens with the key file again. By the copied record
    // the access token lives ten more minutes, before which Exact refuses a refresh and
    // preauth sends none; so the sandbox's clock moves to its end, and the tokens are
    // handed over again as obtained then, which the refresh of `verify` proves.
    sandbox.advance(600);
    let ten_minutes_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
    let handed_over = format!(
        "drop connection 'acme-nl'; register connection 'acme-nl' platform exact {} \
         access token '{access_token}' refresh token '{refresh_token}' obtained at '{}' verify",
        demo_app(&sandbox.url, WEB_REDIRECT),
        rfc3339(ten_minutes_ago)
    );
    with_key(&other, &mounted, &["-c", &handed_over])
        .exits(0)
        .warns(&["a refresh succeeded"])
        .keeps_secret(&secrets);
    let refreshed = with_key(&other, &mounted, &["token", "acme-nl"]);
    refreshed.exits(0).keeps_secret(&secrets);
    assert_ne!(refreshed.stdout, token.stdout, "no refresh happened");
    assert!(
        other
            .settings_file("acme-nl")
            .contains(&format!("connectionString=\"{KEY_FILE_ENVELOPE}"))
    );
    assert!(!other.key_dir().exists(), "a host secret was made");
    let secrets = [KEY, DEMO_CLIENT_SECRET];
    let before = other.settings_snapshot();

    // Without the key file: one sentence naming the option; nothing made, nothing changed.
    let without = other.run(&["token", "acme-nl"]);
    fails_with_one_sentence(
        &without,
        &[
            "sealed with a key file",
            "--key-file FILE",
            "PREAUTH_KEY_FILE",
        ],
        &secrets,
    );
    assert!(!other.key_dir().exists(), "a host secret was made");
    let check = other.run(&["check"]);
    check.exits(2).keeps_secret(&secrets).says(&["--key-file"]);

    // A wrong key file: one sentence naming it; nothing changed, not even by the keep-alive.
    let wrong = write_key(other.path(), "wrong.key", OTHER_KEY, 0o600);
    let wrong_token = with_key(&other, &wrong, &["token", "acme-nl"]);
    let wrong_name = wrong.display().to_string();
    fails_with_one_sentence(
        &wrong_token,
        &["another key file than", &wrong_name],
        &[KEY, OTHER_KEY, DEMO_CLIENT_SECRET],
    );
    let keepalive = with_key(&other, &wrong, &["-c", "refresh all connections"]);
    keepalive
        .exits(1)
        .keeps_secret(&[KEY, OTHER_KEY, DEMO_CLIENT_SECRET]);
    assert_eq!(other.settings_snapshot(), before, "the settings changed");

    // The right file still opens it.
    with_key(&other, &mounted, &["token", "acme-nl"]).exits(0);
}

#[test]
fn preauth_key_file_works_as_the_flag_does_and_the_flag_wins() {
    let sandbox = SandboxProcess::start(&[]);
    let tokens = sandbox.issue_tokens(1);
    let ws = Workspace::new();
    let key = write_key(ws.path(), "fleet.key", KEY, 0o600);
    let wrong = write_key(ws.path(), "wrong.key", OTHER_KEY, 0o600);
    let secrets = [KEY, OTHER_KEY, DEMO_CLIENT_SECRET, &tokens[0].refresh_token];
    let statement = register(
        &sandbox,
        "acme-nl",
        &tokens[0].access_token,
        &tokens[0].refresh_token,
    );

    let registered = Outcome::of(
        ws.preauth()
            .env("PREAUTH_KEY_FILE", &key)
            .args(["-c", &statement]),
    );
    registered.exits(0).keeps_secret(&secrets);
    assert!(
        ws.settings_file("acme-nl")
            .contains(&format!("connectionString=\"{KEY_FILE_ENVELOPE}"))
    );
    assert!(!ws.key_dir().exists(), "a host secret was made");

    let by_variable = Outcome::of(
        ws.preauth()
            .env("PREAUTH_KEY_FILE", &key)
            .args(["token", "acme-nl"]),
    );
    by_variable.exits(0).keeps_secret(&secrets);
    assert_eq!(by_variable.stdout, format!("{}\n", tokens[0].access_token));

    // --key-file wins over the variable, either way round.
    let flag_wins = Outcome::of(
        ws.preauth()
            .env("PREAUTH_KEY_FILE", &wrong)
            .arg("--key-file")
            .arg(&key)
            .args(["token", "acme-nl"]),
    );
    assert_eq!(flag_wins.exits(0).stdout, by_variable.stdout);
    let wrong_flag = Outcome::of(
        ws.preauth()
            .env("PREAUTH_KEY_FILE", &key)
            .arg("--key-file")
            .arg(&wrong)
            .args(["token", "acme-nl"]),
    );
    fails_with_one_sentence(&wrong_flag, &[&wrong.display().to_string()], &secrets);

    // An empty variable is unset: the device key is used, and the error names the option.
    let empty = Outcome::of(
        ws.preauth()
            .env("PREAUTH_KEY_FILE", "")
            .args(["token", "acme-nl"]),
    );
    fails_with_one_sentence(&empty, &["--key-file FILE", "PREAUTH_KEY_FILE"], &secrets);
    // An empty option is a usage error, not a quiet fall-back to the device key.
    let empty_flag = ws.run(&["--key-file", "", "token", "acme-nl"]);
    empty_flag.exits(2);
    assert!(empty_flag.stderr.contains("--key-file"), "{empty_flag:#?}");
}

#[test]
fn a_bare_name_is_a_systemd_credential_when_credentials_directory_is_set() {
    let ws = Workspace::new();
    let credentials = ws.path().join("credentials");
    write_key(&credentials, "preauth.key", &format!("{KEY}\n"), 0o400);
    // A file of the same name in the working folder is not the credential.
    let decoy = write_key(ws.path(), "preauth.key", OTHER_KEY, 0o600);
    let in_unit = |args: &[&str]| {
        Outcome::of(
            ws.preauth()
                .env("CREDENTIALS_DIRECTORY", &credentials)
                .args(args),
        )
    };
    let plain = "api-url=https://start.exactonline.nl;api-client-id=x;api-client-secret=sandbox-demo-secret";

    let sealed = in_unit(&[
        "--key-file",
        "preauth.key",
        "-c",
        &format!("encrypt connection '{plain}'"),
    ]);
    sealed
        .exits(0)
        .keeps_secret(&[KEY, OTHER_KEY, DEMO_CLIENT_SECRET]);
    let sealed = sealed.stdout.trim().to_string();
    assert!(sealed.starts_with(KEY_FILE_ENVELOPE), "{sealed}");
    let decrypt = format!("decrypt connection '{sealed}'");

    // The same credential through PREAUTH_KEY_FILE, and by its full path outside the unit.
    let by_variable = Outcome::of(
        ws.preauth()
            .env("CREDENTIALS_DIRECTORY", &credentials)
            .env("PREAUTH_KEY_FILE", "preauth.key")
            .args(["-c", &decrypt]),
    );
    by_variable.exits(0).keeps_secret(&[KEY]).says(&[plain]);
    with_key(&ws, &credentials.join("preauth.key"), &["-c", &decrypt])
        .exits(0)
        .says(&[plain]);

    // Outside the unit, or with a slash, the name is a path: here the decoy.
    let decoy_name = decoy.display().to_string();
    for outcome in [
        with_key(&ws, Path::new("preauth.key"), &["-c", &decrypt]),
        in_unit(&["--key-file", "./preauth.key", "-c", &decrypt]),
    ] {
        outcome
            .exits(1)
            .keeps_secret(&[KEY, OTHER_KEY, DEMO_CLIENT_SECRET])
            .warns(&["another key file than"]);
        assert!(
            outcome.stderr.contains("preauth.key") && !outcome.stderr.contains("credentials"),
            "{outcome:#?} ({decoy_name})"
        );
    }

    // A credential the unit does not load: one sentence saying how to load it.
    let missing = in_unit(&["--key-file", "fleet.key", "-c", &decrypt]);
    missing
        .exits(1)
        .keeps_secret(&[KEY])
        .warns(&["CREDENTIALS_DIRECTORY", "LoadCredential=fleet.key:"]);
    assert_eq!(missing.stderr.lines().count(), 1, "{missing:#?}");
}

#[test]
fn weak_or_exposed_key_files_are_refused_before_anything_is_sealed() {
    use std::os::unix::fs::MetadataExt;
    let ws = Workspace::new();
    let seal = "encrypt value 'sandbox-demo-secret'";
    let secrets = [KEY, DEMO_CLIENT_SECRET];

    let group_readable = write_key(ws.path(), "group.key", KEY, 0o640);
    // A file owned by root may be group-readable (a platform's mount): make it another's.
    if std::fs::metadata(&group_readable).expect("metadata").uid() == 0 {
        std::os::unix::fs::chown(&group_readable, Some(65534), None).expect("chown");
    }
    let world_readable = write_key(ws.path(), "world.key", KEY, 0o644);
    let short = write_key(ws.path(), "short.key", "0123456789abcdef\n", 0o600);
    let blank = write_key(ws.path(), "blank.key", &" ".repeat(40), 0o600);
    let folder = ws.path().join("a-folder");
    std::fs::create_dir(&folder).expect("a folder");
    let absent = ws.path().join("absent.key");
    let name = |p: &Path| p.display().to_string();
    let cases: Vec<(&Path, Vec<String>)> = vec![
        (
            &group_readable,
            vec![
                format!("chmod 600 {}", name(&group_readable)),
                "mode 640".into(),
            ],
        ),
        (
            &world_readable,
            vec![
                format!("chmod 600 {}", name(&world_readable)),
                "mode 644".into(),
            ],
        ),
        (
            &short,
            vec![name(&short), "holds 17 bytes, fewer than the 32".into()],
        ),
        (
            &blank,
            vec![name(&blank), "empty or holds only white space".into()],
        ),
        (&folder, vec![name(&folder), "not a regular file".into()]),
        (
            &absent,
            vec![name(&absent), "does not exist".into(), "--key-file".into()],
        ),
    ];
    for (path, needles) in cases {
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        let outcome = with_key(&ws, path, &["-c", seal]);
        fails_with_one_sentence(&outcome, &needles, &secrets);
        assert!(!outcome.stderr.contains("0123456789abcdef"), "{outcome:#?}");
        // The same through the variable.
        let by_variable = Outcome::of(
            ws.preauth()
                .env("PREAUTH_KEY_FILE", path)
                .args(["-c", seal]),
        );
        fails_with_one_sentence(&by_variable, &needles, &secrets);
    }
    assert!(!ws.key_dir().exists(), "the device key was used instead");
    assert_eq!(ws.settings_snapshot(), Vec::new(), "something was written");

    // The advice works.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&world_readable, std::fs::Permissions::from_mode(0o600))
        .expect("chmod 600");
    let sealed = with_key(&ws, &world_readable, &["-c", seal]);
    sealed.exits(0).keeps_secret(&secrets);
    assert!(sealed.stdout.starts_with(KEY_FILE_ENVELOPE), "{sealed:#?}");
}

/// `preauth ARGS` with `ws`'s environment in a private mount namespace where both machine-id
/// files read empty, as in a container; `None` when this system cannot make one (not root,
/// no `unshare`).
fn in_container(ws: &Workspace, args: &[&std::ffi::OsStr]) -> Option<Outcome> {
    let empty = ws.path().join("empty-machine-id");
    std::fs::write(&empty, "").expect("an empty file");
    let probe = Command::new("unshare")
        .args(["-m", "true"])
        .stderr(std::process::Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        return None;
    }
    let preauth = ws.preauth();
    let mut command = Command::new("unshare");
    command.args(["-m", "sh", "-c"]).arg(
        "for f in /etc/machine-id /var/lib/dbus/machine-id; do \
           if [ -e \"$f\" ]; then mount --bind \"$1\" \"$f\" || exit 97; fi; \
         done; shift; exec \"$@\"",
    );
    command
        .arg("sh")
        .arg(&empty)
        .arg(preauth.get_program())
        .args(args);
    for (name, value) in preauth.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.current_dir(ws.path());
    Some(Outcome::of(&mut command))
}

#[test]
fn a_container_without_machine_id_is_told_of_key_files_and_works_with_one() {
    let ws = Workspace::new();
    let key = write_key(ws.path(), "preauth.key", KEY, 0o600);
    let seal = std::ffi::OsStr::new("encrypt value 'sandbox-demo-secret'");
    let Some(without) = in_container(&ws, &["-c".as_ref(), seal]) else {
        eprintln!("skipped: no private mount namespace here (needs root and unshare)");
        return;
    };
    fails_with_one_sentence(
        &without,
        &[
            "no machine-id found",
            "systemd-machine-id-setup",
            "--key-file FILE",
            "PREAUTH_KEY_FILE",
            "container platform mounts",
        ],
        &[KEY, DEMO_CLIENT_SECRET],
    );
    assert!(
        !without.stderr.contains("passphrase"),
        "a dead end: {without:#?}"
    );
    assert!(!ws.key_dir().exists(), "a host secret was made");

    let with = in_container(
        &ws,
        &["--key-file".as_ref(), key.as_os_str(), "-c".as_ref(), seal],
    )
    .expect("the namespace worked a moment ago");
    with.exits(0).keeps_secret(&[KEY, DEMO_CLIENT_SECRET]);
    assert!(with.stdout.starts_with(KEY_FILE_ENVELOPE), "{with:#?}");
    // And what it sealed opens outside the container with the same file.
    let sealed = with.stdout.trim();
    with_key(
        &ws,
        &key,
        &["-c", &format!("local define encrypted S \"{sealed}\"")],
    )
    .exits(0)
    .keeps_secret(&[KEY, DEMO_CLIENT_SECRET]);
}
