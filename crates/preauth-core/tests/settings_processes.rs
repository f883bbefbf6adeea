//! Several real processes write one settings folder at once: no file is ever corrupt
//! and no update is lost.
//!
//! The test re-runs its own binary (`--exact <this test>`) with `PREAUTH_SETTINGS_CHILD`
//! set; in that mode it is one writer: it increments a counter stored as an extra key
//! of a shared connection (lock, re-read, save), rewrites a neighbour in the same
//! file, and creates connections of its own.

mod settings_support;

use std::path::Path;
use std::process::Command;

use preauth_core::platform::Registry;
use preauth_core::settings::SettingsFolder;
use preauth_core::store::Store;
use settings_support::*;

const CHILD_ENV: &str = "PREAUTH_SETTINGS_CHILD";
const TEST_NAME: &str = "processes_writing_one_folder_lose_no_update";
const PROCESSES: usize = 4;
const ROUNDS: usize = 25;

fn open(dir: &Path) -> SettingsFolder {
    SettingsFolder::open(dir, Registry::builtin(), None).expect("open folder")
}

fn counter(store: &SettingsFolder, name: &str) -> usize {
    let conn = store.load(name).expect("load counter");
    conn.extra
        .iter()
        .find(|(k, _)| k == "n")
        .and_then(|(_, v)| v.parse().ok())
        .expect("counter key")
}

/// One writer process.
fn child(dir: &Path, id: &str) {
    let store = open(dir);
    for round in 0..ROUNDS {
        for name in ["counter", "neighbour"] {
            let mut locked = store.lock(name).expect("lock");
            let mut conn = locked.load().expect("load under lock");
            for (k, v) in conn.extra.iter_mut() {
                if k == "n" {
                    let n: usize = v.parse().expect("a number");
                    *v = (n + 1).to_string();
                }
            }
            if let Some(tokens) = conn.tokens.as_mut() {
                tokens.refresh_token = Some(preauth_core::secret::RefreshToken::new(format!(
                    "refresh-{id}-{round}"
                )));
            }
            locked.save(&conn).expect("save");
        }
        if round % 5 == 0 {
            store
                .create(&connection(&format!("child-{id}-{round}"), t0()))
                .expect("create own connection");
        }
        store.names().expect("every file parses while others write");
    }
}

#[test]
fn processes_writing_one_folder_lose_no_update() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        let id = std::env::var("PREAUTH_SETTINGS_CHILD_ID").expect("child id");
        child(Path::new(&dir), &id);
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let mut shared = connection("counter", t0());
    shared.extra = vec![("n".into(), "0".into())];
    store.create(&shared).expect("create counter");
    // A second connection moved by hand into the same file, next to a hand-written
    // group: both connections are rewritten under one file lock.
    let mut neighbour = connection("neighbour", t0());
    neighbour.extra = vec![("n".into(), "0".into())];
    store.create(&neighbour).expect("create neighbour");
    let own = dir.path().join("settings-neighbour.xml");
    let own_text = std::fs::read_to_string(&own).expect("read");
    let start = own_text.find("<connection").expect("connection element");
    let end = own_text.find("</connection>").expect("end") + "</connection>".len();
    std::fs::remove_file(&own).expect("remove");
    let file = dir.path().join("settings-counter.xml");
    let text = std::fs::read_to_string(&file).expect("read");
    let text = text.replace(
        "</group>",
        &format!(
            "  {}\n  </group>\n  <group name=\"other\"/>",
            &own_text[start..end]
        ),
    );
    std::fs::write(&file, text).expect("write by hand");
    assert_eq!(store.names().expect("names"), vec!["counter", "neighbour"]);

    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..PROCESSES)
        .map(|i| {
            Command::new(&exe)
                .args(["--exact", TEST_NAME, "--test-threads=1"])
                .env(CHILD_ENV, dir.path())
                .env("PREAUTH_SETTINGS_CHILD_ID", i.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn child")
        })
        .collect();
    for mut c in children {
        let status = c.wait().expect("child runs");
        assert!(status.success(), "a child failed: {status}");
    }

    assert_eq!(counter(&store, "counter"), PROCESSES * ROUNDS);
    assert_eq!(counter(&store, "neighbour"), PROCESSES * ROUNDS);
    let names = store.names().expect("names");
    assert_eq!(names.len(), 2 + PROCESSES * ROUNDS.div_ceil(5), "{names:?}");
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(
        text.contains("<group name=\"other\"/>"),
        "hand-written parts survive"
    );
    let leftovers: Vec<_> = snapshot(dir.path())
        .into_keys()
        .filter(|n| !n.starts_with("settings"))
        .collect();
    assert!(leftovers.is_empty(), "unexpected files: {leftovers:?}");
}
