//! Feeds arbitrary text to everything in preauth-script that reads input: the parser, the
//! splitter with substitution, history redaction, the REPL validator, completion and
//! highlighting. None may panic; parsed statements must point at their own text.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use preauth_script::repl::{ScriptHelper, highlight, input_is_complete};
use preauth_script::{Defines, parse, redact_for_history, split};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(statements) = parse(source, "fuzz") {
        for statement in &statements {
            let rest = source.get(statement.location.offset..).unwrap_or("");
            assert!(rest.starts_with(statement.raw()));
        }
    }
    let mut defines = Defines::new();
    defines.define("A", "${B}x");
    defines.define("B", "show");
    if let Ok(raws) = split(source, "fuzz") {
        for raw in &raws {
            let _ = raw.substitute_and_parse(&defines);
        }
    }
    if let Some(stored) = redact_for_history(source) {
        // Redacting what was stored changes nothing more.
        assert_eq!(
            redact_for_history(&stored).as_deref(),
            Some(stored.as_str())
        );
    }
    let _ = input_is_complete(source);
    let _ = highlight(source);
    let helper = ScriptHelper::new(Arc::new(|| vec!["books".to_owned()]));
    for pos in (0..=source.len()).step_by(7) {
        let _ = helper.completions(source, pos);
    }
});
