//! The interactive shell: a rustyline editor with multi-line input until `;` (under a
//! continuation prompt), completion of keywords and connection names, keyword highlighting,
//! the shell's own commands on any line as in psql (`help`, `\?`, `\r`, `exit`, `quit`,
//! `\q`; see [`crate::help`]), long help through a pager, and a history file that keeps
//! every statement typed (also one that fails or does not parse) but never a secret
//! literal, and never replays a redacted one.
//!
//! The interpreter is not here: [`run_repl`] hands each complete input to an executor
//! closure. Use [`is_interactive`] to decide between the REPL and batch mode; batch input must
//! be read whole and parsed with [`crate::split`], never through rustyline (which drops a
//! last statement without `;` at the end of input).

use std::borrow::Cow;
use std::fs::OpenOptions;
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Config, Context, Editor, Helper};

use crate::help::{
    SHELL_WORDS, ShellCommand, help_text, shell_command, topic_words_after, unknown_command,
};
use crate::keywords::{expected_after, is_keyword, statement_keywords};
use crate::pager;
use crate::redact::{holds_redacted_secret, redact_for_history};
use crate::scan::{self, Completeness, ScanError};

/// The prompt shown before each input.
pub const PROMPT: &str = "preauth> ";

/// The prompt shown while a statement is unfinished (no `;` yet), as wide as [`PROMPT`].
pub const CONTINUATION_PROMPT: &str = "      -> ";

/// What the shell says after `\r`.
pub const RESET_NOTICE: &str = "(the statement being typed is cleared)";

/// What the shell says when an input recalled from history lacks its secret.
pub const REDACTED_REFUSAL: &str =
    "error: this line came from history with its secret removed; type the secret again";

/// Supplies the connection names to complete (called at each completion request).
pub type ConnectionNames = Arc<dyn Fn() -> Vec<String> + Send + Sync>;

/// What the executor decided after running an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplOutcome {
    /// Read the next input.
    Continue,
    /// Leave the REPL with this exit code (e.g. after `local on error exit …`).
    Exit(i32),
}

/// How the REPL ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplExit {
    /// The user pressed Ctrl-D (end of input).
    EndOfInput,
    /// The executor asked to exit with this code.
    Requested(i32),
    /// The user typed `exit`, `quit` or `\q`.
    Quit,
}

/// Why the REPL could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplError {
    /// The line editor failed (terminal setup or reading).
    #[error("the terminal could not be read: {0}")]
    Terminal(#[source] ReadlineError),
    /// The history file could not be created with owner-only permissions.
    #[error("the history file {} could not be made private (0600): {source}", path.display())]
    SecureHistory {
        /// The history file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// Whether to run the REPL: standard input **and** standard output are terminals (as psql
/// decides). Otherwise read standard input whole as a script.
pub fn is_interactive() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// Whether `input` ends a statement: every statement in it is ended by `;` or is a complete
/// `local` line, and no string or `/* */` comment is open. Input that typing more cannot
/// repair (e.g. an unclosed string on a `local` line) counts as complete so that its error is
/// shown. [`run_repl`] reads further lines under [`CONTINUATION_PROMPT`] until it holds.
pub fn input_is_complete(input: &str) -> bool {
    scan::completeness(input) == Completeness::Complete
}

/// The rustyline helper: completer and highlighter (no hints). Multi-line input is read
/// line by line by [`run_repl`], so that each further line gets [`CONTINUATION_PROMPT`].
pub struct ScriptHelper {
    names: ConnectionNames,
    /// The lines of the unfinished statement typed so far, each ended by a line break:
    /// completion sees them before the line being edited.
    pending: String,
}

impl ScriptHelper {
    /// A helper completing connection names from `names`.
    pub fn new(names: ConnectionNames) -> Self {
        Self {
            names,
            pending: String::new(),
        }
    }

    /// The completions for `line` with the cursor at byte `pos`: the byte where the replaced
    /// word starts, and the candidates. Keywords are those the grammar accepts at the cursor
    /// (in the case the user types), connection names are offered (quoted) after `connection`.
    pub fn completions(&self, line: &str, pos: usize) -> (usize, Vec<Pair>) {
        let Some(before) = line.get(..pos) else {
            return (pos, Vec::new());
        };
        match scan::scan(before) {
            Err(
                ScanError::UnterminatedString { at } | ScanError::UnterminatedLocalString { at },
            ) => {
                let statement = statement_start(before.get(..at).unwrap_or(""));
                let context = before.get(statement..at).unwrap_or("");
                let prefix = before.get(at + 1..).unwrap_or("");
                (at + 1, self.names_after(context, prefix, false))
            }
            Err(_) => (pos, Vec::new()),
            Ok(_) => {
                let word_start = before
                    .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map_or(0, |i| i + 1);
                let statement = statement_start(before.get(..word_start).unwrap_or(""));
                let context = before.get(statement..word_start).unwrap_or("");
                let prefix = before.get(word_start..).unwrap_or("");
                let mut candidates = keyword_candidates(context, prefix);
                candidates.extend(self.names_after(context, prefix, true));
                let first_statement = before
                    .get(..word_start)
                    .is_some_and(|b| b.trim().is_empty());
                candidates.extend(shell_candidates(first_statement, context, prefix));
                (word_start, candidates)
            }
        }
    }

    /// Connection names starting with `prefix`, when `context` ends with `connection` and the
    /// grammar wants a string there. The replacement closes the quote, and opens it too when
    /// `add_opening_quote` (the user typed none).
    fn names_after(&self, context: &str, prefix: &str, add_opening_quote: bool) -> Vec<Pair> {
        let after_connection = context
            .split_ascii_whitespace()
            .next_back()
            .is_some_and(|w| w.eq_ignore_ascii_case("connection"));
        if !after_connection || !expected_after(context).string {
            return Vec::new();
        }
        let prefix = prefix.to_lowercase();
        (self.names)()
            .into_iter()
            .filter(|name| name.to_lowercase().starts_with(&prefix))
            .map(|name| {
                let escaped = name.replace('\'', "''");
                let replacement = if add_opening_quote {
                    format!("'{escaped}'")
                } else {
                    format!("{escaped}'")
                };
                Pair {
                    display: name,
                    replacement,
                }
            })
            .collect()
    }
}

/// Where the statement being typed at the end of `before` starts.
fn statement_start(before: &str) -> usize {
    match scan::scan(before) {
        Ok(pieces) => match pieces.last() {
            Some(last) if !last.terminated => last.start,
            // A `local` line still being typed counts as ended only by `;` or a line break.
            Some(last)
                if last.local
                    && before
                        .get(last.end..)
                        .is_some_and(|after| !after.contains([';', '\n'])) =>
            {
                last.start
            }
            _ => before.len(),
        },
        Err(_) => before.len(),
    }
}

/// The shell's words (from the help table): `help`, `exit` and `quit` at the start of an
/// input, and after `help` the words of its topics.
fn shell_candidates(first_statement: bool, context: &str, prefix: &str) -> Vec<Pair> {
    let mut words = context.split_whitespace();
    match words.next() {
        None if first_statement => matching_words(SHELL_WORDS.iter().copied(), prefix),
        Some(first) if first.eq_ignore_ascii_case("help") || first == "\\?" => {
            let typed: Vec<&str> = words.collect();
            matching_words(topic_words_after(&typed).into_iter(), prefix)
        }
        _ => Vec::new(),
    }
}

/// Keywords the grammar accepts after `context` that start with `prefix`, in its case.
fn keyword_candidates(context: &str, prefix: &str) -> Vec<Pair> {
    matching_words(expected_after(context).keywords.into_iter(), prefix)
}

/// The `words` that start with `prefix` (any case), shown in the case of `prefix`.
fn matching_words(words: impl Iterator<Item = &'static str>, prefix: &str) -> Vec<Pair> {
    let upper = !prefix.is_empty() && prefix.chars().all(|c| !c.is_lowercase());
    words
        .filter(|word| {
            word.get(..prefix.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
        })
        .map(|word| {
            let shown = if upper {
                word.to_ascii_uppercase()
            } else {
                word.to_owned()
            };
            Pair {
                display: shown.clone(),
                replacement: format!("{shown} "),
            }
        })
        .collect()
}

impl Completer for ScriptHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        if self.pending.is_empty() {
            return Ok(self.completions(line, pos));
        }
        let whole = format!("{}{line}", self.pending);
        let (start, candidates) = self.completions(&whole, self.pending.len() + pos);
        Ok(match start.checked_sub(self.pending.len()) {
            Some(start) => (start, candidates),
            None => (pos, Vec::new()),
        })
    }
}

impl Hinter for ScriptHelper {
    type Hint = String;
}

impl Validator for ScriptHelper {
    /// Every line is accepted: [`run_repl`] decides whether the statement is complete and
    /// reads further lines under [`CONTINUATION_PROMPT`].
    fn validate(&self, _ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(ValidationResult::Valid(None))
    }
}

const BOLD: &str = "\x1b[1m";
const GREEN: &str = "\x1b[32m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

impl Highlighter for ScriptHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Owned(highlight(line))
    }

    fn highlight_char(&self, _line: &str, _pos: usize, kind: CmdKind) -> bool {
        kind != CmdKind::MoveCursor
    }
}

impl Helper for ScriptHelper {}

/// `line` with keywords in bold, strings in green and comments dimmed (same display width).
pub fn highlight(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 16);
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        let token_len = if c == '\'' || c == '"' {
            let len = scan::string_literals(rest)
                .first()
                .map_or(rest.len(), |l| l.span.end);
            paint(&mut out, rest.get(..len).unwrap_or(rest), GREEN);
            len
        } else if rest.starts_with("--") {
            let len = rest.find('\n').unwrap_or(rest.len());
            paint(&mut out, rest.get(..len).unwrap_or(rest), DIM);
            len
        } else if c.is_alphanumeric() || c == '_' {
            let len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let word = rest.get(..len).unwrap_or(rest);
            if is_keyword(word) {
                paint(&mut out, word, BOLD);
            } else {
                out.push_str(word);
            }
            len
        } else {
            out.push(c);
            c.len_utf8()
        };
        rest = rest.get(token_len.max(1)..).unwrap_or("");
    }
    out
}

fn paint(out: &mut String, text: &str, style: &str) {
    out.push_str(style);
    out.push_str(text);
    out.push_str(RESET);
}

/// Runs the REPL until Ctrl-D, `exit`, or until the executor asks to exit.
///
/// Lines are read until the input is complete (see [`input_is_complete`]), the further ones
/// under [`CONTINUATION_PROMPT`]; an unfinished statement whose first word starts no
/// statement is complete at once. A line that is a shell command (see
/// [`crate::help::shell_command`]) is answered here on any line, unless a string or comment
/// is open: `\q`, `exit` and `quit` leave, `help` and `\?` print help (through the pager
/// when longer than the terminal) and keep the unfinished statement, `\r` clears it, and an
/// unknown `\word` gets an error naming the known commands. Any other complete input goes to
/// `executor`, unless it holds a secret that history redacted (it is refused with
/// [`REDACTED_REFUSAL`]). Ctrl-C cancels the input being typed.
///
/// When `history_path` is given, history is loaded from it and saved to it after each
/// input, with owner-only permissions (0600); every input is stored, secret literals
/// redacted (see [`redact_for_history`]), whether it then runs, fails or does not parse.
/// A history file that cannot be read or written is reported on standard error once and
/// otherwise ignored.
pub fn run_repl(
    history_path: Option<&Path>,
    names: ConnectionNames,
    executor: &mut dyn FnMut(&str) -> ReplOutcome,
) -> Result<ReplExit, ReplError> {
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_space(true)
        .build();
    let mut editor: Editor<ScriptHelper, FileHistory> =
        Editor::with_config(config).map_err(ReplError::Terminal)?;
    editor.set_helper(Some(ScriptHelper::new(names)));
    let mut history = history_path.map(HistoryFile::open).transpose()?;
    if let Some(file) = &mut history {
        file.load(&mut editor);
    }
    let mut pending = String::new();
    loop {
        let prompt = match pending.is_empty() {
            true => PROMPT,
            false => CONTINUATION_PROMPT,
        };
        if let Some(helper) = editor.helper_mut() {
            helper.pending.clone_from(&pending);
        }
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                pending.clear();
                continue;
            }
            Err(ReadlineError::Eof) => return Ok(ReplExit::EndOfInput),
            Err(error) => return Err(ReplError::Terminal(error)),
        };
        if pending.is_empty() && line.trim().is_empty() {
            continue;
        }
        // A line inside an open string or comment is text, even `\q`.
        let command = match inside_string_or_comment(&pending) {
            true => None,
            false => shell_command(&line, pending.is_empty()),
        };
        if let Some(command) = command {
            if let Some(file) = &mut history {
                file.record(&mut editor, &line);
            }
            match command {
                ShellCommand::Exit => return Ok(ReplExit::Quit),
                ShellCommand::Help(topic) => pager::show(&help_text(topic.as_deref())),
                ShellCommand::Reset => {
                    pending.clear();
                    println!("{RESET_NOTICE}");
                }
                ShellCommand::Unknown(word) => eprintln!("{}", unknown_command(&word)),
                ShellCommand::ToggleExpanded => println!(
                    "Expanded display is {}.",
                    if crate::output::toggle_expanded() {
                        "on"
                    } else {
                        "off"
                    }
                ),
            }
            continue;
        }
        pending.push_str(&line);
        if !input_is_complete(&pending) && may_start_a_statement(&pending) {
            pending.push('\n');
            continue;
        }
        let input = std::mem::take(&mut pending);
        // Kept before it runs, and whether it parses or not: a statement with a typo or one
        // that fails is fixed with Up.
        if let Some(file) = &mut history {
            file.record(&mut editor, &input);
        }
        if holds_redacted_secret(&input) {
            eprintln!("{REDACTED_REFUSAL}");
            continue;
        }
        if let ReplOutcome::Exit(code) = executor(&input) {
            return Ok(ReplExit::Requested(code));
        }
    }
}

/// Whether `pending` (the lines typed so far) ends inside a string or a `/* */` comment.
fn inside_string_or_comment(pending: &str) -> bool {
    matches!(
        scan::scan(pending),
        Err(ScanError::UnterminatedString { .. } | ScanError::UnterminatedComment { .. })
    )
}

/// Whether the unfinished statement at the end of `input` may still become one: it does not
/// start with a word that starts no statement (`clear all`, `shwo connections`). One that
/// cannot is run at once, so that its error shows instead of a continuation prompt.
fn may_start_a_statement(input: &str) -> bool {
    let Ok(pieces) = scan::scan(input) else {
        return true;
    };
    let Some(text) = pieces
        .last()
        .and_then(|last| input.get(last.start..last.end))
    else {
        return true;
    };
    let word: String = text
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    word.is_empty() || statement_keywords().any(|k| k.eq_ignore_ascii_case(&word))
}

/// The history file: private, redacted, failures reported once.
struct HistoryFile {
    path: PathBuf,
    warned: bool,
}

impl HistoryFile {
    /// Creates the file if missing and makes it owner-only.
    fn open(path: &Path) -> Result<Self, ReplError> {
        secure_history_file(path).map_err(|source| ReplError::SecureHistory {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            path: path.to_owned(),
            warned: false,
        })
    }

    fn load(&mut self, editor: &mut Editor<ScriptHelper, FileHistory>) {
        if let Err(error) = editor.load_history(&self.path) {
            self.warn("read", &error);
        }
    }

    /// Adds the redacted input to history and saves the file.
    fn record(&mut self, editor: &mut Editor<ScriptHelper, FileHistory>, input: &str) {
        let Some(entry) = redact_for_history(input) else {
            return;
        };
        let saved = editor
            .add_history_entry(entry)
            .and_then(|_| editor.save_history(&self.path));
        if let Err(error) = saved {
            self.warn("written", &error);
        }
    }

    fn warn(&mut self, action: &str, error: &ReadlineError) {
        if !self.warned {
            self.warned = true;
            eprintln!(
                "warning: the history file {} could not be {action} ({error}); history is kept for this session only",
                self.path.display()
            );
        }
    }
}

/// Creates `path` if missing, with mode 0600 (on Windows an access list for its owner alone),
/// and narrows an existing file to that.
pub fn secure_history_file(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(windows)]
    {
        options.open(path)?;
        winfs::restrict(path)?;
    }
    #[cfg(not(any(unix, windows)))]
    {
        options.open(path)?;
    }
    Ok(())
}
