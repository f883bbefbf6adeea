//! `${NAME}` substitution: textual, case-insensitive, recursive, guarded; and how the
//! interpreter applies it statement by statement.

use preauth_script::limits::MAX_SUBSTITUTION_DEPTH;
use preauth_script::{Defines, StatementError, StatementKind, SubstituteError, split, substitute};

#[test]
fn names_are_case_insensitive_and_values_recursive() {
    let mut defines = Defines::new();
    defines.define("Env", "prod");
    defines.define("CONN", "books-${env}");
    defines.define("greeting", "${conn} on ${ENV}");
    assert_eq!(
        substitute("x ${GREETING} y", &defines).unwrap(),
        "x books-prod on prod y"
    );
    assert_eq!(
        substitute("no references", &defines).unwrap(),
        "no references"
    );
    defines.define("env", "test");
    assert_eq!(substitute("${conn}", &defines).unwrap(), "books-test");
    assert_eq!(defines.len(), 3);
    assert!(defines.undefine("ENV"));
    assert!(!defines.undefine("env"));
    assert_eq!(
        substitute("${conn}", &defines),
        Err(SubstituteError::Undefined { name: "env".into() })
    );
}

#[test]
fn undefined_name_is_named_in_the_error() {
    let error = substitute("show connection '${Missing}'", &Defines::new()).unwrap_err();
    assert_eq!(
        error,
        SubstituteError::Undefined {
            name: "Missing".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "'${Missing}' is not defined; define it first with local define Missing \"…\""
    );
}

#[test]
fn cycles_are_detected_with_their_chain() {
    let mut defines = Defines::new();
    defines.define("A", "${b}");
    defines.define("B", "x${C}");
    defines.define("C", "${a}");
    let error = substitute("${A}", &defines).unwrap_err();
    assert_eq!(
        error,
        SubstituteError::Cycle {
            name: "a".into(),
            chain: "A -> B -> C -> A".into()
        }
    );
    defines.define("SELF", "${self}");
    assert!(matches!(
        substitute("${SELF}", &defines),
        Err(SubstituteError::Cycle { .. })
    ));
}

#[test]
fn depth_is_limited() {
    let mut defines = Defines::new();
    for level in 0..=MAX_SUBSTITUTION_DEPTH {
        defines.define(&format!("L{level}"), format!("${{L{}}}", level + 1));
    }
    defines.define(&format!("L{}", MAX_SUBSTITUTION_DEPTH + 1), "bottom");
    assert_eq!(
        substitute("${L0}", &defines),
        Err(SubstituteError::TooDeep {
            name: format!("L{MAX_SUBSTITUTION_DEPTH}"),
            limit: MAX_SUBSTITUTION_DEPTH
        })
    );
    assert_eq!(substitute("${L2}", &defines).unwrap(), "bottom");
}

#[test]
fn exponential_growth_is_stopped() {
    let mut defines = Defines::new();
    defines.define("X0", "x".repeat(1024));
    for level in 1..=12 {
        let previous = format!("${{X{}}}", level - 1);
        defines.define(&format!("X{level}"), previous.repeat(4));
    }
    assert!(matches!(
        substitute("${X12}", &defines),
        Err(SubstituteError::TooLarge { .. })
    ));
}

#[test]
fn malformed_references_are_errors() {
    for text in ["${", "${}", "${1A}", "${A", "${A B}"] {
        assert_eq!(
            substitute(text, &Defines::new()),
            Err(SubstituteError::Malformed),
            "{text}"
        );
    }
}

#[test]
fn defines_debug_shows_names_only() {
    let mut defines = Defines::new();
    defines.define_secret("Pwd", "hunter2");
    assert!(defines.is_secret("PWD"));
    assert_eq!(defines.get("pwd"), Some("hunter2"));
    let shown = format!("{defines:?}");
    assert!(
        shown.contains("Pwd") && !shown.contains("hunter2"),
        "{shown}"
    );
}

#[test]
fn the_interpreter_substitutes_each_statement_before_parsing_it() {
    let script = "local define PLATFORM exact\nlocal define NAME 'books'\npreauthenticate ${platform} client id 'c' redirect url 'r' as connection '${Name}';\nlocal remark ${NOT_DEFINED} is fine here\nshow connection '${gone}'";
    let raws = split(script, "run.sql").unwrap();
    assert_eq!(raws.len(), 5);
    let mut defines = Defines::new();
    for raw in &raws[..2] {
        match raw.substitute_and_parse(&defines).unwrap().kind {
            StatementKind::Define { name, value } => defines.define(&name, value),
            other => panic!("{other:?}"),
        }
    }
    let statement = raws[2].substitute_and_parse(&defines).unwrap();
    match &statement.kind {
        StatementKind::Preauthenticate(p) => {
            assert_eq!(p.app.platform, "exact");
            assert_eq!(p.connection, "books");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        statement.raw().contains("${platform}"),
        "raw keeps the text as written"
    );
    assert_eq!(statement.location.line, 3);
    assert!(matches!(
        raws[3].substitute_and_parse(&defines).unwrap().kind,
        StatementKind::Remark { .. }
    ));
    match raws[4].substitute_and_parse(&defines) {
        Err(StatementError::Substitute { location, source }) => {
            assert_eq!(
                source,
                SubstituteError::Undefined {
                    name: "gone".into()
                }
            );
            assert_eq!(location.to_string(), "run.sql:5:1");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_parse_error_after_substitution_shows_the_substituted_line() {
    let raws = split("show platforms; show ${WHAT};", "-c").unwrap();
    let mut defines = Defines::new();
    defines.define("what", "conections");
    let error = raws[1].substitute_and_parse(&defines).unwrap_err();
    assert_eq!(
        error.to_string(),
        "-c:1:22: expected 'connection', 'connections', 'api', 'platform', 'platforms', 'access', 'limits', 'machines', 'webhook' or 'webhooks', found 'conections'\n  |\n1 | show platforms; show conections\n  |                      ^\n  = help: did you mean 'connections'?"
    );
}
