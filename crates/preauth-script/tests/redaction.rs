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

#[test]
fn history_gets_nothing_when_input_cannot_be_checked() {
    for input in [
        "encrpyt connection 'hunter2';",
        "encrypt connection 'hunter2",
        "show platforms; encrypt value hunter2;",
    ] {
        assert_eq!(redact_for_history(input), None, "{input}");
    }
}
