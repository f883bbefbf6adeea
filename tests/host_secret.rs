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

/// The device key's session cache, end to end: the key `preauth` derives is kept in the
/// user keyring (Linux), the next `preauth token` uses it, and another host secret never
/// opens anything with it.
#[cfg(target_os = "linux")]
mod session_cache {
    use std::collections::BTreeSet;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

    use super::*;
    use common::{DEMO_CLIENT_ID, WEB_REDIRECT};

    /// A cache lifetime no other test uses, so that `/proc/keys` tells this test's keys
    /// apart by their timeout ("2h" for 10,000 s) from those of tests running beside it.
    const TTL: &str = "10000";
    const TTL_SHOWN: &str = "2h";

    const KEY_SPEC_USER_KEYRING: libc::c_long = -4;
    const KEYCTL_UPDATE: libc::c_long = 2;
    const KEYCTL_UNLINK: libc::c_long = 9;
    const KEYCTL_SEARCH: libc::c_long = 10;
    const KEYCTL_READ: libc::c_long = 11;

    /// A cached device key as `/proc/keys` lists it.
    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    struct CachedKey {
        serial: String,
        timeout: String,
        permissions: String,
        description: String,
    }

    /// Every cached device key this user may see, or `None` where the kernel has no
    /// keyrings to list.
    fn all_cached_keys() -> Option<BTreeSet<CachedKey>> {
        let listing = std::fs::read_to_string("/proc/keys").ok()?;
        Some(
            listing
                .lines()
                .filter_map(|line| {
                    // serial flags usage timeout permissions uid gid type description: size
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let description = fields.get(8)?.trim_end_matches(':');
                    (fields[7] == "user" && description.starts_with("devicekey:v1:")).then(|| {
                        CachedKey {
                            serial: fields[0].to_string(),
                            timeout: fields[3].to_string(),
                            permissions: fields[4].to_string(),
                            description: description.to_string(),
                        }
                    })
                })
                .collect(),
        )
    }

    /// The device keys cached with this test's lifetime since `before`.
    fn new_keys(before: &BTreeSet<CachedKey>) -> Vec<CachedKey> {
        let after = all_cached_keys().expect("/proc/keys");
        after
            .difference(before)
            .filter(|key| key.timeout == TTL_SHOWN)
            .cloned()
            .collect()
    }

    /// The one key cached since `before`.
    fn new_key(before: &BTreeSet<CachedKey>) -> CachedKey {
        let new = new_keys(before);
        assert_eq!(new.len(), 1, "one key cached, not {new:?}");
        new[0].clone()
    }

    /// `keyctl(operation, key, a3, a4)` on `key`, found by its description in the user
    /// keyring (which makes this process its possessor).
    fn keyctl_on(key: &CachedKey, operation: libc::c_long, a3: usize, a4: usize) -> libc::c_long {
        let description = std::ffi::CString::new(key.description.clone()).unwrap();
        // SAFETY: the strings and buffers outlive the calls; lengths are theirs.
        unsafe {
            let serial = libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_SEARCH,
                KEY_SPEC_USER_KEYRING,
                c"user".as_ptr(),
                description.as_ptr(),
                0,
            );
            assert!(serial > 0, "{key:?} not found");
            libc::syscall(libc::SYS_keyctl, operation, serial, a3, a4, 0)
        }
    }

    #[test]
    fn the_next_token_uses_the_cached_key_and_another_host_secret_does_not() {
        let Some(before) = all_cached_keys() else {
            eprintln!("no /proc/keys here: the session cache test is skipped");
            return;
        };
        let ws = Workspace::new().with_env("PREAUTH_KEY_CACHE", TTL);
        ws.run_c(&format!(
            "register connection 'job' platform exact api url 'http://127.0.0.1:9/' \
             client id '{DEMO_CLIENT_ID}' client secret '{DEMO_CLIENT_SECRET}' \
             redirect url '{WEB_REDIRECT}' access token 'AT-cached' refresh token 'RT-cached'"
        ))
        .exits(0);
        // Sealing derived the key and cached it: for this user only, with a timeout.
        let sealed = new_key(&before);
        assert_eq!(sealed.permissions, "3f030000", "{sealed:?}");

        // The next processes open the connection with it: nothing is derived (a derived
        // key would be stored again, under a new serial).
        for _ in 0..2 {
            let token = ws.run(&["token", "job"]);
            assert_eq!(token.exits(0).stdout.trim(), "AT-cached");
            assert_eq!(new_key(&before), sealed, "the cached key was replaced");
        }

        // A malformed cached key is derived again and replaced.
        let short = [7u8; 5];
        let updated = keyctl_on(&sealed, KEYCTL_UPDATE, short.as_ptr() as usize, short.len());
        assert_eq!(updated, 0);
        let token = ws.run(&["token", "job"]);
        assert_eq!(token.exits(0).stdout.trim(), "AT-cached");
        let replaced = new_key(&before);
        assert_eq!(replaced.description, sealed.description);
        assert_ne!(replaced.serial, sealed.serial);
        let mut payload = [0u8; 64];
        let len = keyctl_on(
            &replaced,
            KEYCTL_READ,
            payload.as_mut_ptr() as usize,
            payload.len(),
        );
        assert_eq!(len, 32, "a whole key again");

        // Another host secret (a wrong DEVICEKEY_SECRET_DIR, a copied settings folder) finds
        // no cached key: it derives its own, and fails as before.
        let other = ws.path().join("other-key");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&other)
            .unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(other.join("host.secret"))
            .and_then(|mut file| std::io::Write::write_all(&mut file, &[42u8; 32]))
            .unwrap();
        let foreign = run_with_key_dir(&ws, &other, &["token", "job"]);
        foreign.exits(1).keeps_secret(&["AT-cached", "RT-cached"]);
        assert!(foreign.stderr.contains("another device"), "{foreign:#?}");
        assert_eq!(foreign.stdout, "");
        let mut new = new_keys(&before);
        new.retain(|key| *key != replaced);
        assert_eq!(new.len(), 1, "{new:?}");
        assert_ne!(new[0].description, sealed.description);

        // Turned off, nothing is stored: the key is derived. (Unlinked keys may still be
        // listed until the kernel collects them, so the test is for a new serial.)
        for key in new_keys(&before) {
            let user_keyring = KEY_SPEC_USER_KEYRING as usize;
            assert_eq!(keyctl_on(&key, KEYCTL_UNLINK, user_keyring, 0), 0);
        }
        let listed = || -> BTreeSet<String> {
            let keys = all_cached_keys().expect("/proc/keys");
            keys.into_iter()
                .filter(|key| key.description == sealed.description)
                .map(|key| key.serial)
                .collect()
        };
        let unlinked = listed();
        let off = Outcome::of(
            ws.preauth()
                .env("PREAUTH_KEY_CACHE", "0")
                .args(["token", "job"]),
        );
        assert_eq!(off.exits(0).stdout.trim(), "AT-cached");
        let stored = listed();
        assert!(stored.is_subset(&unlinked), "{stored:?} stored");
    }
}
