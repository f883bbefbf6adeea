//! The shell's own commands (`help`, `exit`) and the one table of statements they describe.
//!
//! [`STATEMENTS`] holds each statement's syntax and one example. `help` prints it, and the
//! REPL's completion takes the shell's command words and the `help` topics from it; the
//! statements' keywords themselves come from the grammar. Tests keep the table and the
//! grammar in step: every keyword that starts a statement has an entry, and every example
//! parses.

/// One statement as `help` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatementHelp {
    /// The keywords that name it, lower case (`show connection`): what `help <statement>`
    /// matches and completes.
    pub topic: &'static str,
    /// Its syntax: `[…]` is optional, `a|b` a choice, `'…'` a string.
    pub syntax: &'static str,
    /// What it does, in one line.
    pub summary: &'static str,
    /// One example that parses.
    pub example: &'static str,
}

const fn entry(
    topic: &'static str,
    syntax: &'static str,
    summary: &'static str,
    example: &'static str,
) -> StatementHelp {
    StatementHelp {
        topic,
        syntax,
        summary,
        example,
    }
}

/// Every statement, grouped as the design lists them.
pub static STATEMENTS: &[StatementHelp] = &[
    entry(
        "local define",
        "local define NAME \"value\"",
        "define ${NAME} for the statements that follow",
        "local define env \"prod\"",
    ),
    entry(
        "local define encrypted",
        "local define encrypted NAME 'dk1:…'",
        "define ${NAME} from text made by encrypt (decrypted with the device key)",
        "local define encrypted pw 'dk1:…'",
    ),
    entry(
        "local undefine",
        "local undefine NAME",
        "forget ${NAME}",
        "local undefine env",
    ),
    entry(
        "local echo",
        "local echo 'text' | local echo rest of line",
        "print a line (${NAME} is substituted)",
        "local echo 'refreshing ${env}'",
    ),
    entry(
        "local remark",
        "local remark rest of line",
        "a comment",
        "local remark nightly job",
    ),
    entry(
        "local include",
        "local include 'file.sql'",
        "run another script (relative to this one)",
        "local include 'common.sql'",
    ),
    entry(
        "local on error",
        "local on error default|continue|ignore|exit success|exit failure|exit warning",
        "what a failing statement does next",
        "local on error continue",
    ),
    entry(
        "encrypt connection",
        "encrypt connection 'connection string'",
        "print it sealed with the device key, to paste as connectionString here",
        "encrypt connection 'api-url=https://start.exactonline.nl;password=…'",
    ),
    entry(
        "encrypt value",
        "encrypt value 'secret'",
        "print any secret sealed with the device key (for local define encrypted)",
        "encrypt value 'my client secret'",
    ),
    entry(
        "decrypt connection",
        "decrypt connection 'dk1:…'",
        "print what encrypt sealed here, or a sealed connectionString from here",
        "decrypt connection 'dk1:…'",
    ),
    entry(
        "preauthenticate",
        "preauthenticate PLATFORM [country 'nl'] [api url '…'] client id '…' client secret '…' \
         redirect url '…' as connection 'name'",
        "log in with a browser and store the connection",
        "preauthenticate exact country 'nl' client id 'my-id' client secret 'my-secret' \
         redirect url 'http://127.0.0.1:8765/callback' as connection 'books'",
    ),
    entry(
        "preauthenticate connection",
        "preauthenticate connection 'name'",
        "log in again for a stored connection with its stored app",
        "preauthenticate connection 'books'",
    ),
    entry(
        "exchange code url",
        "exchange code url 'return URL' [for connection 'name']",
        "finish a login with the URL the browser landed on",
        "exchange code url 'https://example.com/callback?code=…&state=…'",
    ),
    entry(
        "register connection",
        "register connection 'name' platform PLATFORM [country '…'] [api url '…'] client id '…' \
         client secret '…' redirect url '…' access token '…' refresh token '…' \
         [obtained at 'RFC 3339 time'] [verify]",
        "store tokens obtained elsewhere (the OEM flow)",
        "register connection 'books' platform exact client id 'my-id' client secret 'my-secret' \
         redirect url 'https://example.com/callback' access token 'at' refresh token 'rt'",
    ),
    entry(
        "alter connection",
        "alter connection 'name' set client id '…'|client secret '…'|redirect url '…'|api url '…' \
         [, …]",
        "change a stored connection's app settings (a rotated client secret)",
        "alter connection 'books' set client secret 'new-secret'",
    ),
    entry(
        "refresh connection",
        "refresh connection 'name' [force]",
        "refresh a connection's tokens when due (force: now)",
        "refresh connection 'books'",
    ),
    entry(
        "refresh all connections",
        "refresh all connections [older than N days]",
        "refresh every connection that is due",
        "refresh all connections older than 7 days",
    ),
    entry(
        "show connections",
        "show connections",
        "list connections: status, expiries, encrypted or not",
        "show connections",
    ),
    entry(
        "show connection",
        "show connection 'name'",
        "one connection in detail (no secrets)",
        "show connection 'books'",
    ),
    entry(
        "show platforms",
        "show platforms",
        "the platforms known here",
        "show platforms",
    ),
    entry(
        "show platform",
        "show platform 'id'",
        "one platform in detail: endpoints, client authentication, parameters",
        "show platform 'exact-online'",
    ),
    entry(
        "show access token",
        "show access token for connection 'name'",
        "print a valid access token (refreshing when due)",
        "show access token for connection 'books'",
    ),
    entry(
        "check connections",
        "check connections [warn days N] [critical days N]",
        "monitoring status of every refresh token",
        "check connections warn days 7 critical days 2",
    ),
    entry(
        "export settings",
        "export settings 'name' [plain|encrypted]",
        "print a connection's settings file",
        "export settings 'books'",
    ),
    entry(
        "import settings",
        "import settings 'file'",
        "add a connection from an exported settings file",
        "import settings 'books.xml'",
    ),
    entry(
        "drop connection",
        "drop connection [if exists] 'name'",
        "delete a connection",
        "drop connection if exists 'books'",
    ),
    entry(
        "create platform",
        "create platform 'name' from issuer '…' | authorize url '…' token url '…' [issuer '…'] \
         [client authentication basic|body] [scope '…'] [pkce on|off] [prompt '…'] \
         [audience '…'] [resource '…'] [parameter 'name' 'value']… [refresh tokens on|off|rotating]",
        "add any OAuth2 / OpenID Connect provider, from its discovery metadata or by hand",
        "create platform 'acme' from issuer 'https://id.acme.example' audience 'https://api.acme.example'",
    ),
    entry(
        "enroll machine",
        "enroll machine | enroll machine with code '…'",
        "shared store: print a one-time code on an enrolled machine; enroll a new one with it",
        "enroll machine with code 'enroll1.AbC123.…'",
    ),
    entry(
        "show machines",
        "show machines",
        "shared store: the machines (and unused codes) that hold a key slot",
        "show machines",
    ),
    entry(
        "drop machine",
        "drop machine 'name'",
        "shared store: remove a machine's key slot (a machine retired or lost)",
        "drop machine 'backup@db2'",
    ),
    entry(
        "create api key",
        "create api key 'name' scope token|register|admin [from 'cidr', …]",
        "a key for preauth serve's API, printed once and kept only as a hash; `from` limits it to networks (a bare address is one address)",
        "create api key 'nightly-jobs' scope token from '10.0.0.0/8', '2001:db8::/32'",
    ),
    entry(
        "show api keys",
        "show api keys",
        "the API keys of preauth serve: name, scope, networks (any when not limited) and when created",
        "show api keys",
    ),
    entry(
        "drop api key",
        "drop api key 'name'",
        "revoke an API key of preauth serve, at once",
        "drop api key 'nightly-jobs'",
    ),
    entry(
        "advance sandbox clock",
        "advance sandbox clock by N seconds|minutes|hours|days",
        "move the --sandbox clock forward",
        "advance sandbox clock by 2 hours",
    ),
];

/// The shell's own commands, as `help` lists them (they are not statements: no `;` needed).
pub static SHELL_COMMANDS: &[(&str, &str)] = &[
    (
        "help [statement], \\?",
        "this list, or the statements starting with those words",
    ),
    ("exit, quit, \\q", "leave the shell (Ctrl-D too)"),
    (
        "\\x",
        "expanded display on or off: one `name | value` block per row",
    ),
];

/// The words the shell takes at the start of an input besides statements (completed there).
pub const SHELL_WORDS: &[&str] = &["help", "exit", "quit"];

/// A shell command typed instead of a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShellCommand {
    /// `help`, `\?` or `help <words>`: the words, lower case and single-spaced.
    Help(Option<String>),
    /// `exit`, `quit` or `\q`.
    Exit,
    /// `\x`: the expanded display on or off.
    ToggleExpanded,
}

/// The shell command `input` is, if it is one: one of the forms above, with or without a
/// final `;`, in any case.
pub fn shell_command(input: &str) -> Option<ShellCommand> {
    let text = input.trim();
    let text = text.strip_suffix(';').unwrap_or(text).trim_end();
    let mut words = text.split_whitespace();
    let first = words.next()?.to_ascii_lowercase();
    let rest: Vec<String> = words.map(str::to_ascii_lowercase).collect();
    match first.as_str() {
        "exit" | "quit" | "\\q" if rest.is_empty() => Some(ShellCommand::Exit),
        "\\x" if rest.is_empty() => Some(ShellCommand::ToggleExpanded),
        "help" | "\\?" => Some(ShellCommand::Help(
            (!rest.is_empty()).then(|| rest.join(" ")),
        )),
        _ => None,
    }
}

/// The statements whose topic starts with the words of `topic` (all when `None`).
pub fn matching(topic: Option<&str>) -> Vec<&'static StatementHelp> {
    let wanted: Vec<&str> = topic.map_or(Vec::new(), |t| t.split_whitespace().collect());
    STATEMENTS
        .iter()
        .filter(|entry| {
            let mut words = entry.topic.split_whitespace();
            wanted
                .iter()
                .all(|w| words.next().is_some_and(|t| t.eq_ignore_ascii_case(w)))
        })
        .collect()
}

/// What `help` (or `help <topic>`) prints.
pub fn help_text(topic: Option<&str>) -> String {
    let found = matching(topic);
    let mut out = String::new();
    if found.is_empty() {
        out.push_str(&format!(
            "no statement starts with '{}'; type help for the list\n",
            topic.unwrap_or_default()
        ));
        return out;
    }
    if topic.is_none() {
        out.push_str(
            "Statements end with ';' (a local statement also ends at its line's end).\n\n",
        );
    }
    for entry in found {
        out.push_str(&format!(
            "{syntax}\n    {summary}\n    e.g. {example};\n",
            syntax = entry.syntax,
            summary = entry.summary,
            example = entry.example,
        ));
    }
    if topic.is_none() {
        out.push_str("\nShell commands:\n");
        for (syntax, summary) in SHELL_COMMANDS {
            out.push_str(&format!("{syntax}\n    {summary}\n"));
        }
    }
    out
}

/// The words that may come next after `help` and the words typed so far (`typed`, the
/// words already complete): the next word of each matching topic, without repeats.
pub fn topic_words_after(typed: &[&str]) -> Vec<&'static str> {
    let mut next = Vec::new();
    for entry in STATEMENTS {
        let mut words = entry.topic.split_whitespace();
        if typed
            .iter()
            .all(|w| words.next().is_some_and(|t| t.eq_ignore_ascii_case(w)))
            && let Some(word) = words.next()
            && !next.contains(&word)
        {
            next.push(word);
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keywords::statement_keywords;

    #[test]
    fn every_statement_keyword_has_help() {
        for keyword in statement_keywords() {
            assert!(
                STATEMENTS
                    .iter()
                    .any(|e| e.topic.split_whitespace().next() == Some(keyword)),
                "no help entry starts with '{keyword}': add one to STATEMENTS"
            );
        }
    }

    #[test]
    fn every_example_parses_as_its_topic() {
        for entry in STATEMENTS {
            let statements = crate::parse(entry.example, "help")
                .unwrap_or_else(|e| panic!("the example of '{}' does not parse: {e}", entry.topic));
            assert_eq!(statements.len(), 1, "{}", entry.topic);
            let lower = entry.example.to_ascii_lowercase();
            assert!(lower.starts_with(entry.topic), "{}", entry.topic);
        }
    }

    #[test]
    fn shell_commands_with_or_without_semicolon() {
        for exit in ["exit", "quit;", "\\q", " EXIT ; "] {
            assert_eq!(shell_command(exit), Some(ShellCommand::Exit), "{exit}");
        }
        assert_eq!(shell_command("help"), Some(ShellCommand::Help(None)));
        assert_eq!(shell_command("\\?"), Some(ShellCommand::Help(None)));
        assert_eq!(
            shell_command("HELP  show connection;"),
            Some(ShellCommand::Help(Some("show connection".into())))
        );
        assert_eq!(shell_command("exit now"), None);
        assert_eq!(shell_command("show connections;"), None);
        assert_eq!(shell_command(""), None);
    }

    #[test]
    fn help_lists_every_statement_or_those_of_a_topic() {
        let all = help_text(None);
        for entry in STATEMENTS {
            assert!(all.contains(entry.syntax) && all.contains(entry.example));
        }
        assert!(all.contains("exit, quit, \\q"));
        let show = help_text(Some("show"));
        assert!(show.contains("show connections") && show.contains("show platforms"));
        assert!(!show.contains("drop connection"));
        let one = help_text(Some("show connection"));
        assert!(one.contains("show connection 'books'") && !one.contains("show platforms"));
        assert!(help_text(Some("frobnicate")).contains("no statement starts with 'frobnicate'"));
    }

    #[test]
    fn topic_words_follow_the_table() {
        let first = topic_words_after(&[]);
        assert!(first.contains(&"show") && first.contains(&"local"));
        let after_show = topic_words_after(&["show"]);
        assert!(after_show.contains(&"connections") && after_show.contains(&"access"));
        assert!(topic_words_after(&["show", "platforms"]).is_empty());
    }
}
