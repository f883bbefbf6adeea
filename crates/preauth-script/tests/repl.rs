//! The REPL helper: when input is complete, what completes, what is highlighted, and the
//! history file's permissions.

use std::sync::Arc;

mod support;
use support::strip_ansi;

use preauth_script::repl::{ScriptHelper, highlight, input_is_complete, secure_history_file};

#[test]
fn validator_waits_for_the_end_of_a_statement() {
    for partial in [
        "show connections",
        "show\nconnections",
        "preauthenticate exact client id 'c'\n  redirect url 'r'",
        "encrypt connection 'a;b",
        "encrypt connection 'first line\nsecond; line",
        "show connections; /* a comment that",
        "show platforms; show",
        "show connections -- ; in a comment",
    ] {
        assert!(
            !input_is_complete(partial),
            "{partial:?} should be incomplete"
        );
    }
    for complete in [
        "",
        "   ",
        "show connections;",
        "show\nconnections ;  -- done",
        "local define A 'b'",
        "LOCAL echo no semicolon needed",
        "local remark it's fine",
        "encrypt connection 'a;b';",
        "/* closed */ show platforms;",
        "local define A 'unclosed",
    ] {
        assert!(
            input_is_complete(complete),
            "{complete:?} should be complete"
        );
    }
}

fn helper(names: &[&str]) -> ScriptHelper {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    ScriptHelper::new(Arc::new(move || names.clone()))
}

fn replacements(helper: &ScriptHelper, line: &str) -> (usize, Vec<String>) {
    let (start, pairs) = helper.completions(line, line.len());
    (start, pairs.into_iter().map(|p| p.replacement).collect())
}

#[test]
fn completes_statement_keywords_in_the_typed_case() {
    let helper = helper(&[]);
    assert_eq!(replacements(&helper, "sh"), (0, vec!["show ".to_owned()]));
    assert_eq!(
        replacements(&helper, "RE"),
        (0, vec!["REGISTER ".to_owned(), "REFRESH ".to_owned()])
    );
    let (_, all) = replacements(&helper, "");
    assert!(all.contains(&"local ".to_owned()) && all.contains(&"create ".to_owned()));
}

#[test]
fn completes_the_keywords_the_grammar_accepts_next() {
    let helper = helper(&[]);
    let (start, words) = replacements(&helper, "show platforms; show conn");
    assert_eq!(start, 21);
    assert_eq!(words, ["connection ", "connections "]);
    let (_, words) = replacements(&helper, "preauthenticate exact client id 'c' re");
    assert_eq!(words, ["redirect "]);
    let (_, words) = replacements(&helper, "local on error exit ");
    assert_eq!(words, ["success ", "failure ", "warning "]);
    assert!(replacements(&helper, "bogus stuff ").1.is_empty());
}

#[test]
fn completes_help_topics_with_all() {
    let helper = helper(&[]);
    let (start, words) = replacements(&helper, "help a");
    assert_eq!(start, 5);
    for topic in ["all ", "alter ", "advance "] {
        assert!(words.contains(&topic.to_owned()), "{topic} in {words:?}");
    }
    let (_, words) = replacements(&helper, "\\? refresh a");
    assert_eq!(words, ["all "]);
}

#[test]
fn completes_connection_names_after_connection() {
    let helper = helper(&["books", "Bank o'Brien", "payroll"]);
    assert_eq!(
        replacements(&helper, "refresh connection "),
        (
            19,
            vec![
                "'books'".to_owned(),
                "'Bank o''Brien'".to_owned(),
                "'payroll'".to_owned()
            ]
        )
    );
    assert_eq!(
        replacements(&helper, "drop connection 'b"),
        (17, vec!["books'".to_owned(), "Bank o''Brien'".to_owned()])
    );
    assert!(replacements(&helper, "show platforms ").1.is_empty());
}

#[test]
fn highlighting_keeps_the_text_and_marks_keywords_and_strings() {
    let line = "show connection 'show' -- show";
    let painted = highlight(line);
    assert_eq!(strip_ansi(&painted), line);
    assert!(
        painted.starts_with("\x1b[1mshow\x1b[0m \x1b[1mconnection\x1b[0m "),
        "{painted:?}"
    );
    assert!(painted.contains("\x1b[32m'show'\x1b[0m"), "{painted:?}");
    assert!(painted.ends_with("\x1b[2m-- show\x1b[0m"), "{painted:?}");
    assert_eq!(strip_ansi(&highlight("é 'open ünïcode")), "é 'open ünïcode");
}

#[cfg(unix)]
#[test]
fn history_file_is_created_and_narrowed_to_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("history");
    secure_history_file(&fresh).unwrap();
    assert_eq!(
        std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let loose = dir.path().join("loose");
    std::fs::write(&loose, "#V2\nshow connections;\n").unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    secure_history_file(&loose).unwrap();
    assert_eq!(
        std::fs::metadata(&loose).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::read_to_string(&loose).unwrap(),
        "#V2\nshow connections;\n"
    );

    assert!(secure_history_file(&dir.path().join("missing/dir/history")).is_err());
}

#[cfg(windows)]
#[test]
fn history_file_is_created_and_narrowed_to_owner_only() {
    let readers = |path: &std::path::Path| {
        winfs::readers_besides_owner(&std::fs::File::open(path).unwrap()).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("history");
    secure_history_file(&fresh).unwrap();
    assert_eq!(readers(&fresh), Vec::<String>::new());

    let loose = dir.path().join("loose");
    std::fs::write(&loose, "#V2\nshow connections;\n").unwrap();
    winfs::grant_read_to_everyone(&loose).unwrap();
    assert!(!readers(&loose).is_empty());
    secure_history_file(&loose).unwrap();
    assert_eq!(readers(&loose), Vec::<String>::new());
    assert_eq!(
        std::fs::read_to_string(&loose).unwrap(),
        "#V2\nshow connections;\n"
    );

    assert!(secure_history_file(&dir.path().join("missing/dir/history")).is_err());
}
