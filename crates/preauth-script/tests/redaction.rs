//! Secret literals are recognised and never reach history or `Debug` output.

use preauth_script::{REDACTED, parse, redact_for_history};

const SECRET: &str = "hunter2";

fn secret_statements() -> Vec<String> {
    vec![
        format!("encrypt connection 'api=x;password={SECRET}'"),
        format!("ENCRYPT VALUE \"{SECRET}\""),
        format!("decrypt connection 'dk1:{SECRET}'"),
        format!("local define encrypted PWD \"dk1:{SECRET}\""),
        format!("local define encrypted PWD dk1:{SECRET}"),
        format!(
            "preauthenticate exact client id 'cid' client secret '{SECRET}' redirect url 'r' as connection 'n'"
        ),
        format!("exchange code url 'http://127.0.0.1/cb?code={SECRET}'"),
        format!(
            "register connection 'o' platform exact client id 'c' redirect url 'r' access token '{SECRET}' refresh token '{SECRET}x'"
        ),
    ]
}

#[test]
fn secret_statements_are_recognised_and_debug_is_redacted() {
    for source in secret_statements() {
        let statements = parse(&source, "t").unwrap();
        assert!(statements[0].carries_secret_literal(), "{source}");
        let debug = format!("{statements:?}");
        assert!(!debug.contains(SECRET), "{debug}");
        let redacted = statements[0].redacted_raw().unwrap();
        assert!(!redacted.contains(SECRET), "{redacted}");
    }
}

#[test]
fn plain_statements_carry_no_secret() {
    for source in [
        "show connections",
        "preauthenticate exact client id 'cid' redirect url 'r' as connection 'n'",
        "local define A 'b'",
        "refresh connection 'a'",
        "create platform 'p' authorize url 'a' token url 't'",
    ] {
        let statements = parse(source, "t").unwrap();
        assert!(!statements[0].carries_secret_literal(), "{source}");
        assert_eq!(statements[0].redacted_raw().as_deref(), Some(source));
    }
}

#[test]
fn history_keeps_plain_input_as_typed() {
    let input = "show connections;\nrefresh connection 'a' force;";
    assert_eq!(redact_for_history(input).as_deref(), Some(input));
}

#[test]
fn history_gets_secret_literals_replaced() {
    for source in secret_statements() {
        let input = format!("show platforms; {source};");
        let stored = redact_for_history(&input).unwrap();
        assert!(!stored.contains(SECRET), "{stored}");
        assert!(stored.contains(REDACTED), "{stored}");
        assert!(stored.starts_with("show platforms; "), "{stored}");
    }
    assert_eq!(
        redact_for_history(
            "preauthenticate exact client id 'cid' client secret 'hunter2' redirect url 'r' as connection 'n';"
        )
        .as_deref(),
        Some(
            "preauthenticate exact client id 'cid' client secret '<redacted>' redirect url 'r' as connection 'n';"
        )
    );
}

/// Statements that do not parse, each with a secret that its neighbouring words give away
/// (however misspelt), and the redacted form history keeps.
const UNPARSED: &[(&str, &str)] = &[
    (
        "encrpyt connection 'hunter2';",
        "encrpyt connection '<redacted>';",
    ),
    (
        "show platforms; encrypt value hunter2;",
        "show platforms; encrypt value '<redacted>';",
    ),
    (
        "preauthenticate exact client id 'cid' client secrte 'hunter2' redirect url 'r' as connection 'books' now;",
        "preauthenticate exact client id 'cid' client secrte '<redacted>' redirect url 'r' as connection 'books' now;",
    ),
    (
        "register connection 'o' platform exact client id 'c' redirect url 'r' access tokn 'hunter2' refresh token 'hunter2x' obtained 'x';",
        "register connection 'o' platform exact client id 'c' redirect url 'r' access tokn '<redacted>' refresh token '<redacted>' obtained 'x';",
    ),
    (
        "alter connection 'b' set client secret \"hunter2\", bogus;",
        "alter connection 'b' set client secret '<redacted>', bogus;",
    ),
    (
        "alter connection 'b' set clientsecret 'hunter2';",
        "alter connection 'b' set clientsecret '<redacted>';",
    ),
    (
        "exchnge code url 'http://127.0.0.1/cb?code=hunter2';",
        "exchnge code url '<redacted>';",
    ),
    (
        "local defin PW \"hunter2\"",
        "local defin '<redacted>' '<redacted>'",
    ),
    (
        "show connection 'x' 'api=a;password=hunter2';",
        "show connection 'x' '<redacted>';",
    ),
];

#[test]
fn history_keeps_input_that_does_not_parse_with_its_secrets_replaced() {
    for (input, kept) in UNPARSED {
        assert!(parse(input, "t").is_err(), "{input} parses");
        assert_eq!(redact_for_history(input).as_deref(), Some(*kept), "{input}");
    }
    // Names, URLs and ids stay readable, so that a typo can be fixed.
    for input in [
        "show conection 'demo';",
        "drop api key 'nightly' now;",
        "refresh conection 'books' force;",
    ] {
        assert_eq!(redact_for_history(input).as_deref(), Some(input));
    }
    // An unclosed string: the rest of the input is the string, and it is a secret here.
    assert_eq!(
        redact_for_history("encrypt connection 'hunter2").as_deref(),
        Some("encrypt connection '<redacted>'")
    );
}

#[test]
fn parse_errors_echo_names_and_mask_only_secrets() {
    let echo = parse("show conection 'demo';", "t")
        .unwrap_err()
        .to_string();
    assert!(echo.contains("1 | show conection 'demo'"), "{echo}");
    for (input, _) in UNPARSED {
        let echo = parse(input, "t").unwrap_err().to_string();
        assert!(!echo.contains(SECRET), "{echo}");
    }
    let echo = parse(
        "preauthenticate exact client id 'my-id' client secrte 'hunter2' as connection 'books' x",
        "t",
    )
    .unwrap_err()
    .to_string();
    assert!(
        echo.contains("client id 'my-id' client secrte '*******' as connection 'books'"),
        "{echo}"
    );
}
