//! `preauthenticate connection '…'` and `alter connection '…' set …`: how they parse, and
//! that a client secret in `alter` is a secret literal (redacted in `--echo` and history).

use preauth_script::{StatementKind, parse, redact_for_history};

const SECRET: &str = "hunter2";

fn one(source: &str) -> StatementKind {
    let mut statements = parse(source, "t").unwrap_or_else(|e| panic!("{source:?}: {e}"));
    assert_eq!(statements.len(), 1, "{source:?}");
    statements.remove(0).kind
}

#[test]
fn preauthenticate_connection_names_a_stored_connection() {
    for (source, name) in [
        ("preauthenticate connection 'acme-nl'", "acme-nl"),
        ("PREAUTHENTICATE Connection \"o'brien\"", "o'brien"),
        ("preauthenticate connection 'o''brien'", "o'brien"),
    ] {
        match one(source) {
            StatementKind::PreauthenticateConnection { name: got } => assert_eq!(got, name),
            other => panic!("{source:?}: {other:?}"),
        }
        assert!(!parse(source, "t").unwrap()[0].carries_secret_literal());
    }
    // The new-connection form still parses as before.
    assert!(matches!(
        one("preauthenticate exact client id 'c' redirect url 'r' as connection 'n'"),
        StatementKind::Preauthenticate(_)
    ));
    assert!(parse("preauthenticate connection", "t").is_err());
    assert!(parse("preauthenticate connection 'a' as connection 'b'", "t").is_err());
}

#[test]
fn alter_connection_sets_any_of_the_app_settings_once() {
    let StatementKind::AlterConnection(a) = one(&format!(
        "alter connection 'acme' set redirect url 'http://127.0.0.1:1/cb', client secret '{SECRET}', \
         client id 'cid', api url 'https://start.exactonline.be'"
    )) else {
        panic!("not an alter statement")
    };
    assert_eq!(a.connection, "acme");
    assert_eq!(a.client_id.as_deref(), Some("cid"));
    assert_eq!(a.client_secret.as_ref().map(|s| s.secret()), Some(SECRET));
    assert_eq!(a.redirect_url.as_deref(), Some("http://127.0.0.1:1/cb"));
    assert_eq!(a.api_url.as_deref(), Some("https://start.exactonline.be"));

    let StatementKind::AlterConnection(a) = one("ALTER CONNECTION 'acme' SET REDIRECT URI 'x'")
    else {
        panic!("not an alter statement")
    };
    assert_eq!(a.redirect_url.as_deref(), Some("x"));
    assert!(a.client_id.is_none() && a.client_secret.is_none() && a.api_url.is_none());

    for bad in [
        "alter connection 'acme'",
        "alter connection 'acme' set",
        "alter connection 'acme' set client id 'a', client id 'b'",
        "alter connection 'acme' set client id 'a' client secret 'b'",
        "alter connection 'acme' set access token 'a'",
        "alterx connection 'acme' set client id 'a'",
    ] {
        assert!(parse(bad, "t").is_err(), "{bad:?} parsed");
    }
}

#[test]
fn a_client_secret_in_alter_is_redacted() {
    let source = format!("alter connection 'acme' set client id 'cid', client secret '{SECRET}'");
    let statement = &parse(&source, "t").unwrap()[0];
    assert!(statement.carries_secret_literal());
    assert!(!format!("{statement:?}").contains(SECRET));
    let redacted = statement.redacted_raw().expect("positions known");
    assert!(!redacted.contains(SECRET), "{redacted}");
    assert!(redacted.contains("client id 'cid'"), "{redacted}");
    let history = redact_for_history(&source);
    assert!(history.is_none_or(|h| !h.contains(SECRET)));

    let plain = &parse("alter connection 'acme' set client id 'cid'", "t").unwrap()[0];
    assert!(!plain.carries_secret_literal());
}
