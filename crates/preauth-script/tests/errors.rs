//! Every parse error message, rendered as the user sees it: origin, line, column, the line
//! with a caret, and help. String contents never appear in an error.

use preauth_script::{ParseErrorKind, parse, split};

fn rendered(source: &str) -> String {
    match parse(source, "job.sql") {
        Ok(statements) => panic!("{source:?} parsed: {statements:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn misspelt_statement_suggests_the_nearest() {
    assert_eq!(
        rendered("shwo connections;"),
        "job.sql:1:1: 'shwo' does not start a statement\n  |\n1 | shwo connections\n  | ^\n  = help: did you mean 'show'?"
    );
}

#[test]
fn unknown_statement_without_a_near_keyword_has_no_help() {
    assert_eq!(
        rendered("show platforms;\n\n  xyzzy 'x';"),
        "job.sql:3:3: 'xyzzy' does not start a statement\n  |\n3 |   xyzzy 'x'\n  |   ^"
    );
}

#[test]
fn misspelt_keyword_inside_a_statement() {
    assert_eq!(
        rendered("show platforms; show conections;"),
        "job.sql:1:22: expected 'connection', 'connections', 'api', 'platform', 'platforms', 'access', 'limits', 'machines', 'webhook' or 'webhooks', found 'conections'\n  |\n1 | show platforms; show conections\n  |                      ^\n  = help: did you mean 'connections'?"
    );
    assert_eq!(
        rendered("local on error exit sucess"),
        "job.sql:1:21: expected 'success', 'failure' or 'warning', found 'sucess'\n  |\n1 | local on error exit sucess\n  |                     ^\n  = help: did you mean 'success'?"
    );
}

#[test]
fn misspelt_option_lists_the_options_and_the_end() {
    assert_eq!(
        rendered("preauthenticate exact\n  clent id 'abc'"),
        "job.sql:2:3: expected 'country', 'api', 'client', 'redirect', 'as' or the end of the statement, found 'clent'\n  |\n2 |   clent id 'abc'\n  |   ^\n  = help: did you mean 'client'?"
    );
}

#[test]
fn missing_semicolon_between_statements_is_hinted() {
    assert_eq!(
        rendered("show connections\nshow platforms;"),
        "job.sql:2:1: expected the end of the statement, found 'show'\n  |\n2 | show platforms\n  | ^\n  = help: did you forget the ';' at the end of the previous statement?"
    );
}

#[test]
fn incomplete_statement_points_at_its_end() {
    assert_eq!(
        rendered("show"),
        "job.sql:1:5: expected 'connection', 'connections', 'api', 'platform', 'platforms', 'access', 'limits', 'machines', 'webhook' or 'webhooks', found the end of the statement\n  |\n1 | show\n  |     ^"
    );
    assert_eq!(
        rendered("local\n"),
        "job.sql:1:6: expected 'define', 'undefine', 'echo', 'remark', 'include' or 'on', found the end of the statement\n  |\n1 | local\n  |      ^"
    );
}

#[test]
fn a_string_where_a_keyword_belongs_is_described_not_shown() {
    assert_eq!(
        rendered("encrypt 'hunter2';"),
        "job.sql:1:9: expected 'connection' or 'value', found a quoted string\n  |\n1 | encrypt '*******'\n  |         ^"
    );
}

#[test]
fn unclosed_string_and_comment() {
    assert_eq!(
        rendered("show platforms;\nencrypt connection 'password=x;\nshow connections;"),
        "job.sql:2:20: this string is not closed; end it with the quote it starts with\n  |\n2 | encrypt connection '***********\n  |                    ^"
    );
    assert_eq!(
        rendered("local define A 'abc\nshow platforms;"),
        "job.sql:1:16: this string is not closed on its line; a local statement ends at the end of its line\n  |\n1 | local define A '***\n  |                ^"
    );
    assert_eq!(
        rendered("show platforms; /* never\nclosed"),
        "job.sql:1:17: this comment is not closed; end it with '*/'\n  |\n1 | show platforms; /* never\n  |                 ^"
    );
}

#[test]
fn missing_required_option_names_it() {
    assert_eq!(
        rendered("preauthenticate exact client id 'c' as connection 'n'"),
        "job.sql:1:54: 'preauthenticate' needs 'redirect url …'; add it\n  |\n1 | preauthenticate exact client id 'c' as connection 'n'\n  |                                                      ^"
    );
    let error = parse("create platform 'p' token url 't'", "x").unwrap_err();
    assert_eq!(
        error.kind(),
        &ParseErrorKind::MissingOption {
            statement: "create platform",
            option: "authorize url".into()
        }
    );
    let error = parse(
        "register connection 'o' client id 'c' redirect url 'r' access token 'a' refresh token 'b'",
        "x",
    )
    .unwrap_err();
    assert_eq!(
        error.kind().to_string(),
        "'register connection' needs 'platform …'; add it"
    );
}

#[test]
fn duplicate_option_points_at_the_second() {
    assert_eq!(
        rendered("check connections warn days 1 warn days 2"),
        "job.sql:1:31: 'warn days' is given twice in this statement; keep one\n  |\n1 | check connections warn days 1 warn days 2\n  |                               ^"
    );
}

#[test]
fn number_too_large() {
    assert_eq!(
        rendered("refresh all connections older than 99999999999 days"),
        "job.sql:1:36: the number 99999999999 is too large; the largest is 4294967295\n  |\n1 | refresh all connections older than 99999999999 days\n  |                                    ^"
    );
}

#[test]
fn trailing_text_after_a_statement() {
    assert_eq!(
        rendered("drop connection 'a' 'b';"),
        "job.sql:1:21: expected the end of the statement, found a quoted string\n  |\n1 | drop connection 'a' 'b'\n  |                     ^"
    );
}

#[test]
fn long_lines_are_cut_around_the_caret() {
    let source = format!("{} shwo;", "show platforms;".repeat(20));
    let error = parse(&source, "long.sql").unwrap_err();
    assert_eq!((error.line(), error.column()), (1, 302));
    let text = error.to_string();
    let snippet = text.lines().nth(2).unwrap();
    assert!(snippet.starts_with("1 | …"), "{snippet}");
    assert!(snippet.ends_with("shwo"), "{snippet}");
    let caret = text.lines().nth(3).unwrap();
    assert_eq!(
        caret.find('^'),
        snippet.find("shwo").map(|i| i - "…".len() + 1)
    );
}

#[test]
fn statement_size_limit() {
    let source = format!("encrypt value '{}';", "x".repeat(2 * 1024 * 1024));
    let error = parse(&source, "big.sql").unwrap_err();
    assert_eq!(
        error.kind(),
        &ParseErrorKind::StatementTooLong {
            limit: preauth_script::limits::MAX_STATEMENT_BYTES
        }
    );
    assert_eq!((error.line(), error.column()), (1, 1));
}

#[test]
fn errors_from_split_carry_the_origin() {
    let error = split("show platforms;\n'open", "<stdin>").unwrap_err();
    assert_eq!(error.origin(), "<stdin>");
    assert_eq!((error.line(), error.column()), (2, 1));
    assert_eq!(error.kind(), &ParseErrorKind::UnterminatedString);
}

#[test]
fn a_parse_error_never_shows_a_secret() {
    for source in [
        "encrypt connection 'password=hunter2' extra",
        "preauthenticate exact client secret 'hunter2' client id",
        "register connection 'x' access token 'hunter2' bogus",
        "encrypt connection 'password=hunter2",
    ] {
        let error = parse(source, "s.sql").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(!format!("{error:?}").contains("hunter2"), "{error:?}");
    }
}

#[test]
fn a_bad_network_is_named_with_an_example_and_pointed_at() {
    assert_eq!(
        rendered("create api key 'p' scope token from '10.0.0.0/8', '10.0.0.0/33'"),
        "job.sql:1:51: '10.0.0.0/33' is not a network: write an address with a prefix length, such as '10.0.0.0/8' or '2001:db8::/32', or one address, such as '192.0.2.7'\n  |\n1 | create api key 'p' scope token from '10.0.0.0/8', '10.0.0.0/33'\n  |                                                   ^"
    );
}
