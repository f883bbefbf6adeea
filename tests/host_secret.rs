//! Read-only commands never create key material: with the host secret missing (a cron job
//! without `DEVICEKEY_SECRET_DIR`), `preauth token` and `preauth check` name the missing file
//! and the variable that moves it, and create nothing.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{DEMO_CLIENT_SECRET, Outcome, Registered, Workspace};

/// Every entry below `dir` (empty when it does not exist).
fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|list| {
            list.map(|e| e.expect("an entry").file_name().to_string_lossy().into())
                .collect()
        })
        .unwrap_or_default()
}

/// `preauth ARGS` in `ws` with the host secret looked for in `key_dir`.
fn run_with_key_dir(ws: &Workspace, key_dir: &Path, args: &[&str]) -> Outcome {
    Outcome::of(ws.preauth().env("DEVICEKEY_SECRET_DIR", key_dir).args(args))
}

#[test]
fn token_and_check_report_a_missing_host_secret_and_create_none() {
    let Registered { ws, tokens, .. } = Registered::new(&[("acme-nl", Duration::ZERO)]);
    let tokens = &tokens[0];
    let secrets = [
        DEMO_CLIENT_SECRET,
        tokens.access_token.as_str(),
        tokens.refresh_token.as_str(),
    ];
    assert!(
        ws.settings_file("acme-nl")
            .contains("connectionString=\"dk1:"),
        "the connection is not sealed"
    );
    let settings_before = ws.settings_snapshot();

    let empty = ws.path().join("empty-key-folder");
    std::fs::create_dir(&empty).expect("an empty folder");
    let absent = ws.path().join("absent").join("key");
    for key_dir in [&empty, &absent] {
        let secret_file = key_dir.join("host.secret").display().to_string();
        let names_the_missing_secret = |text: &str| {
            assert!(
                text.contains(&secret_file),
                "{secret_file} not named: {text}"
            );
            assert!(text.contains("does not exist"), "{text}");
            assert!(text.contains("DEVICEKEY_SECRET_DIR"), "{text}");
            assert!(!text.contains("another device"), "{text}");
        };

        let token = run_with_key_dir(&ws, key_dir, &["token", "acme-nl"]);
        token.exits(1).keeps_secret(&secrets);
        assert_eq!(token.stdout, "", "{token:#?}");
        assert_eq!(token.stderr.lines().count(), 1, "{token:#?}");
        names_the_missing_secret(&token.stderr);

        let check = run_with_key_dir(&ws, key_dir, &["check"]);
        check.exits(2).keeps_secret(&secrets);
        let status = check.stdout.lines().next().unwrap_or_default();
        assert!(status.starts_with("PREAUTH CRITICAL - "), "{check:#?}");
        names_the_missing_secret(&check.stdout);

        assert_eq!(
            entries(&empty),
            Vec::<String>::new(),
            "key material created"
        );
        assert!(!absent.exists(), "a key folder was created");
    }
    assert!(!ws.path().join("absent").exists());
    assert_eq!(ws.settings_snapshot(), settings_before, "settings changed");

    // With the right folder both work again, with the same host secret.
    let key_before = std::fs::read(ws.key_dir().join("host.secret")).expect("the host secret");
    ws.run(&["token", "acme-nl"]).exits(0);
    assert_eq!(
        std::fs::read(ws.key_dir().join("host.secret")).expect("the host secret"),
        key_before
    );
}

#[test]
fn sealing_still_creates_the_host_secret_on_first_use() {
    let ws = Workspace::new();
    assert!(!ws.key_dir().exists());
    let sealed = ws.run_c("encrypt value 'sandbox-demo-secret';");
    sealed.exits(0).keeps_secret(&[DEMO_CLIENT_SECRET]);
    assert!(sealed.stdout.starts_with("dk1:"), "{sealed:#?}");
    assert_eq!(entries(&ws.key_dir()), vec!["host.secret".to_string()]);

    // Opening it in a folder without a host secret names the missing one, creates nothing.
    let elsewhere = Workspace::new();
    let opened = elsewhere.run_c(&format!("decrypt connection '{}';", sealed.stdout.trim()));
    opened.exits(1).keeps_secret(&[DEMO_CLIENT_SECRET]);
    assert!(
        opened.stderr.contains(
            &elsewhere
                .key_dir()
                .join("host.secret")
                .display()
                .to_string()
        ),
        "{opened:#?}"
    );
    assert!(!elsewhere.key_dir().exists());
}
