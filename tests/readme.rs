//! The README documents every connection-string key exactly as the code knows it.

use preauth_core::settings::keys::KEYS;

#[test]
fn readme_lists_every_connection_string_key_with_its_meaning() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    for doc in KEYS {
        let row = format!("| `{}` | {} |", doc.key, doc.meaning);
        assert!(
            readme.contains(&row),
            "README.md lacks the row for '{}'; expected: {row}",
            doc.key
        );
    }
}

#[test]
fn readme_holds_the_two_set_up_commands_that_ci_runs() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let ci = std::fs::read_to_string(format!("{root}/.ci/run")).expect(".ci/run");
    assert!(
        readme.contains(
            "cargo run -- --sandbox --settings-dir demo-settings examples/quickstart.sql"
        )
    );
    assert!(readme.contains("cargo test --workspace"));
    assert!(ci.contains("cargo test --workspace"));
}
