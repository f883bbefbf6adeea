//! From script text to [`Statement`]s.
//!
//! [`parse`] reads a whole script. The interpreter instead calls [`split`] and, for each
//! [`RawStatement`], [`RawStatement::substitute_and_parse`] just before running it, so that
//! `${NAME}` sees the defines made by earlier statements.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use pest::Parser as _;
use pest::iterators::Pair;
use zeroize::Zeroizing;

use crate::ast::{
    AlterConnection, App, ClientAuthentication, CreatePlatform, ExportMode, Location, OnErrorMode,
    Preauthenticate, Register, SecretText, Statement, StatementKind,
};
use crate::diagnostics::{ParseError, ParseErrorKind, TextPlace};
use crate::keywords::{Rule, ScriptGrammar, keyword, statement_keywords};
use crate::limits::{MAX_SOURCE_BYTES, MAX_STATEMENT_BYTES};
use crate::scan::{self, Piece, ScanError, unquote};
use crate::substitute::{Defines, SubstituteError, substitute};

/// Parses a whole script. `origin` names it in errors: a file name, `<stdin>` or `-c`.
///
/// Text is parsed as written: `${NAME}` inside a string is kept literally, and outside a
/// string it is a syntax error. Use [`split`] and [`RawStatement::substitute_and_parse`] to run
/// a script with substitution.
///
/// ```
/// use preauth_script::{parse, StatementKind};
/// let statements = parse("show connections;\nlocal echo done", "-c").unwrap();
/// assert!(matches!(statements[0].kind, StatementKind::ShowConnections));
/// assert_eq!(statements[1].location.line, 2);
/// ```
pub fn parse(source: &str, origin: &str) -> Result<Vec<Statement>, ParseError> {
    let origin: Arc<str> = Arc::from(origin);
    let pieces = scan_checked(source, &origin)?;
    let mut lines = LineTracker::new(source);
    pieces
        .iter()
        .map(|piece| {
            let place = lines.place(piece.start);
            let text = source.get(piece.start..piece.end).unwrap_or("");
            let location = Location {
                origin: Arc::clone(&origin),
                line: place.line,
                column: place.column,
                offset: piece.start,
            };
            let text_place = TextPlace {
                text,
                lead: source.get(place.line_start..piece.start).unwrap_or(""),
                line: place.line,
                column: place.column,
            };
            parse_text(text_place, &origin, location, None)
        })
        .collect()
}

/// Parses one statement's text on its own (origin `<input>`, line 1).
pub(crate) fn parse_one(text: &str) -> Result<Statement, ParseError> {
    let origin: Arc<str> = Arc::from("<input>");
    let place = TextPlace {
        text,
        lead: "",
        line: 1,
        column: 1,
    };
    let location = Location {
        origin: Arc::clone(&origin),
        line: 1,
        column: 1,
        offset: 0,
    };
    parse_text(place, &origin, location, None)
}

/// Cuts a script into statements without parsing them (only strings, comments and
/// terminators are checked).
pub fn split(source: &str, origin: &str) -> Result<Vec<RawStatement>, ParseError> {
    let origin: Arc<str> = Arc::from(origin);
    let pieces = scan_checked(source, &origin)?;
    let mut lines = LineTracker::new(source);
    Ok(pieces
        .iter()
        .map(|piece| {
            let place = lines.place(piece.start);
            let lead = source.get(place.line_start..piece.start).unwrap_or("");
            RawStatement {
                text: source.get(piece.start..piece.end).unwrap_or("").to_owned(),
                lead: tail(lead, LEAD_CHARS),
                location: Location {
                    origin: Arc::clone(&origin),
                    line: place.line,
                    column: place.column,
                    offset: piece.start,
                },
                terminated: piece.terminated,
            }
        })
        .collect())
}

/// How much of the text before a statement on its line a [`RawStatement`] keeps for errors.
const LEAD_CHARS: usize = 80;

/// One statement's text as written, cut from a script by [`split`].
#[derive(Clone)]
pub struct RawStatement {
    /// The statement without its terminating `;` and surrounding white space.
    text: String,
    /// (The end of) what precedes it on its first line, for error snippets.
    lead: String,
    location: Location,
    terminated: bool,
}

impl fmt::Debug for RawStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The text may carry a secret literal; show only where the statement is.
        f.debug_struct("RawStatement")
            .field("location", &self.location)
            .field("bytes", &self.text.len())
            .finish_non_exhaustive()
    }
}

impl RawStatement {
    /// The statement as written (without `;`). May contain secret literals.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Where it starts.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Whether a `;` (or, for `local`, the end of its line) ended it, rather than the input.
    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    /// Parses the text as written.
    pub fn parse(&self) -> Result<Statement, ParseError> {
        parse_text(
            self.place(&self.text),
            &self.location.origin,
            self.location.clone(),
            None,
        )
    }

    /// Substitutes `${NAME}` references from `defines` (except in `local remark`) and parses
    /// the result. The statement keeps the unsubstituted text as [`Statement::raw`].
    pub fn substitute_and_parse(&self, defines: &Defines) -> Result<Statement, StatementError> {
        if !self.text.contains("${") || self.is_remark() {
            return Ok(self.parse()?);
        }
        let substituted = Zeroizing::new(substitute(&self.text, defines).map_err(|source| {
            StatementError::Substitute {
                location: self.location.clone(),
                source,
            }
        })?);
        Ok(parse_text(
            self.place(&substituted),
            &self.location.origin,
            self.location.clone(),
            Some(&self.text),
        )?)
    }

    fn is_remark(&self) -> bool {
        let mut words = self.text.split_ascii_whitespace();
        words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("local"))
            && words
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("remark"))
    }

    fn place<'a>(&'a self, text: &'a str) -> TextPlace<'a> {
        TextPlace {
            text,
            lead: &self.lead,
            line: self.location.line,
            column: self.location.column,
        }
    }
}

/// Why a statement could not be prepared for running.
#[derive(Debug, thiserror::Error)]
pub enum StatementError {
    /// `${NAME}` substitution failed.
    #[error("{location}: {source}")]
    Substitute {
        /// The statement's place.
        location: Location,
        /// The cause.
        source: SubstituteError,
    },
    /// The (substituted) text does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.origin, self.line, self.column)
    }
}

/// Runs the scanner and turns its failures into parse errors.
fn scan_checked(source: &str, origin: &Arc<str>) -> Result<Vec<Piece>, ParseError> {
    let whole = TextPlace {
        text: source,
        lead: "",
        line: 1,
        column: 1,
    };
    if source.len() > MAX_SOURCE_BYTES {
        return Err(ParseError::at(
            origin,
            whole,
            0,
            ParseErrorKind::SourceTooLarge {
                size: source.len(),
                limit: MAX_SOURCE_BYTES,
            },
        ));
    }
    scan::scan(source).map_err(|error| {
        let (at, kind) = match error {
            ScanError::UnterminatedString { at } => (at, ParseErrorKind::UnterminatedString),
            ScanError::UnterminatedLocalString { at } => {
                (at, ParseErrorKind::UnterminatedLocalString)
            }
            ScanError::UnterminatedComment { at } => (at, ParseErrorKind::UnterminatedComment),
            ScanError::StatementTooLong { at } => (
                at,
                ParseErrorKind::StatementTooLong {
                    limit: MAX_STATEMENT_BYTES,
                },
            ),
        };
        // Report from the start of the offending line so the snippet is that line.
        let mut lines = LineTracker::new(source);
        let place = lines.place(at);
        let from_line = TextPlace {
            text: source.get(place.line_start..).unwrap_or(""),
            lead: "",
            line: place.line,
            column: 1,
        };
        ParseError::at(origin, from_line, at - place.line_start, kind)
    })
}

/// Parses one statement's text. `raw` is the unsubstituted text when `place.text` is the
/// result of substitution.
fn parse_text(
    place: TextPlace<'_>,
    origin: &Arc<str>,
    location: Location,
    raw: Option<&str>,
) -> Result<Statement, ParseError> {
    let failed = |failure: Failure| {
        ParseError::at(origin, place, failure.offset, failure.kind).with_help(failure.help)
    };
    let mut pairs = ScriptGrammar::parse(Rule::statement_only, place.text)
        .map_err(|error| failed(syntax_failure(&error, place.text)))?;
    let mut builder = Builder {
        secret_spans: Vec::new(),
    };
    let statement = pairs
        .find(|p| !matches!(p.as_rule(), Rule::kw_local | Rule::EOI))
        .ok_or_else(|| Failure::internal(0))
        .and_then(|pair| builder.statement(pair))
        .map_err(failed)?;
    let (raw, spans) = match raw {
        Some(raw) => (raw.to_owned(), Vec::new()),
        None => (place.text.to_owned(), builder.secret_spans),
    };
    Ok(Statement::new(statement, location, raw, spans))
}

/// A failure inside one statement, before it gets its place.
struct Failure {
    /// Byte offset in the statement's text.
    offset: usize,
    kind: ParseErrorKind,
    help: Option<String>,
}

impl Failure {
    fn new(offset: usize, kind: ParseErrorKind) -> Self {
        Self {
            offset,
            kind,
            help: None,
        }
    }

    fn internal(offset: usize) -> Self {
        Self::new(offset, ParseErrorKind::Internal)
    }
}

/// Explains a pest failure in the words of the language, with a suggestion when the word
/// found is a near miss of a keyword that fits.
fn syntax_failure(error: &pest::error::Error<Rule>, text: &str) -> Failure {
    let offset = match error.location {
        pest::error::InputLocation::Pos(pos) => pos,
        pest::error::InputLocation::Span((start, _)) => start,
    };
    let positives: &[Rule] = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives,
        pest::error::ErrorVariant::CustomError { .. } => &[],
    };
    let rest = text.get(offset..).unwrap_or("");
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        .take(40)
        .collect();
    let found = describe_found(rest, &word);
    let expected_words: Vec<&'static str> = positives.iter().filter_map(|r| keyword(*r)).collect();
    let suggestion = crate::diagnostics::nearest(&word, expected_words.iter().copied())
        .map(|w| format!("did you mean '{w}'?"));
    let at_statement_start =
        positives.contains(&Rule::kw_local) && positives.contains(&Rule::kw_show);
    if at_statement_start && !word.is_empty() {
        return Failure {
            offset,
            kind: ParseErrorKind::UnknownStatement { found },
            help: suggestion,
        };
    }
    let help = suggestion.or_else(|| missing_terminator_hint(text, offset, &word));
    Failure {
        offset,
        kind: ParseErrorKind::Unexpected {
            expected: describe_expected(positives),
            found,
        },
        help,
    }
}

/// "did you forget a ';'?" when a statement keyword starts a line inside a statement.
fn missing_terminator_hint(text: &str, offset: usize, word: &str) -> Option<String> {
    let before = text.get(..offset)?;
    let starts_line = before
        .rsplit('\n')
        .next()
        .is_some_and(|line| line.trim().is_empty())
        && before.contains('\n');
    let is_statement = statement_keywords().any(|k| k.eq_ignore_ascii_case(word));
    (starts_line && is_statement)
        .then(|| "did you forget the ';' at the end of the previous statement?".to_owned())
}

/// What was found, never showing the contents of a string.
fn describe_found(rest: &str, word: &str) -> String {
    match rest.chars().next() {
        None => "the end of the statement".to_owned(),
        Some('\'' | '"') => "a quoted string".to_owned(),
        Some(_) if !word.is_empty() => format!("'{word}'"),
        Some(c) => format!("'{c}'"),
    }
}

/// "'country', 'client' or the end of the statement".
fn describe_expected(positives: &[Rule]) -> String {
    let mut items: Vec<String> = Vec::new();
    let end_last = positives
        .iter()
        .filter(|r| **r != Rule::EOI)
        .chain(positives.iter().filter(|r| **r == Rule::EOI));
    for rule in end_last {
        let item = match (keyword(*rule), rule) {
            (Some(word), _) => format!("'{word}'"),
            (None, Rule::string) => "a quoted string".to_owned(),
            (None, Rule::platform | Rule::platform_ident) => "a platform name".to_owned(),
            (None, Rule::define_name) => "a name".to_owned(),
            (None, Rule::bare_value) => "a value".to_owned(),
            (None, Rule::number) => "a number".to_owned(),
            (None, Rule::EOI) => "the end of the statement".to_owned(),
            (None, other) => format!("{other:?}").replace('_', " "),
        };
        if !items.contains(&item) {
            items.push(item);
        }
    }
    match items.split_last() {
        None => "something else".to_owned(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// Builds AST nodes from pest pairs, noting where secret literals are.
struct Builder {
    secret_spans: Vec<Range<usize>>,
}

type Built<T> = Result<T, Failure>;

impl Builder {
    fn statement(&mut self, pair: Pair<'_, Rule>) -> Built<StatementKind> {
        let start = pair.as_span().start();
        let rule = pair.as_rule();
        let mut inner = Children::new(pair);
        Ok(match rule {
            Rule::define => StatementKind::Define {
                name: inner.text(Rule::define_name)?,
                value: self.value(&mut inner, false)?,
            },
            Rule::define_encrypted => StatementKind::DefineEncrypted {
                name: inner.text(Rule::define_name)?,
                value: SecretText::new(self.value(&mut inner, true)?),
            },
            Rule::undefine => StatementKind::Undefine {
                name: inner.text(Rule::define_name)?,
            },
            Rule::echo => StatementKind::Echo {
                text: echo_text(inner.text(Rule::rest)?.trim()),
            },
            Rule::remark => StatementKind::Remark {
                text: inner.text(Rule::rest)?.trim().to_owned(),
            },
            Rule::include => StatementKind::Include {
                path: inner.string()?,
            },
            Rule::on_error => StatementKind::OnError(on_error_mode(&mut inner)?),
            Rule::encrypt_connection => StatementKind::EncryptConnection {
                connection_string: self.secret(&mut inner)?,
            },
            Rule::encrypt_value => StatementKind::EncryptValue {
                value: self.secret(&mut inner)?,
            },
            Rule::decrypt_connection => StatementKind::DecryptConnection {
                text: self.secret(&mut inner)?,
            },
            Rule::preauthenticate => self.preauthenticate(inner)?,
            Rule::preauthenticate_connection => StatementKind::PreauthenticateConnection {
                name: inner.string()?,
            },
            Rule::alter_connection => self.alter_connection(inner)?,
            Rule::exchange_code => StatementKind::ExchangeCode {
                url: self.secret(&mut inner)?,
                connection: inner.optional_string(),
            },
            Rule::register_connection => self.register(inner)?,
            Rule::refresh_connection => StatementKind::RefreshConnection {
                name: inner.string()?,
                force: inner.has(Rule::kw_force),
            },
            Rule::refresh_all => StatementKind::RefreshAll {
                older_than_days: inner.optional_number()?,
            },
            Rule::advance_sandbox_clock => {
                let amount = inner.optional_number()?.unwrap_or_default();
                let unit = inner
                    .take(Rule::time_unit)
                    .and_then(|p| p.into_inner().next())
                    .map(|p| match p.as_rule() {
                        Rule::kw_minutes => 60,
                        Rule::kw_hours => 3600,
                        Rule::kw_days => 86_400,
                        _ => 1,
                    })
                    .unwrap_or(1);
                StatementKind::AdvanceSandboxClock {
                    seconds: u64::from(amount) * unit,
                }
            }
            Rule::show_connections => StatementKind::ShowConnections,
            Rule::show_connection => StatementKind::ShowConnection {
                name: inner.string()?,
            },
            Rule::show_platforms => StatementKind::ShowPlatforms,
            Rule::show_access_token => StatementKind::ShowAccessToken {
                connection: inner.string()?,
            },
            Rule::check_connections => {
                let mut options = Options::collect(inner)?;
                StatementKind::CheckConnections {
                    warn_days: options.number(Rule::opt_warn_days)?,
                    critical_days: options.number(Rule::opt_critical_days)?,
                }
            }
            Rule::export_settings => StatementKind::ExportSettings {
                name: inner.string()?,
                mode: if inner.has(Rule::kw_plain) {
                    Some(ExportMode::Plain)
                } else if inner.has(Rule::kw_encrypted) {
                    Some(ExportMode::Encrypted)
                } else {
                    None
                },
            },
            Rule::import_settings => StatementKind::ImportSettings {
                path: inner.string()?,
            },
            Rule::drop_connection => StatementKind::DropConnection {
                if_exists: inner.has(Rule::kw_exists),
                name: inner.string()?,
            },
            Rule::create_platform => create_platform(inner)?,
            _ => return Err(Failure::internal(start)),
        })
    }

    /// A define's value: a quoted string or a bare word.
    fn value(&mut self, inner: &mut Children<'_>, secret: bool) -> Built<String> {
        let pair = inner
            .take_any(&[Rule::string, Rule::bare_value])
            .ok_or_else(|| Failure::internal(inner.end))?;
        if secret {
            self.secret_spans.push(span(&pair));
        }
        Ok(match pair.as_rule() {
            Rule::string => unquote(pair.as_str()),
            _ => pair.as_str().to_owned(),
        })
    }

    /// The next string, noted as a secret.
    fn secret(&mut self, inner: &mut Children<'_>) -> Built<SecretText> {
        let pair = inner
            .take(Rule::string)
            .ok_or_else(|| Failure::internal(inner.end))?;
        self.secret_spans.push(span(&pair));
        Ok(SecretText::new(unquote(pair.as_str())))
    }

    /// The string of an option, noted as a secret.
    fn option_secret(
        &mut self,
        options: &mut Options<'_>,
        rule: Rule,
    ) -> Built<Option<SecretText>> {
        options
            .take(rule)
            .map(|pair| self.secret(&mut Children::new(pair)))
            .transpose()
    }

    fn app(&mut self, options: &mut Options<'_>, statement: &'static str) -> Built<App> {
        let platform = match options.take(Rule::opt_platform) {
            Some(pair) => Children::new(pair).platform()?,
            None => return Err(options.missing(statement, Rule::opt_platform)),
        };
        self.app_for(platform, options, statement)
    }

    fn app_for(
        &mut self,
        platform: String,
        options: &mut Options<'_>,
        statement: &'static str,
    ) -> Built<App> {
        let client_secret = self.option_secret(options, Rule::opt_client_secret)?;
        Ok(App {
            platform,
            country: options.string(Rule::opt_country)?,
            api_url: options.string(Rule::opt_api_url)?,
            client_id: options.required(statement, Rule::opt_client_id)?,
            client_secret,
            redirect_url: options.required(statement, Rule::opt_redirect_url)?,
        })
    }

    fn preauthenticate(&mut self, mut inner: Children<'_>) -> Built<StatementKind> {
        const STATEMENT: &str = "preauthenticate";
        let platform = inner.platform()?;
        let mut options = Options::collect(inner)?;
        let app = self.app_for(platform, &mut options, STATEMENT)?;
        Ok(StatementKind::Preauthenticate(Preauthenticate {
            app,
            connection: options.required(STATEMENT, Rule::opt_as_connection)?,
        }))
    }

    fn alter_connection(&mut self, mut inner: Children<'_>) -> Built<StatementKind> {
        let connection = inner.string()?;
        let mut options = Options::collect(inner)?;
        let client_secret = self.option_secret(&mut options, Rule::opt_client_secret)?;
        Ok(StatementKind::AlterConnection(AlterConnection {
            connection,
            client_id: options.string(Rule::opt_client_id)?,
            client_secret,
            redirect_url: options.string(Rule::opt_redirect_url)?,
            api_url: options.string(Rule::opt_api_url)?,
        }))
    }

    fn register(&mut self, mut inner: Children<'_>) -> Built<StatementKind> {
        const STATEMENT: &str = "register connection";
        let connection = inner.string()?;
        let mut options = Options::collect(inner)?;
        let app = self.app(&mut options, STATEMENT)?;
        let access_token = self
            .option_secret(&mut options, Rule::opt_access_token)?
            .ok_or_else(|| options.missing(STATEMENT, Rule::opt_access_token))?;
        let refresh_token = self
            .option_secret(&mut options, Rule::opt_refresh_token)?
            .ok_or_else(|| options.missing(STATEMENT, Rule::opt_refresh_token))?;
        Ok(StatementKind::Register(Register {
            connection,
            app,
            access_token,
            refresh_token,
            obtained_at: options.string(Rule::opt_obtained_at)?,
            verify: options.take(Rule::opt_verify).is_some(),
        }))
    }
}

fn create_platform(mut inner: Children<'_>) -> Built<StatementKind> {
    const STATEMENT: &str = "create platform";
    let id = inner.string()?;
    let mut options = Options::collect(inner)?;
    let client_authentication = options.take(Rule::opt_client_authentication).map(|pair| {
        if Children::new(pair).has(Rule::kw_basic) {
            ClientAuthentication::Basic
        } else {
            ClientAuthentication::Body
        }
    });
    let pkce = options
        .take(Rule::opt_pkce)
        .map(|pair| Children::new(pair).has(Rule::kw_on));
    Ok(StatementKind::CreatePlatform(CreatePlatform {
        id,
        authorize_url: options.required(STATEMENT, Rule::opt_authorize_url)?,
        token_url: options.required(STATEMENT, Rule::opt_token_url)?,
        client_authentication,
        scope: options.string(Rule::opt_scope)?,
        pkce,
        issuer: options.string(Rule::opt_issuer)?,
    }))
}

fn on_error_mode(inner: &mut Children<'_>) -> Built<OnErrorMode> {
    if inner.has(Rule::kw_default) {
        return Ok(OnErrorMode::Default);
    }
    if inner.has(Rule::kw_continue) {
        return Ok(OnErrorMode::Continue);
    }
    if inner.has(Rule::kw_ignore) {
        return Ok(OnErrorMode::Ignore);
    }
    let exit = inner
        .take(Rule::exit_mode)
        .map(Children::new)
        .ok_or_else(|| Failure::internal(inner.end))?;
    Ok(if exit.has(Rule::kw_success) {
        OnErrorMode::ExitSuccess
    } else if exit.has(Rule::kw_warning) {
        OnErrorMode::ExitWarning
    } else {
        OnErrorMode::ExitFailure
    })
}

/// `local echo 'text'` prints the string; anything else prints the text as written.
fn echo_text(rest: &str) -> String {
    match ScriptGrammar::parse(Rule::lone_string, rest) {
        Ok(mut pairs) => pairs
            .find(|p| p.as_rule() == Rule::string)
            .map_or_else(|| rest.to_owned(), |p| unquote(p.as_str())),
        Err(_) => rest.to_owned(),
    }
}

fn span(pair: &Pair<'_, Rule>) -> Range<usize> {
    let span = pair.as_span();
    span.start()..span.end()
}

fn number(pair: &Pair<'_, Rule>) -> Built<u32> {
    pair.as_str().parse().map_err(|_| {
        Failure::new(
            pair.as_span().start(),
            ParseErrorKind::NumberTooLarge {
                text: pair.as_str().to_owned(),
                max: u32::MAX,
            },
        )
    })
}

/// The children of a pair, taken in order.
struct Children<'i> {
    pairs: Vec<Pair<'i, Rule>>,
    /// End of the parent, for errors that point at "the end".
    end: usize,
}

impl<'i> Children<'i> {
    fn new(pair: Pair<'i, Rule>) -> Self {
        let end = pair.as_span().end();
        Self {
            pairs: pair.into_inner().rev().collect(),
            end,
        }
    }

    /// The next child if it has one of the rules, skipping keywords before it.
    fn take_any(&mut self, rules: &[Rule]) -> Option<Pair<'i, Rule>> {
        while let Some(pair) = self.pairs.pop() {
            if rules.contains(&pair.as_rule()) {
                return Some(pair);
            }
            if keyword(pair.as_rule()).is_none() {
                self.pairs.push(pair);
                return None;
            }
        }
        None
    }

    fn take(&mut self, rule: Rule) -> Option<Pair<'i, Rule>> {
        self.take_any(&[rule])
    }

    /// Whether a remaining child has the rule.
    fn has(&self, rule: Rule) -> bool {
        self.pairs.iter().any(|p| p.as_rule() == rule)
    }

    fn text(&mut self, rule: Rule) -> Built<String> {
        self.take(rule)
            .map(|p| p.as_str().to_owned())
            .ok_or_else(|| Failure::internal(self.end))
    }

    fn string(&mut self) -> Built<String> {
        self.optional_string()
            .ok_or_else(|| Failure::internal(self.end))
    }

    fn optional_string(&mut self) -> Option<String> {
        self.take(Rule::string).map(|p| unquote(p.as_str()))
    }

    fn optional_number(&mut self) -> Built<Option<u32>> {
        self.take(Rule::number).map(|p| number(&p)).transpose()
    }

    fn platform(&mut self) -> Built<String> {
        let pair = self
            .take(Rule::platform)
            .and_then(|p| p.into_inner().next())
            .ok_or_else(|| Failure::internal(self.end))?;
        Ok(match pair.as_rule() {
            Rule::string => unquote(pair.as_str()),
            _ => pair.as_str().to_owned(),
        })
    }
}

/// Options that may come in any order, each at most once.
struct Options<'i> {
    found: Vec<Pair<'i, Rule>>,
    /// Where a missing option is reported: the end of the statement.
    end: usize,
}

impl<'i> Options<'i> {
    fn collect(rest: Children<'i>) -> Built<Self> {
        let mut found: Vec<Pair<'i, Rule>> = Vec::new();
        for pair in rest.pairs.into_iter().rev() {
            if keyword(pair.as_rule()).is_some() {
                continue;
            }
            if found.iter().any(|p| p.as_rule() == pair.as_rule()) {
                return Err(Failure::new(
                    pair.as_span().start(),
                    ParseErrorKind::DuplicateOption {
                        option: option_words(pair.as_rule()),
                    },
                ));
            }
            found.push(pair);
        }
        Ok(Self {
            found,
            end: rest.end,
        })
    }

    fn take(&mut self, rule: Rule) -> Option<Pair<'i, Rule>> {
        let index = self.found.iter().position(|p| p.as_rule() == rule)?;
        Some(self.found.swap_remove(index))
    }

    fn string(&mut self, rule: Rule) -> Built<Option<String>> {
        Ok(self
            .take(rule)
            .and_then(|pair| Children::new(pair).optional_string()))
    }

    fn number(&mut self, rule: Rule) -> Built<Option<u32>> {
        match self.take(rule) {
            Some(pair) => Children::new(pair).optional_number(),
            None => Ok(None),
        }
    }

    fn required(&mut self, statement: &'static str, rule: Rule) -> Built<String> {
        self.string(rule)?
            .ok_or_else(|| self.missing(statement, rule))
    }

    fn missing(&self, statement: &'static str, rule: Rule) -> Failure {
        Failure::new(
            self.end,
            ParseErrorKind::MissingOption {
                statement,
                option: option_words(rule),
            },
        )
    }
}

/// The keywords of an option rule: `opt_client_id` is "client id".
fn option_words(rule: Rule) -> String {
    let name = format!("{rule:?}");
    name.strip_prefix("opt_").unwrap_or(&name).replace('_', " ")
}

/// The text between a position and its line's start, last `max` characters at most.
fn tail(text: &str, max: usize) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(max)).collect()
}

/// Line and column of increasing offsets, in one pass over the source.
struct LineTracker<'a> {
    source: &'a str,
    /// Offset up to which lines are counted.
    at: usize,
    line: usize,
    line_start: usize,
    /// 1-based column of `at` in characters.
    column: usize,
}

/// A position's line, column and line start.
struct Place {
    line: usize,
    column: usize,
    line_start: usize,
}

impl<'a> LineTracker<'a> {
    fn new(source: &'a str) -> Self {
        Self {
            source,
            at: 0,
            line: 1,
            line_start: 0,
            column: 1,
        }
    }

    /// The place of `offset`, which must not be less than the previous one asked for.
    fn place(&mut self, offset: usize) -> Place {
        let segment = self.source.get(self.at..offset).unwrap_or("");
        match segment.rfind('\n') {
            Some(last) => {
                self.line += segment.bytes().filter(|&b| b == b'\n').count();
                self.line_start = self.at + last + 1;
                self.column = 1 + segment.get(last + 1..).unwrap_or("").chars().count();
            }
            None => self.column += segment.chars().count(),
        }
        self.at = offset.max(self.at);
        Place {
            line: self.line,
            column: self.column,
            line_start: self.line_start,
        }
    }
}
