//! Properties over generated input: nothing panics, statements keep their text, and
//! well-formed statements survive any mix of case, comments and white space, and a typo
//! that breaks a statement shows its names but never its secret.

use preauth_script::repl::{ScriptHelper, highlight, input_is_complete};
use preauth_script::{Defines, parse, redact_for_history, split, substitute};
use proptest::prelude::*;

mod support;
use support::strip_ansi;

/// Text built from the language's own pieces, so that generated input gets deep into it.
fn scriptish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("show ".to_owned()),
        Just("connection".to_owned()),
        Just("local ".to_owned()),
        Just("echo ".to_owned()),
        Just("define".to_owned()),
        Just("encrypt value ".to_owned()),
        Just("preauthenticate exact ".to_owned()),
        Just("client secret ".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just(";".to_owned()),
        Just("\n".to_owned()),
        Just("--".to_owned()),
        Just("/*".to_owned()),
        Just("*/".to_owned()),
        Just("${".to_owned()),
        Just("}".to_owned()),
        "[a-zA-Z0-9_ é€-]{0,6}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn nothing_panics_and_statements_keep_their_text(source in scriptish()) {
        if let Ok(statements) = parse(&source, "p") {
            for statement in &statements {
                let offset = statement.location.offset;
                prop_assert!(source.get(offset..).is_some_and(|rest| rest.starts_with(statement.raw())));
                if statement.carries_secret_literal() {
                    let shown = format!("{statement:?}");
                    prop_assert!(!shown.contains(statement.raw()), "{}", shown);
                }
            }
        }
        match (split(&source, "p"), parse(&source, "p")) {
            (Ok(raws), Ok(statements)) => prop_assert_eq!(raws.len(), statements.len()),
            (Ok(raws), Err(_)) => prop_assert!(raws.iter().any(|r| r.parse().is_err())),
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (Err(a), Ok(_)) => prop_assert!(false, "split failed but parse did not: {}", a),
        }
        let _ = redact_for_history(&source);
        let _ = input_is_complete(&source);
        let _ = substitute(&source, &Defines::new());
        let helper = ScriptHelper::new(std::sync::Arc::new(|| vec!["a".to_owned()]));
        for pos in 0..=source.len() {
            let _ = helper.completions(&source, pos);
        }
        if !source.contains('\x1b') {
            prop_assert_eq!(strip_ansi(&highlight(&source)), source.clone());
        }
    }

    #[test]
    fn case_comments_and_spacing_do_not_change_meaning(
        upper in prop::collection::vec(any::<bool>(), 8),
        gap in prop::sample::select(vec![" ", "\n", "\t ", " /* c */ ", " -- c\n"]),
        name in "[a-z][a-z0-9 ']{0,10}",
    ) {
        let quoted = format!("'{}'", name.replace('\'', "''"));
        let words = ["refresh", "connection", &quoted, "force"];
        let text: Vec<String> = words
            .iter()
            .zip(&upper)
            .map(|(w, up)| if *up && !w.starts_with('\'') { w.to_uppercase() } else { (*w).to_owned() })
            .collect();
        let source = text.join(gap);
        let statements = parse(&source, "p").map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(statements.len(), 1);
        match &statements[0].kind {
            preauth_script::StatementKind::RefreshConnection { name: parsed, force } => {
                prop_assert_eq!(parsed, &name);
                prop_assert!(*force);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn secrets_stay_hidden_when_a_typo_breaks_the_statement(
        template in prop::sample::select(SECRET_TEMPLATES.to_vec()),
        typo_at in any::<prop::sample::Index>(),
        tail in prop::sample::select(vec!["", " bogus", " 'extra'", ", client", " as"]),
        secret in "[a-z]{3}[0-9]{5}",
    ) {
        let words: Vec<&str> = template.split(' ').collect();
        let misspelt = typo_at.index(words.len());
        let text: Vec<String> = words
            .iter()
            .enumerate()
            .map(|(i, word)| if i == misspelt { swap_first_two(word) } else { (*word).to_owned() })
            .collect();
        let input = format!("{}{tail};", text.join(" ").replace("{S}", &secret));
        let kept = redact_for_history(&input);
        prop_assert!(kept.as_deref().is_some_and(|kept| !kept.contains(&secret)), "{:?} kept as {:?}", input, kept);
        if let Err(error) = parse(&input, "p") {
            prop_assert!(!error.to_string().contains(&secret), "{}", error);
        }
    }

    #[test]
    fn names_stay_readable_when_a_typo_breaks_the_statement(
        name in "[a-z][a-z0-9-]{2,12}",
        statement in prop::sample::select(vec![
            "show conection '{N}'",
            "refresh conection '{N}' force",
            "drop connection '{N}' now",
            "preauthenticate exact client id 'id' as connection '{N}'",
        ]),
    ) {
        let input = format!("{};", statement.replace("{N}", &name));
        let error = parse(&input, "p").map(|_| ()).unwrap_err();
        prop_assert!(error.to_string().contains(&format!("'{name}'")), "{}", error);
        prop_assert_eq!(redact_for_history(&input), Some(input.clone()));
    }
}

/// Statements with a secret at `{S}` (a typo in one of their words breaks them).
const SECRET_TEMPLATES: &[&str] = &[
    "encrypt value '{S}'",
    "encrypt connection 'api=x;password={S}'",
    "decrypt connection 'dk1:{S}'",
    "local define encrypted PW '{S}'",
    "preauthenticate exact client id 'cid' client secret '{S}' redirect url 'r' as connection 'n'",
    "register connection 'o' platform exact client id 'c' redirect url 'r' access token '{S}' refresh token 'rt'",
    "register connection 'o' platform exact client id 'c' redirect url 'r' access token 'at' refresh token '{S}'",
    "alter connection 'b' set client secret '{S}'",
    "alter connection 'b' set client_secret = '{S}'",
    "exchange code url 'http://127.0.0.1/cb?code={S}'",
    "enroll machine with code '{S}'",
];

/// `word` with its first two characters swapped (one edit), unless it is a string.
fn swap_first_two(word: &str) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    if chars.len() >= 2 && !word.starts_with('\'') {
        chars.swap(0, 1);
    }
    chars.into_iter().collect()
}
