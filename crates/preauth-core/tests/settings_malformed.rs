//! A malformed corpus: every bad file gives an error naming file, line and column,
//! and no operation writes any file.

mod settings_support;

use std::fs;

use preauth_core::platform::Registry;
use preauth_core::settings::SettingsFolder;
use preauth_core::store::{Store, StoreError};
use settings_support::*;

/// Expected (line, column, words of the message) per corpus file.
const CORPUS: &[(&str, u64, u64, &str)] = &[
    ("truncated.xml", 5, 7, "tag not closed"),
    ("wrong-root.xml", 2, 1, "<configuration>"),
    ("duplicate-names.xml", 6, 5, "defined twice"),
    ("invalid-utf8.xml", 3, 26, "UTF-8"),
    ("mismatched-end.xml", 3, 62, "expected `</database>`"),
    ("duplicate-attribute.xml", 2, 19, "occurs twice"),
    ("nameless-connection.xml", 3, 5, "no name attribute"),
];

fn generated() -> Vec<(&'static str, Vec<u8>, u64, u64, &'static str)> {
    let huge = format!(
        "<settings>\n  <group name=\"a\">\n    <connection name=\"h\"><database connectionString=\"{}\"/></connection>\n  </group>\n</settings>\n",
        "x".repeat(2 * 1024 * 1024)
    );
    let deep = format!(
        "<settings>{}{}</settings>",
        "<a>".repeat(40),
        "</a>".repeat(40)
    );
    let bom_then_junk = b"\xef\xbb\xbfjunk<settings/>".to_vec();
    let bad_reference = b"<settings>\n  <group name=\"&hunter2;\"/>\n</settings>".to_vec();
    vec![
        (
            "huge-attribute",
            huge.into_bytes(),
            3,
            54,
            "longer than 1 MiB",
        ),
        ("deep", deep.into_bytes(), 1, 104, "nest deeper"),
        ("bom-then-junk", bom_then_junk, 1, 1, "outside the root"),
        ("empty", Vec::new(), 1, 1, "no root element"),
        (
            "bad-reference",
            bad_reference,
            2,
            16,
            "does not start a reference",
        ),
        (
            "unclosed-comment",
            b"<settings><!-- x".to_vec(),
            1,
            11,
            "comment not closed",
        ),
    ]
}

/// Runs every store operation against a folder holding `bad` next to a good file and
/// checks that each fails with the expected position and that no file changes.
fn check(name: &str, bad: &[u8], line: u64, column: u64, words: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SettingsFolder::open(dir.path(), Registry::builtin(), None).expect("open");
    store
        .create(&connection("good", t0()))
        .expect("good connection");
    let bad_path = dir.path().join("settings-bad.xml");
    fs::write(&bad_path, bad).expect("write corpus file");
    let before = snapshot(dir.path());

    let expect_malformed = |what: &str, result: Result<(), StoreError>| match result {
        Err(StoreError::Malformed {
            path,
            line: l,
            column: c,
            message,
        }) => {
            assert_eq!(path, bad_path, "{name}: {what}");
            assert_eq!((l, c), (line, column), "{name}: {what}: {message}");
            assert!(message.contains(words), "{name}: {what}: {message}");
            assert!(!message.contains("hunter2"), "{name}: {what}: {message}");
            let shown = format!("{}:{line}:{column}: {message}", bad_path.display());
            assert_eq!(
                StoreError::Malformed {
                    path,
                    line,
                    column,
                    message
                }
                .to_string(),
                shown
            );
        }
        other => panic!("{name}: {what}: expected Malformed, got {other:?}"),
    };
    // The broken file is reported on its own; the good connection keeps working.
    let listing = store.list().expect("the folder lists");
    assert_eq!(listing.connections.len(), 1, "{name}");
    assert!(listing.connections[0].connection.is_ok(), "{name}");
    match listing.problems.as_slice() {
        [problem @ StoreError::BrokenFile { source, backup }] => {
            expect_malformed("list", Err(clone_malformed(source)));
            assert!(backup.is_none(), "{name}");
            let shown = problem.to_string();
            assert!(
                shown.contains("the other connections still work: fix this file"),
                "{name}: {shown}"
            );
        }
        other => panic!("{name}: expected one BrokenFile problem, got {other:?}"),
    }
    assert_eq!(store.names().expect("names"), vec!["good"], "{name}");
    store.load("good").expect("load beside a broken file");
    let mut locked = store.lock("good").expect("lock beside a broken file");
    locked.load().expect("load under lock");
    drop(locked);
    store
        .export_connection("good", false)
        .expect("export beside a broken file");
    expect_malformed("import", store.import_file(&bad_path).map(drop));
    assert_eq!(snapshot(dir.path()), before, "{name}: a file changed");
}

fn clone_malformed(error: &StoreError) -> StoreError {
    match error {
        StoreError::Malformed {
            path,
            line,
            column,
            message,
        } => StoreError::Malformed {
            path: path.clone(),
            line: *line,
            column: *column,
            message: message.clone(),
        },
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn malformed_corpus_gives_positions_and_writes_nothing() {
    for (file, line, column, words) in CORPUS {
        let bytes = fs::read(data(&format!("malformed/{file}"))).expect("corpus file");
        check(file, &bytes, *line, *column, words);
    }
    for (name, bytes, line, column, words) in generated() {
        check(name, &bytes, line, column, words);
    }
}

#[test]
fn a_file_broken_while_locked_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SettingsFolder::open(dir.path(), Registry::builtin(), None).expect("open");
    let conn = connection("acme", t0());
    store.create(&conn).expect("create");
    let path = dir.path().join("settings-acme.xml");
    let mut locked = store.lock("acme").expect("lock");
    let loaded = locked.load().expect("load");
    let broken = fs::read_to_string(&path)
        .expect("read")
        .replace("</settings>", "</setings>");
    fs::write(&path, &broken).expect("break the file");
    assert!(matches!(
        locked.save(&loaded),
        Err(StoreError::Malformed { .. })
    ));
    assert_eq!(fs::read_to_string(&path).expect("read"), broken);
    assert!(!dir.path().join("settings-acme.xml.bak").exists());
}

#[test]
fn bad_connection_strings_and_missing_keys_name_the_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, provider: &str, cs: &str| {
        let text = format!(
            "<settings>\n  <group name=\"g\">\n    <connection name=\"{name}\">\n      <database provider=\"{provider}\" connectionString=\"{cs}\"/>\n    </connection>\n  </group>\n</settings>\n"
        );
        fs::write(dir.path().join(format!("settings-{name}.xml")), text).expect("write");
    };
    write(
        "quote",
        "ExactOnlineAll",
        "api-url='x;api-client-secret=hunter2",
    );
    write(
        "nokey",
        "TwinfieldAll",
        "api-url=u;api-client-id=i;api-client-secret=hunter2",
    );
    fs::write(
        dir.path().join("settings-nodb.xml"),
        "<settings><group name=\"g\"><connection name=\"nodb\"/></group></settings>",
    )
    .expect("write");
    let before = snapshot(dir.path());
    let store = SettingsFolder::open(dir.path(), Registry::builtin(), None).expect("open");
    assert_eq!(
        store.names().expect("the files parse"),
        vec!["nodb", "nokey", "quote"]
    );
    for (name, words) in [
        (
            "quote",
            "character 9: the quoted value that starts here has no closing quote",
        ),
        ("nokey", "has no api-redirect-url, which Twinfield needs"),
        ("nodb", "no <database> element"),
    ] {
        match store.load(name) {
            Err(e @ StoreError::InvalidConnection { .. }) => {
                let shown = e.to_string();
                assert!(
                    shown.contains(&format!("settings-{name}.xml: connection '{name}'")),
                    "{shown}"
                );
                assert!(shown.contains(words), "{shown}");
                assert!(!shown.contains("hunter2"), "a secret leaked: {shown}");
            }
            other => panic!("{name}: expected InvalidConnection, got {other:?}"),
        }
    }
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn oversized_files_are_refused_unread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("settings-big.xml");
    let file = fs::File::create(&path).expect("create");
    file.set_len(17 * 1024 * 1024).expect("sparse file");
    let store = SettingsFolder::open(dir.path(), Registry::builtin(), None).expect("open");
    let listing = store.list().expect("the folder lists");
    match listing.problems.as_slice() {
        [StoreError::BrokenFile { source, .. }] => match source.as_ref() {
            StoreError::Malformed {
                message,
                line,
                column,
                ..
            } => {
                assert_eq!((*line, *column), (1, 1));
                assert!(message.contains("larger than 16 MiB"), "{message}");
            }
            other => panic!("expected Malformed, got {other:?}"),
        },
        other => panic!("expected one BrokenFile, got {other:?}"),
    }
    assert_eq!(
        fs::metadata(&path).expect("metadata").len(),
        17 * 1024 * 1024
    );
}
