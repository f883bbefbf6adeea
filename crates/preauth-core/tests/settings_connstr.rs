//! Connection strings: format then parse gives the same pairs, for any values.

use preauth_core::connstr::ConnectionString;
use proptest::collection::vec;
use proptest::prelude::*;

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z][A-Za-z0-9_.-]{0,12}",
        "[a-z]{1,4}( [a-z]{1,4})?",
        "\\PC{1,6}".prop_filter("a usable key", |k| preauth_core::connstr::is_valid_key(k)),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[ ;='\"a-z]{0,12}", Just(String::new()),]
}

/// Pairs with keys unique ASCII-case-insensitively.
fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    vec((key(), value()), 0..8).prop_map(|mut pairs| {
        let mut seen: Vec<String> = Vec::new();
        pairs.retain(|(k, _)| {
            let lower = k.to_ascii_lowercase();
            let fresh = !seen.contains(&lower);
            seen.push(lower);
            fresh
        });
        pairs
    })
}

proptest! {
    #[test]
    fn format_then_parse_is_identity(pairs in pairs()) {
        let mut cs = ConnectionString::new();
        for (k, v) in &pairs {
            cs.push(k, v).expect("unique, valid key");
        }
        let text = cs.to_text();
        let parsed = ConnectionString::parse(&text).expect("formatted text parses");
        let back: Vec<(String, String)> =
            parsed.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        prop_assert_eq!(back, pairs);
    }

    #[test]
    fn parsing_any_text_never_panics_and_is_stable(text in any::<String>()) {
        if let Ok(cs) = ConnectionString::parse(&text) {
            let again = ConnectionString::parse(&cs.to_text()).expect("reformatted text parses");
            let a: Vec<_> = cs.iter().collect();
            let b: Vec<_> = again.iter().collect();
            prop_assert_eq!(a, b);
        }
    }
}
