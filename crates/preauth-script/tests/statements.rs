//! Every statement parses into the AST the interpreter expects, in both quote styles, any
//! case, with comments, over several lines, and with the terminators the language allows.

use preauth_script::{
    ClientAuthentication, ExportMode, OnErrorMode, ParseErrorKind, PlatformEndpoints,
    RefreshTokens, Statement, StatementKind, parse,
};

fn all(source: &str) -> Vec<Statement> {
    parse(source, "test.sql").unwrap_or_else(|e| panic!("{source:?} should parse:\n{e}"))
}

fn one(source: &str) -> StatementKind {
    let mut statements = all(source);
    assert_eq!(statements.len(), 1, "{source:?}");
    statements.remove(0).kind
}

#[test]
fn local_define_in_both_quote_styles_and_bare() {
    for (source, expected) in [
        ("local define ENV \"prod\"", "prod"),
        ("local define ENV 'prod'", "prod"),
        ("LOCAL DEFINE ENV \"say \"\"hi\"\"\"", "say \"hi\""),
        ("local define ENV 'it''s'", "it's"),
        ("local define ENV prod", "prod"),
    ] {
        match one(source) {
            StatementKind::Define { name, value } => {
                assert_eq!(name, "ENV");
                assert_eq!(value, expected, "{source}");
            }
            other => panic!("{source}: {other:?}"),
        }
    }
}

#[test]
fn local_define_encrypted_holds_a_secret() {
    match one("local define encrypted PWD \"dk1:abc\"") {
        StatementKind::DefineEncrypted { name, value } => {
            assert_eq!(name, "PWD");
            assert_eq!(value.secret(), "dk1:abc");
            assert_eq!(format!("{value:?}"), "SecretText([redacted])");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn local_undefine_include_and_remark() {
    assert!(matches!(one("local undefine env"), StatementKind::Undefine { name } if name == "env"));
    assert!(
        matches!(one("local include 'sub/other.sql'"), StatementKind::Include { path } if path == "sub/other.sql")
    );
    assert!(
        matches!(one("local remark don't parse 'this; at all"), StatementKind::Remark { text } if text == "don't parse 'this; at all")
    );
}

#[test]
fn local_echo_takes_a_string_or_the_rest_of_the_line() {
    for (source, expected) in [
        ("local echo 'it''s done'", "it's done"),
        ("local echo \"quoted\" -- with a comment", "quoted"),
        ("local echo Hello, world", "Hello, world"),
        ("local echo Hello;", "Hello"),
        ("local echo 'a' and more", "'a' and more"),
        ("local echo", ""),
    ] {
        match one(source) {
            StatementKind::Echo { text } => assert_eq!(text, expected, "{source}"),
            other => panic!("{source}: {other:?}"),
        }
    }
}

#[test]
fn local_on_error_modes() {
    for (source, mode) in [
        ("local on error default", OnErrorMode::Default),
        ("local on error continue", OnErrorMode::Continue),
        ("Local On Error Ignore", OnErrorMode::Ignore),
        ("local on error exit success", OnErrorMode::ExitSuccess),
        ("local on error exit failure", OnErrorMode::ExitFailure),
        ("local on error exit warning", OnErrorMode::ExitWarning),
    ] {
        assert!(
            matches!(one(source), StatementKind::OnError(m) if m == mode),
            "{source}"
        );
    }
}

#[test]
fn secret_statements() {
    match one("encrypt connection 'api-url=x;password=\"p;w\"';") {
        StatementKind::EncryptConnection { connection_string } => {
            assert_eq!(connection_string.secret(), "api-url=x;password=\"p;w\"");
        }
        other => panic!("{other:?}"),
    }
    match one("ENCRYPT VALUE \"s3cr''et\";") {
        StatementKind::EncryptValue { value } => assert_eq!(value.secret(), "s3cr''et"),
        other => panic!("{other:?}"),
    }
    match one("decrypt connection 'dk1:xyz';") {
        StatementKind::DecryptConnection { text } => assert_eq!(text.secret(), "dk1:xyz"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn preauthenticate_with_options_in_any_order() {
    let source = "preauthenticate exact-online\n  as connection 'books' -- the name\n  redirect uri \"http://127.0.0.1:8080/cb\"\n  client secret 'sec'\n  client id 'cid' country 'nl' api url 'http://127.0.0.1:9/api';";
    match one(source) {
        StatementKind::Preauthenticate(p) => {
            assert_eq!(p.connection, "books");
            assert_eq!(p.app.platform, "exact-online");
            assert_eq!(p.app.country.as_deref(), Some("nl"));
            assert_eq!(p.app.api_url.as_deref(), Some("http://127.0.0.1:9/api"));
            assert_eq!(p.app.client_id, "cid");
            assert_eq!(
                p.app.client_secret.as_ref().map(|s| s.secret()),
                Some("sec")
            );
            assert_eq!(p.app.redirect_url, "http://127.0.0.1:8080/cb");
        }
        other => panic!("{other:?}"),
    }
    match one("PREAUTHENTICATE 'My Platform' client id 'c' redirect url 'r' as connection 'n'") {
        StatementKind::Preauthenticate(p) => {
            assert_eq!(p.app.platform, "My Platform");
            assert!(p.app.client_secret.is_none());
            assert!(p.app.country.is_none());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn exchange_code_with_and_without_connection() {
    match one("exchange code url 'http://127.0.0.1/cb?code=abc&state=s' for connection 'books'") {
        StatementKind::ExchangeCode { url, connection } => {
            assert_eq!(url.secret(), "http://127.0.0.1/cb?code=abc&state=s");
            assert_eq!(connection.as_deref(), Some("books"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        one("exchange code url \"u\""),
        StatementKind::ExchangeCode {
            connection: None,
            ..
        }
    ));
}

#[test]
fn register_connection_for_the_oem_flow() {
    let source = "register connection 'oem' refresh token 'rt' platform twinfield\n access token 'at' client id 'c' redirect url 'r' obtained at '2025-01-02T03:04:05Z' verify country 'nl';";
    match one(source) {
        StatementKind::Register(r) => {
            assert_eq!(r.connection, "oem");
            assert_eq!(r.app.platform, "twinfield");
            assert_eq!(r.access_token.secret(), "at");
            assert_eq!(r.refresh_token.secret(), "rt");
            assert_eq!(r.obtained_at.as_deref(), Some("2025-01-02T03:04:05Z"));
            assert!(r.verify);
            assert_eq!(r.app.country.as_deref(), Some("nl"));
        }
        other => panic!("{other:?}"),
    }
    match one(
        "register connection 'o' platform exact client id 'c' redirect uri 'r' access token 'a' refresh token 'b'",
    ) {
        StatementKind::Register(r) => {
            assert!(!r.verify);
            assert!(r.obtained_at.is_none());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn refresh_statements() {
    assert!(matches!(
        one("refresh connection 'a'"),
        StatementKind::RefreshConnection { name, force: false } if name == "a"
    ));
    assert!(matches!(
        one("REFRESH CONNECTION \"a\" FORCE"),
        StatementKind::RefreshConnection { force: true, .. }
    ));
    assert!(matches!(
        one("refresh all connections"),
        StatementKind::RefreshAll {
            older_than_days: None
        }
    ));
    assert!(matches!(
        one("refresh all connections older than 20 days"),
        StatementKind::RefreshAll {
            older_than_days: Some(20)
        }
    ));
}

#[test]
fn show_statements() {
    assert!(matches!(
        one("show connections"),
        StatementKind::ShowConnections
    ));
    assert!(matches!(
        one("SHOW PLATFORMS"),
        StatementKind::ShowPlatforms
    ));
    assert!(
        matches!(one("show connection 'x'"), StatementKind::ShowConnection { name } if name == "x")
    );
    assert!(matches!(
        one("show access token for connection \"x\""),
        StatementKind::ShowAccessToken { connection } if connection == "x"
    ));
}

#[test]
fn check_connections_thresholds_in_any_order() {
    assert!(matches!(
        one("check connections"),
        StatementKind::CheckConnections {
            warn_days: None,
            critical_days: None
        }
    ));
    assert!(matches!(
        one("check connections critical days 3 warn days 14"),
        StatementKind::CheckConnections {
            warn_days: Some(14),
            critical_days: Some(3)
        }
    ));
}

#[test]
fn settings_and_drop() {
    assert!(matches!(
        one("export settings 'a'"),
        StatementKind::ExportSettings { mode: None, .. }
    ));
    assert!(matches!(
        one("export settings 'a' plain"),
        StatementKind::ExportSettings {
            mode: Some(ExportMode::Plain),
            ..
        }
    ));
    assert!(matches!(
        one("export settings 'a' ENCRYPTED"),
        StatementKind::ExportSettings {
            mode: Some(ExportMode::Encrypted),
            ..
        }
    ));
    assert!(matches!(
        one("import settings 'settings-a.xml'"),
        StatementKind::ImportSettings { path } if path == "settings-a.xml"
    ));
    assert!(
        matches!(one("drop connection 'a'"), StatementKind::DropConnection { name, if_exists: false } if name == "a")
    );
}

#[test]
fn create_platform_with_all_options() {
    let source = "create platform 'acme' token url 'http://127.0.0.1/t' authorize url 'http://127.0.0.1/a'\n client authentication basic scope 'read write' pkce off issuer 'http://127.0.0.1'\n parameter 'acr_values' 'mfa' audience 'api' resource 'r1' prompt 'login' parameter 'resource' 'r2' refresh tokens off";
    match one(source) {
        StatementKind::CreatePlatform(p) => {
            assert_eq!(p.id, "acme");
            assert_eq!(
                p.endpoints,
                PlatformEndpoints::Given {
                    authorize_url: "http://127.0.0.1/a".into(),
                    token_url: "http://127.0.0.1/t".into(),
                    issuer: Some("http://127.0.0.1".into()),
                }
            );
            assert_eq!(p.client_authentication, Some(ClientAuthentication::Basic));
            assert_eq!(p.scope.as_deref(), Some("read write"));
            assert_eq!(p.pkce, Some(false));
            assert_eq!(p.refresh_tokens, Some(RefreshTokens::Off));
            let written: Vec<(&str, &str)> = p
                .parameters
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(
                written,
                [
                    ("acr_values", "mfa"),
                    ("audience", "api"),
                    ("resource", "r1"),
                    ("prompt", "login"),
                    ("resource", "r2")
                ],
                "parameters keep the order written"
            );
        }
        other => panic!("{other:?}"),
    }
    match one(
        "create platform 'b' authorize url 'a' token url 't' client authentication body pkce on",
    ) {
        StatementKind::CreatePlatform(p) => {
            assert_eq!(p.client_authentication, Some(ClientAuthentication::Body));
            assert_eq!(p.pkce, Some(true));
            assert!(p.scope.is_none() && p.parameters.is_empty() && p.refresh_tokens.is_none());
            assert!(matches!(
                p.endpoints,
                PlatformEndpoints::Given { issuer: None, .. }
            ));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn create_platform_from_issuer() {
    match one("CREATE PLATFORM 'op' FROM ISSUER 'https://id.example' client authentication body") {
        StatementKind::CreatePlatform(p) => {
            assert_eq!(
                p.endpoints,
                PlatformEndpoints::Discovered {
                    issuer: "https://id.example".into()
                }
            );
            assert_eq!(p.client_authentication, Some(ClientAuthentication::Body));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        one("show platform 'op'"),
        StatementKind::ShowPlatform { id } if id == "op"
    ));
    // Discovery gives the endpoints: endpoints given as well are a conflict, named.
    for (extra, option) in [
        ("token url 'https://id.example/t'", "token url"),
        ("issuer 'https://id.example'", "issuer"),
    ] {
        let source = format!("create platform 'op' from issuer 'https://id.example' {extra}");
        let error = parse(&source, "t.sql").expect_err("a conflict");
        assert!(
            matches!(error.kind(), ParseErrorKind::ConflictingOption { option: o, other } if o == option && other == "from issuer"),
            "{error}"
        );
    }
}

#[test]
fn a_script_with_comments_lines_and_terminators() {
    let script = "-- a header comment\n/* a block\n   comment */ local define A 'x'\nlocal echo two words\nshow\n  connections; show platforms;;\n\nrefresh all connections -- the last one has no ';'\n";
    let statements = all(script);
    let kinds: Vec<String> = statements
        .iter()
        .map(|s| {
            format!("{:?}", s.kind)
                .split([' ', '{', '('])
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "Define",
            "Echo",
            "ShowConnections",
            "ShowPlatforms",
            "RefreshAll"
        ]
    );
    let lines: Vec<(usize, usize)> = statements
        .iter()
        .map(|s| (s.location.line, s.location.column))
        .collect();
    assert_eq!(lines, [(3, 15), (4, 1), (5, 1), (6, 16), (8, 1)]);
    assert_eq!(statements[2].raw(), "show\n  connections");
    assert_eq!(
        statements[4].raw(),
        "refresh all connections -- the last one has no ';'"
    );
    assert_eq!(&*statements[0].location.origin, "test.sql");
    assert_eq!(
        statements[3].location.offset,
        script.find("show platforms").unwrap()
    );
}

#[test]
fn keywords_need_a_word_boundary() {
    assert!(parse("showconnections", "t").is_err());
    assert!(parse("show connectionsx", "t").is_err());
    assert!(parse("localecho x", "t").is_err());
}

#[test]
fn strings_may_span_lines_outside_local_statements() {
    match one("encrypt value 'line one\nline two';") {
        StatementKind::EncryptValue { value } => assert_eq!(value.secret(), "line one\nline two"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_and_comment_only_scripts_have_no_statements() {
    assert!(all("").is_empty());
    assert!(all(" ;; -- nothing\n/* at all */\n").is_empty());
}

#[test]
fn non_ascii_text_keeps_columns_in_characters() {
    let statements = all("local echo héllo wörld\nshow connection 'café'; show platforms");
    assert!(matches!(&statements[0].kind, StatementKind::Echo { text } if text == "héllo wörld"));
    assert!(
        matches!(&statements[1].kind, StatementKind::ShowConnection { name } if name == "café")
    );
    assert_eq!(
        (statements[2].location.line, statements[2].location.column),
        (2, 25)
    );
}

#[test]
fn comments_are_white_space_between_words_but_part_of_a_bare_value() {
    assert!(matches!(
        one("show/* a */connections -- the rest\n"),
        StatementKind::ShowConnections
    ));
    assert!(matches!(
        one("refresh\n-- why\nconnection /* which */ 'books' force"),
        StatementKind::RefreshConnection { force: true, .. }
    ));
    match one("local define URL http://x/a--b") {
        StatementKind::Define { value, .. } => assert_eq!(value, "http://x/a--b"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn create_api_key_with_and_without_networks() {
    match one("create api key 'jobs' scope token") {
        StatementKind::CreateApiKey {
            name,
            scope,
            networks,
        } => {
            assert_eq!((name.as_str(), scope.as_str()), ("jobs", "token"));
            assert!(networks.is_empty(), "no networks: any address");
        }
        other => panic!("{other:?}"),
    }
    let source = "CREATE API KEY 'p' SCOPE register FROM '10.0.0.0/8' , \"2001:db8::/32\", /* one */ '192.0.2.7'";
    match one(source) {
        StatementKind::CreateApiKey { networks, .. } => {
            let texts: Vec<String> = networks.iter().map(ToString::to_string).collect();
            assert_eq!(texts, ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"]);
        }
        other => panic!("{other:?}"),
    }
    for bad in [
        "create api key 'p' scope token from '10.0.0.0/33'",
        "create api key 'p' scope token from '10.0.0.0/8', 'intranet'",
        "create api key 'p' scope token from '10.1.2.3/8'",
    ] {
        let error = parse(bad, "x").unwrap_err();
        assert!(
            matches!(error.kind(), ParseErrorKind::BadNetwork(_)),
            "{bad}: {error}"
        );
    }
    assert!(parse("create api key 'p' scope token from", "x").is_err());
    assert!(parse("create api key 'p' scope token from '10.0.0.0/8',", "x").is_err());
}
