//! The shell's own commands (`help`, `\?`, `\r`, `exit`, `quit`, `\q`) and the tables of
//! statements that `help` describes.
//!
//! [`STATEMENTS`] holds each statement's syntax and one example; [`KINDS`] one line per
//! statement keyword for the short `help`. `help <statement>` and `help all` print from
//! the first, and the REPL's completion takes the shell's command words and the `help`
//! topics from it; the statements' keywords themselves come from the grammar. Tests keep
//! the tables and the grammar in step: every keyword that starts a statement has a kind and
//! an entry, and every example parses.

use crate::keywords::statement_keywords;
use crate::spelling::nearest;

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
        "refresh a connection's tokens when due (force: before that, but never before the platform allows: Exact refuses a refresh until 30 s before the access token expires)",
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
        "show limits",
        "show limits",
        "the platforms' token-endpoint limits (calls a day count per connection, one user of an app), and per app what was set, the most calls of one connection today, how many connections made calls today, and the errors in the last hour",
        "show limits",
    ),
    entry(
        "alter app",
        "alter app 'client id' set token calls per day N|reserve P percent [, …]",
        "let each connection (user) of an app that the platform exempted make N token-endpoint calls a day instead of the platform's budget, or change the share background work leaves to interactive use (default 20 %); kept in the store, for every machine",
        "alter app '{b81cc4de-d192-400e-bcb4-09254394c52a}' set token calls per day 1000",
    ),
    entry(
        "drop api key",
        "drop api key 'name'",
        "revoke an API key of preauth serve, at once",
        "drop api key 'nightly-jobs'",
    ),
    entry(
        "create webhook",
        "create webhook 'name' url 'https://…' [events refresh_failed|recovered|expiring|budget_low|connection_created|connection_dropped, …] [format json|slack]",
        "post signed events to a URL (https, or http to loopback); all events when none are named; its secret is printed once",
        "create webhook 'ops' url 'https://hooks.example.com/preauth' events refresh_failed, recovered format slack",
    ),
    entry(
        "show webhooks",
        "show webhooks",
        "the webhooks: name, URL, events, format, when created (never the secret)",
        "show webhooks",
    ),
    entry(
        "show webhook deliveries",
        "show webhook deliveries",
        "what was sent to the webhooks: event, connection, tries, last answer, delivered/pending/given up",
        "show webhook deliveries",
    ),
    entry(
        "drop webhook",
        "drop webhook 'name'",
        "stop sending to a webhook; what it had not received is given up",
        "drop webhook 'ops'",
    ),
    entry(
        "advance sandbox clock",
        "advance sandbox clock by N seconds|minutes|hours|days",
        "move the --sandbox clock forward",
        "advance sandbox clock by 2 hours",
    ),
];

/// One line of the short `help`: the statements that start with `keyword`, in a few words.
pub static KINDS: &[(&str, &str)] = &[
    ("local", "define, undefine, echo, remark, include, on error"),
    (
        "encrypt",
        "seal a connection string or a secret with the device key",
    ),
    ("decrypt", "show what encrypt sealed on this machine"),
    (
        "preauthenticate",
        "log in with a browser and store the connection",
    ),
    (
        "exchange",
        "finish a login with the URL the browser landed on",
    ),
    ("register", "store tokens obtained elsewhere (the OEM flow)"),
    (
        "alter",
        "change a connection's app settings, or an exempted app's token budget",
    ),
    (
        "refresh",
        "refresh a connection's tokens, or those of all that are due",
    ),
    (
        "show",
        "connections, platforms, a token, machines, API keys, webhooks, limits",
    ),
    ("check", "the monitoring status of every refresh token"),
    ("export", "print a connection's settings file"),
    ("import", "add a connection from an exported settings file"),
    (
        "drop",
        "delete a connection, a machine, an API key or a webhook",
    ),
    ("create", "add a platform, an API key or a webhook"),
    ("enroll", "shared store: give a machine a key slot"),
    ("advance", "move the --sandbox clock forward"),
];

/// The shell's own commands, as `help` lists them (they are not statements: no `;` needed,
/// and they work on any line, also while a statement is unfinished).
pub static SHELL_COMMANDS: &[(&str, &str)] = &[
    (
        "help [statement], \\?",
        "this list, or the statements starting with those words",
    ),
    ("\\r", "clear the statement being typed"),
    ("exit, quit, \\q", "leave the shell (Ctrl-D too)"),
    (
        "\\x",
        "expanded display on or off: one `name | value` block per row",
    ),
];

/// The words the shell takes at the start of an input besides statements (completed there).
pub const SHELL_WORDS: &[&str] = &["help", "exit", "quit"];

/// The topic of `help` that lists every statement in full.
pub const ALL_TOPIC: &str = "all";

/// A shell command typed on a line of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShellCommand {
    /// `help`, `\?` or `help <words>`: the words, lower case and single-spaced.
    Help(Option<String>),
    /// `exit`, `quit` or `\q`.
    Exit,
    /// `\r`: forget the statement being typed.
    Reset,
    /// A backslash word the shell does not know, or (at the start of a statement) a lone
    /// word that is neither a statement nor a command: answered with [`unknown_command`].
    Unknown(String),

    /// `\x`: the expanded display on or off.
    ToggleExpanded,
}

/// The shell command the line `line` is, if it is one: one of the forms above, with or
/// without a final `;`, in any case. `statement_start` tells whether no statement is
/// unfinished: only then is a lone unknown word (`clear`) a command rather than part of a
/// statement. The caller makes sure `line` is not inside an open string or comment.
pub fn shell_command(line: &str, statement_start: bool) -> Option<ShellCommand> {
    let text = line.trim();
    let text = text.strip_suffix(';').unwrap_or(text).trim_end();
    let mut words = text.split_whitespace();
    let first = words.next()?.to_ascii_lowercase();
    let rest: Vec<String> = words.map(str::to_ascii_lowercase).collect();
    let topic = (!rest.is_empty()).then(|| rest.join(" "));
    match first.as_str() {
        "\\q" => Some(ShellCommand::Exit),
        "\\r" => Some(ShellCommand::Reset),
        "\\x" if rest.is_empty() => Some(ShellCommand::ToggleExpanded),
        "\\?" | "help" => Some(ShellCommand::Help(topic)),
        "exit" | "quit" if rest.is_empty() => Some(ShellCommand::Exit),
        word if word.starts_with('\\') => Some(ShellCommand::Unknown(word.to_owned())),
        word if statement_start
            && rest.is_empty()
            && word.chars().all(|c| c.is_ascii_alphabetic())
            && !statement_keywords().any(|k| k == word) =>
        {
            Some(ShellCommand::Unknown(word.to_owned()))
        }
        _ => None,
    }
}

/// What the shell says to a command it does not know: its name, the nearest statement or
/// command when there is one, and the commands it knows.
pub fn unknown_command(word: &str) -> String {
    let what = if word.starts_with('\\') {
        format!("'{word}' is not a command of this shell")
    } else {
        let known = statement_keywords().chain(SHELL_WORDS.iter().copied());
        match nearest(word, known) {
            Some(near) => {
                format!("'{word}' is neither a statement nor a command; did you mean '{near}'?")
            }
            None => format!("'{word}' is neither a statement nor a command"),
        }
    };
    format!(
        "error: {what} The shell knows \\? or help [statement] (help), \\r (clear the statement being typed) and \\q, exit or quit (leave)."
    )
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

/// What `help` prints: without a topic a short list (one line per kind of statement, fits
/// a 24-line terminal); with `all` every statement in full; with words (`help refresh`)
/// the syntax, summary and example of the statements starting with them.
pub fn help_text(topic: Option<&str>) -> String {
    match topic {
        None => short_help(),
        Some(all) if all.eq_ignore_ascii_case(ALL_TOPIC) => full_help(None),
        Some(words) => full_help(Some(words)),
    }
}

/// The short list.
fn short_help() -> String {
    let mut out =
        String::from("Statements (end each with ';'; a local statement ends at its line's end):\n");
    for (keyword, summary) in KINDS {
        out.push_str(&format!("  {keyword:<17}{summary}\n"));
    }
    out.push_str("Shell commands (no ';'; also while a statement is unfinished):\n");
    for (syntax, summary) in SHELL_COMMANDS {
        out.push_str(&format!("  {syntax:<23}{summary}\n"));
    }
    out.push_str(
        "help <statement>: its syntax and an example (e.g. help refresh); help all: every statement\n",
    );
    out
}

/// The statements of `topic` (every one when `None`) in full.
fn full_help(topic: Option<&str>) -> String {
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
        out.push_str("\nShell commands (no ';'; also while a statement is unfinished):\n");
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
    if typed.is_empty() {
        next.push(ALL_TOPIC);
    }
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
    fn every_statement_keyword_has_help_and_a_kind() {
        for keyword in statement_keywords() {
            assert!(
                STATEMENTS
                    .iter()
                    .any(|e| e.topic.split_whitespace().next() == Some(keyword)),
                "no help entry starts with '{keyword}': add one to STATEMENTS"
            );
            assert!(
                KINDS.iter().any(|(kind, _)| *kind == keyword),
                "no line of the short help for '{keyword}': add one to KINDS"
            );
        }
        for (kind, _) in KINDS {
            assert!(statement_keywords().any(|k| k == *kind), "{kind}");
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
        for exit in ["exit", "quit;", "\\q", " EXIT ; ", "\\q now"] {
            assert_eq!(
                shell_command(exit, true),
                Some(ShellCommand::Exit),
                "{exit}"
            );
            assert_eq!(
                shell_command(exit, false),
                Some(ShellCommand::Exit),
                "{exit}"
            );
        }
        assert_eq!(shell_command("help", false), Some(ShellCommand::Help(None)));
        assert_eq!(shell_command("\\?", true), Some(ShellCommand::Help(None)));
        assert_eq!(
            shell_command("HELP  show connection;", true),
            Some(ShellCommand::Help(Some("show connection".into())))
        );
        assert_eq!(shell_command("\\r", false), Some(ShellCommand::Reset));
        for unknown in ["\\l", "\\h", "\\d"] {
            assert_eq!(
                shell_command(unknown, false),
                Some(ShellCommand::Unknown(unknown.into()))
            );
        }
        assert_eq!(
            shell_command("clear", true),
            Some(ShellCommand::Unknown("clear".into()))
        );
        // In the middle of a statement a lone word is part of it.
        assert_eq!(shell_command("clear", false), None);
        assert_eq!(shell_command("connections;", false), None);
        assert_eq!(shell_command("show", true), None);
        assert_eq!(shell_command("exit now", true), None);
        assert_eq!(shell_command("show connections;", true), None);
        assert_eq!(shell_command("'\\q'", false), None);
        assert_eq!(shell_command("", true), None);
    }

    #[test]
    fn unknown_commands_are_named_with_the_known_ones() {
        let backslash = unknown_command("\\l");
        assert!(backslash.contains("'\\l' is not a command"), "{backslash}");
        for known in ["\\?", "help", "\\r", "\\q", "exit", "quit"] {
            assert!(backslash.contains(known), "{known} in {backslash}");
        }
        assert!(unknown_command("shwo").contains("did you mean 'show'?"));
        assert!(unknown_command("clear").contains("'clear' is neither a statement"));
    }

    #[test]
    fn short_help_fits_a_terminal_and_names_every_kind() {
        let short = help_text(None);
        assert!(short.lines().count() < 24, "{short}");
        assert!(
            short.lines().all(|line| line.chars().count() <= 90),
            "{short}"
        );
        for (kind, _) in KINDS {
            assert!(short.contains(&format!("  {kind} ")), "{kind}");
        }
        assert!(short.contains("\\r") && short.contains("help all"));
    }

    #[test]
    fn help_all_lists_every_statement_and_a_topic_its_own() {
        let all = help_text(Some("all"));
        for entry in STATEMENTS {
            assert!(all.contains(entry.syntax) && all.contains(entry.example));
        }
        assert!(all.contains("exit, quit, \\q"));
        let show = help_text(Some("show"));
        assert!(show.contains("show connections") && show.contains("show platforms"));
        assert!(!show.contains("drop connection"));
        let one = help_text(Some("show connection"));
        assert!(one.contains("show connection 'books'") && !one.contains("show platforms"));
        let register = help_text(Some("register"));
        assert!(register.contains("refresh token '…'") && register.contains("e.g. register"));
        assert!(help_text(Some("frobnicate")).contains("no statement starts with 'frobnicate'"));
    }

    #[test]
    fn topic_words_follow_the_table() {
        let first = topic_words_after(&[]);
        assert!(first.contains(&"show") && first.contains(&"local") && first.contains(&"all"));
        let after_show = topic_words_after(&["show"]);
        assert!(after_show.contains(&"connections") && after_show.contains(&"access"));
        assert!(topic_words_after(&["show", "platforms"]).is_empty());
    }
}
