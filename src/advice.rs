//! Advice in a shell user's terms: each [`Advice`] as a `preauth …` command line.

use preauth_core::advice::Advice;
use preauth_script::advice::in_statements;

/// `message` with its advice as command lines ("…; log in again: preauth -c
/// \"preauthenticate connection 'acme'\""), alternatives joined by "or".
pub fn advised(message: &str, advice: &[Advice]) -> String {
    let lines: Vec<String> = advice.iter().map(command_line).collect();
    match lines.is_empty() {
        true => message.to_string(),
        false => format!("{message}; {}", lines.join(", or ")),
    }
}

/// One advice as what to do and the command line that does it: the statement of the
/// script language's advice, run with `preauth -c`.
fn command_line(advice: &Advice) -> String {
    let clause = in_statements(std::slice::from_ref(advice)).unwrap_or_default();
    // The clause names each statement in backticks: run each with `preauth -c "…"`.
    let mut out = String::new();
    for (i, part) in clause.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("preauth -c {}", shell_quoted(part)));
        } else {
            out.push_str(part);
        }
    }
    out
}

/// `text` as one word for a POSIX shell: in double quotes, with `"`, `\`, `$` and `` ` ``
/// escaped (statements quote names with single quotes).
fn shell_quoted(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_is_a_command_line_to_paste() {
        let text = advised(
            "the refresh token of 'a$b' expired",
            &[Advice::LogInAgain {
                connection: "a$b".into(),
            }],
        );
        assert_eq!(
            text,
            "the refresh token of 'a$b' expired; log in again with preauth -c \"preauthenticate connection 'a\\$b'\""
        );
        assert_eq!(advised("m", &[]), "m");
    }
}
