//! The settings folder on real files: a hand-written Invantive file, rewrites that keep
//! every byte they do not change, permissions, sealing, export/import, pending
//! authorizations.

mod settings_support;

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use preauth_core::connstr::ConnectionString;
use preauth_core::platform::Registry;
use preauth_core::protector::{ProtectErrorKind, Protector};
use preauth_core::secret::{AccessToken, PkceVerifier, RefreshToken, StateToken};
use preauth_core::settings::SettingsFolder;
use preauth_core::store::{PendingAuthorization, Store, StoreError, UNFINISHED_LOGIN_KEPT};
use settings_support::*;

fn folder(dir: &Path) -> SettingsFolder {
    SettingsFolder::open(dir, Registry::builtin(), None).expect("folder opens")
}

fn sealed_folder(dir: &Path, device: &str) -> SettingsFolder {
    let protector: Arc<dyn Protector> = Arc::new(TestProtector::new(device));
    SettingsFolder::open(dir, Registry::builtin(), Some(protector)).expect("folder opens")
}

fn golden_folder() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let golden = fs::read(data("invantive-settings.xml")).expect("golden file");
    fs::write(dir.path().join("settings.xml"), &golden).expect("copy golden file");
    (dir, golden)
}

#[test]
fn hand_written_invantive_file_is_read() {
    let (dir, _) = golden_folder();
    let store = folder(dir.path());
    assert_eq!(
        store.names().expect("names"),
        vec!["acme-be", "acme-nl", "tf", "warehouse"]
    );

    let nl = store.load("ACME-NL").expect("acme-nl loads");
    assert_eq!(nl.name, "acme-nl");
    assert_eq!(nl.platform, "exact-online");
    assert_eq!(nl.api_url, "https://start.exactonline.nl");
    assert_eq!(nl.client_id, "0b6bd6a9-0000-4a4b-9f3c-0123456789ab");
    assert_eq!(
        nl.client_secret.as_ref().map(|s| s.secret()),
        Some("s3cr;et")
    );
    assert_eq!(nl.redirect_url, "https://example.com/cb");
    assert_eq!(
        nl.extra,
        vec![("Custom-Key".to_string(), "kept as is".to_string())]
    );
    let tokens = nl.tokens.as_ref().expect("a refresh token is stored");
    assert_eq!(
        tokens.refresh_token.as_ref().map(|r| r.secret()),
        Some("Gh7_refresh")
    );
    assert!(tokens.access_token.secret().is_empty());

    let be = store
        .load("acme-be")
        .expect("attribute case as Invantive writes it");
    assert_eq!(be.api_url, "https://start.exactonline.be");
    let tf = store.load("tf").expect("twinfield");
    assert_eq!(tf.platform, "twinfield");

    let all = store.load_all().expect("one pass over the folder");
    let loaded: Vec<_> = all
        .iter()
        .filter_map(|c| c.as_ref().ok())
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(loaded, vec!["acme-be", "acme-nl", "tf"]);
    assert_eq!(
        all.iter().filter(|c| c.is_err()).count(),
        1,
        "warehouse is unusable"
    );

    match store.load("warehouse") {
        Err(StoreError::InvalidConnection {
            name,
            message,
            path,
        }) => {
            assert_eq!(name, "warehouse");
            assert!(path.ends_with("settings.xml"));
            assert!(message.contains("provider 'SqlServer'"), "{message}");
        }
        other => panic!("expected InvalidConnection, got {other:?}"),
    }
}

#[test]
fn token_update_changes_only_the_connection_string() {
    let (dir, golden) = golden_folder();
    let store = folder(dir.path());
    let golden_text = String::from_utf8(golden.clone()).expect("utf-8");
    let marker = "connectionString=\"api-url=https://start.exactonline.nl;";
    let value_start = golden_text.find(marker).expect("marker") + "connectionString=\"".len();
    let value_end = value_start + golden_text[value_start..].find('"').expect("closing quote");

    let mut locked = store.lock("acme-nl").expect("lock");
    let mut conn = locked.load().expect("load under lock");
    let issued = t0();
    if let Some(tokens) = conn.tokens.as_mut() {
        tokens.access_token = AccessToken::new("new-access");
        tokens.access_token_issued_at = issued;
        tokens.access_token_expires_at = issued + Duration::from_secs(600);
        tokens.refresh_token = Some(RefreshToken::new("new-refresh"));
        tokens.refresh_token_issued_at = Some(issued);
    }
    locked.save(&conn).expect("save");
    drop(locked);

    let after = fs::read_to_string(dir.path().join("settings.xml")).expect("rewritten file");
    assert!(
        after.starts_with(&golden_text[..value_start]),
        "bytes before the value changed"
    );
    assert!(
        after.ends_with(&golden_text[value_end..]),
        "bytes after the value changed"
    );
    let new_value = &after[value_start..after.len() - (golden_text.len() - value_end)];
    assert_eq!(
        new_value,
        "api-url=https://start.exactonline.nl;api-client-id=0b6bd6a9-0000-4a4b-9f3c-0123456789ab;\
         api-client-secret=&quot;s3cr;et&quot;;api-redirect-url=https://example.com/cb;Custom-Key=kept as is;\
         api-refresh-token=new-refresh;api-access-token=new-access;\
         api-access-token-issued=2025-06-15T15:06:40Z;api-access-token-expires=2025-06-15T15:16:40Z;\
         api-refresh-token-issued=2025-06-15T15:06:40Z"
    );
    assert_eq!(
        fs::read(dir.path().join("settings.xml.bak")).expect("backup"),
        golden,
        "the previous version is kept"
    );
    let reread = folder(dir.path()).load("acme-nl").expect("reload");
    assert_same(&reread, &conn);
}

#[test]
fn create_load_lock_save_and_drop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = folder(dir.path());
    let conn = connection("acme", t0());
    store.create(&conn).expect("create");
    assert_same(&store.load("acme").expect("load"), &conn);

    let text = fs::read_to_string(dir.path().join("settings-acme.xml")).expect("new file");
    assert!(text.contains("<group name=\"Exact Online\">"), "{text}");
    assert!(text.contains("provider=\"ExactOnlineAll\""), "{text}");
    let reparsed = quick_xml_attribute(&text, "connectionString");
    let cs = ConnectionString::parse(&reparsed).expect("stored connection string parses");
    assert_eq!(cs.get("api-client-secret"), Some(CLIENT_SECRET));
    assert_eq!(
        cs.get("preauth-platform"),
        None,
        "built-in platforms need no id"
    );

    match store.create(&connection("ACME", t0())) {
        Err(StoreError::AlreadyExists { name, path }) => {
            assert_eq!(name, "ACME");
            assert!(path.ends_with("settings-acme.xml"));
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    for bad in [
        "../evil",
        ".hidden",
        "a\nb",
        &"x".repeat(101),
        "evil\u{202e}lmx",
        "zero\u{200b}width",
        "\u{feff}bom",
    ] {
        assert!(
            matches!(
                store.create(&connection(bad, t0())),
                Err(StoreError::InvalidName { .. })
            ),
            "{bad:?}"
        );
    }

    store.create(&connection("second", t0())).expect("second");
    assert_eq!(store.names().expect("names"), vec!["acme", "second"]);
    assert!(store.drop_connection("acme").expect("drop"));
    assert!(!store.drop_connection("acme").expect("drop again"));
    assert!(!dir.path().join("settings-acme.xml").exists());
    assert!(matches!(
        store.load("acme"),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.names().expect("names"), vec!["second"]);
}

#[test]
fn dropping_one_of_several_connections_keeps_the_file_and_the_others() {
    let (dir, golden) = golden_folder();
    let store = folder(dir.path());
    assert!(store.drop_connection("acme-be").expect("drop"));
    let after = fs::read_to_string(dir.path().join("settings.xml")).expect("file kept");
    assert!(!after.contains("acme-be"));
    let golden = String::from_utf8(golden).expect("utf-8");
    let be_start = golden
        .find("\n    <connection name=\"acme-be\">")
        .expect("acme-be");
    let be_end =
        golden[be_start..].find("</connection>").expect("end") + be_start + "</connection>".len();
    assert_eq!(
        after,
        format!("{}{}", &golden[..be_start], &golden[be_end..])
    );
    assert_eq!(
        store.names().expect("names"),
        vec!["acme-nl", "tf", "warehouse"]
    );
}

/// The value of the first attribute `name` in `text` (test helper, not a parser).
fn quick_xml_attribute(text: &str, name: &str) -> String {
    let start = text.find(&format!("{name}=\"")).expect("attribute") + name.len() + 2;
    let end = start + text[start..].find('"').expect("closing quote");
    text[start..end]
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(unix)]
#[test]
fn folder_and_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let base = tempfile::tempdir().expect("tempdir");
    let dir = base.path().join("nested/settings");
    let store = folder(&dir);
    let mode = |p: &Path| fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);

    store.create(&connection("acme", t0())).expect("create");
    let file = dir.join("settings-acme.xml");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&dir.join(".settings-acme.xml.lock")), 0o600);

    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("loosen");
    let mut locked = store.lock("acme").expect("lock");
    let conn = locked.load().expect("load");
    locked.save(&conn).expect("save");
    drop(locked);
    assert_eq!(mode(&file), 0o600, "a rewrite tightens the file");
    assert_eq!(mode(&dir.join("settings-acme.xml.bak")), 0o600);
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn duplicate_names_across_files_name_both_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = folder(dir.path());
    store.create(&connection("shared", t0())).expect("create");
    let copy = fs::read(dir.path().join("settings-shared.xml")).expect("read");
    fs::write(dir.path().join("settings-zz.xml"), &copy).expect("copy");
    store.create(&connection("other", t0())).expect("create");
    let before = snapshot(dir.path());
    let listing = store.list().expect("the folder still lists");
    let names: Vec<&str> = listing
        .connections
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(names, ["other", "shared", "shared"]);
    for listed in listing.connections.iter().filter(|l| l.name == "shared") {
        match &listed.connection {
            Err(StoreError::Duplicate { first, second, .. }) => {
                assert!(first.ends_with("settings-shared.xml"), "{first:?}");
                assert!(second.ends_with("settings-zz.xml"), "{second:?}");
            }
            other => panic!("expected Duplicate, got {other:?}"),
        }
    }
    assert!(
        listing.connections[0].connection.is_ok(),
        "the other one works"
    );
    let duplicate = |r: Result<(), StoreError>| match r {
        Err(e @ StoreError::Duplicate { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("settings-shared.xml") && text.contains("settings-zz.xml"),
                "{text}"
            );
        }
        other => panic!("expected Duplicate, got {other:?}"),
    };
    duplicate(store.load("shared").map(drop));
    duplicate(store.load("SHARED").map(drop));
    duplicate(store.export_connection("shared", false).map(drop));
    duplicate(store.drop_connection("shared").map(drop));
    duplicate(store.lock("shared").map(drop));
    assert!(store.load("other").is_ok());
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn sealed_connection_strings_round_trip_and_fail_clearly_elsewhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sealed_folder(dir.path(), "device-a");
    let conn = connection("acme", t0());
    store.create(&conn).expect("create sealed");
    let text = fs::read_to_string(dir.path().join("settings-acme.xml")).expect("file");
    for secret in [CLIENT_SECRET, REFRESH_TOKEN, ACCESS_TOKEN, "client-acme"] {
        assert!(!text.contains(secret), "plaintext in the file: {secret}");
    }
    assert!(quick_xml_attribute(&text, "connectionString").starts_with("tp1:device-a."));
    assert_same(&store.load("acme").expect("opens"), &conn);

    let mut locked = store.lock("acme").expect("lock");
    let loaded = locked.load().expect("load");
    locked.save(&loaded).expect("save sealed again");
    drop(locked);
    assert_same(&store.load("acme").expect("opens after save"), &conn);

    match folder(dir.path()).load("acme") {
        Err(e @ StoreError::Protect { .. }) => {
            let shown = e.to_string();
            assert!(
                shown.contains("settings-acme.xml") && shown.contains("'acme'"),
                "{shown}"
            );
            assert_eq!(
                e.advice(),
                [preauth_core::advice::Advice::MoveSealedConnection {
                    connection: "acme".into()
                }],
                "{shown}"
            );
        }
        other => panic!("expected Protect, got {other:?}"),
    }
    match sealed_folder(dir.path(), "device-b").load("acme") {
        Err(StoreError::Protect { source, name, .. }) => {
            assert_eq!(name, "acme");
            assert_eq!(source.kind, ProtectErrorKind::AnotherDevice);
        }
        other => panic!("expected Protect, got {other:?}"),
    }

    // The sealed text of 'acme' pasted into connection 'other' must not open: labels bind.
    store
        .create(&connection("other", t0()))
        .expect("create other");
    let acme_sealed = quick_xml_attribute(&text, "connectionString");
    let other_path = dir.path().join("settings-other.xml");
    let other_text = fs::read_to_string(&other_path).expect("other file");
    let other_sealed = quick_xml_attribute(&other_text, "connectionString");
    fs::write(&other_path, other_text.replace(&other_sealed, &acme_sealed)).expect("swap");
    match store.load("other") {
        Err(StoreError::Protect { source, .. }) => {
            assert_eq!(source.kind, ProtectErrorKind::TamperedOrWrongLabel)
        }
        other => panic!("expected Protect, got {other:?}"),
    }
}

#[test]
fn export_and_import_move_a_connection_between_folders() {
    let (src, _) = golden_folder();
    let source = folder(src.path());
    let exported = source
        .export_connection("acme-nl", false)
        .expect("export plain");
    assert!(
        exported.contains("x:note=\"keep me\""),
        "unknown attributes travel along"
    );
    assert!(
        exported.contains("xmlns:x=\"urn:example:notes\""),
        "with their namespace"
    );
    assert!(
        exported.contains("<initializationSql>"),
        "unknown elements travel along"
    );
    assert!(!exported.contains("acme-be") && !exported.contains("warehouse"));
    assert!(matches!(
        source.export_connection("acme-nl", true),
        Err(StoreError::Protect { .. })
    ));

    let file = src.path().join("exported.xml");
    fs::write(&file, exported.as_bytes()).expect("write export");
    let dst = tempfile::tempdir().expect("tempdir");
    let target = sealed_folder(dst.path(), "device-a");
    assert_eq!(target.import_file(&file).expect("import"), vec!["acme-nl"]);
    assert_same(
        &target.load("acme-nl").expect("imported"),
        &source.load("acme-nl").expect("original"),
    );
    let imported = fs::read_to_string(dst.path().join("settings-acme-nl.xml")).expect("file");
    assert!(
        imported.contains("<group name=\"Exact Online\""),
        "{imported}"
    );
    assert!(!imported.contains("s3cr;et"), "imported strings are sealed");
    assert!(
        imported.contains("xmlns:x=\"urn:example:notes\""),
        "{imported}"
    );

    let sealed_export = target
        .export_connection("acme-nl", true)
        .expect("sealed export");
    assert!(sealed_export.contains("tp1:device-a."));

    // Importing again conflicts; the golden file also holds an unusable connection.
    let before = snapshot(dst.path());
    assert!(matches!(
        target.import_file(&file),
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        target.import_file(&src.path().join("settings.xml")),
        Err(StoreError::InvalidConnection { .. })
    ));
    assert_eq!(
        snapshot(dst.path()),
        before,
        "a failed import writes nothing"
    );
}

fn pending(state: &str, name: &str, expires_in: u64) -> PendingAuthorization {
    let mut conn = connection(name, t0());
    conn.tokens = None;
    PendingAuthorization {
        state: StateToken::new(state),
        connection: conn,
        pkce_verifier: Some(PkceVerifier::new(format!("verifier-{state}"))),
        nonce: Some(format!("nonce-{state}")),
        expires_at: t0() + Duration::from_secs(expires_in),
    }
}

#[test]
fn pending_authorizations_are_single_use_and_expire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = sealed_folder(dir.path(), "device-a");
    store
        .put_pending(&pending("state-one", "one", 600))
        .expect("put");
    store
        .put_pending(&pending("state-two", "two", 60))
        .expect("put");
    let text = fs::read_to_string(dir.path().join("pending-authorizations.xml")).expect("file");
    assert!(
        !text.contains("state-one") && !text.contains("verifier-"),
        "sealed"
    );

    assert!(
        store
            .take_pending("state-none", t0())
            .expect("take")
            .is_none()
    );
    let taken = store
        .take_pending("state-one", t0())
        .expect("take")
        .expect("found");
    assert_eq!(taken.connection.name, "one");
    assert_eq!(
        taken.pkce_verifier.as_ref().map(|v| v.secret()),
        Some("verifier-state-one")
    );
    assert_eq!(taken.nonce.as_deref(), Some("nonce-state-one"));
    assert_eq!(taken.expires_at, t0() + Duration::from_secs(600));
    assert!(taken.connection.tokens.is_none());
    let gone = |state: &str, now| store.take_pending(state, now).expect("take").is_none();
    assert!(gone("state-one", t0()), "single use");
    assert!(
        gone("state-two", t0() + Duration::from_secs(120)),
        "expired"
    );
    // Expired, it is kept a while, so that a new login can start from its app settings;
    // a finished login leaves nothing behind.
    let later = t0() + Duration::from_secs(120);
    let kept = store
        .unfinished_login("TWO", later)
        .expect("read")
        .expect("kept");
    assert_eq!(kept.name, "two");
    assert_eq!(
        kept.client_secret.as_ref().map(|s| s.secret().to_string()),
        connection("two", t0())
            .client_secret
            .map(|s| s.secret().to_string())
    );
    assert!(kept.client_secret.is_some());
    assert!(kept.tokens.is_none());
    assert!(
        store
            .unfinished_login("one", later)
            .expect("read")
            .is_none()
    );
    // Then it is purged.
    let past = t0() + Duration::from_secs(61) + UNFINISHED_LOGIN_KEPT;
    assert!(store.unfinished_login("two", past).expect("read").is_none());
    assert!(gone("state-none", past));
    assert!(gone("state-two", t0()), "purged");
}

#[test]
fn two_processes_see_each_others_new_and_dropped_connections() {
    // Two folder values on one directory behave as two processes: each remembers which
    // file holds which name, and must not miss what the other added or removed.
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (folder(dir.path()), folder(dir.path()));
    a.create(&connection("first", t0())).expect("a creates");
    b.create(&connection("Öresund", t0())).expect("b creates");
    match a.create(&connection("öresund", t0())) {
        Err(StoreError::AlreadyExists { path, .. }) => {
            assert!(path.ends_with("settings-Öresund.xml"), "{path:?}");
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert!(b.drop_connection("first").expect("b drops"));
    a.create(&connection("first", t0()))
        .expect("a sees that the name is free again");
    assert_eq!(b.names().expect("names"), vec!["first", "Öresund"]);
    // A name added by hand in place (same inode) is seen when names are listed.
    let file = dir.path().join("settings-first.xml");
    let text = fs::read_to_string(&file).expect("read");
    let element = &text[text.find("<connection").expect("start")
        ..text.find("</connection>").expect("end") + "</connection>".len()];
    let added = text.replace(
        "</group>",
        &format!(
            "  {}\n  </group>",
            element.replace("\"first\"", "\"by-hand\"")
        ),
    );
    fs::write(&file, added).expect("edit in place");
    assert_eq!(
        a.names().expect("names"),
        vec!["by-hand", "first", "Öresund"]
    );
    assert!(matches!(
        a.create(&connection("BY-HAND", t0())),
        Err(StoreError::AlreadyExists { .. })
    ));
}

#[test]
fn a_file_written_by_hand_while_a_process_runs_is_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = folder(dir.path());
    store.create(&connection("first", t0())).expect("create");
    assert!(matches!(
        store.load("later"),
        Err(StoreError::NotFound { .. })
    ));
    // A settings file copied in by hand (no preauth process involved).
    let text = fs::read_to_string(dir.path().join("settings-first.xml"))
        .expect("read")
        .replace("\"first\"", "\"later\"");
    fs::write(dir.path().join("settings-by-hand.xml"), text).expect("write by hand");
    assert_eq!(store.load("later").expect("found").name, "later");
    store.lock("later").expect("lockable");
}
