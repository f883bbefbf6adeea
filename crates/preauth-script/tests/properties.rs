//! Properties over generated input: nothing panics, statements keep their text, and
//! well-formed statements survive any mix of case, comments and white space.

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
}
