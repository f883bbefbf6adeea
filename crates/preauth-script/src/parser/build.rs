//! Building: pest pairs to AST nodes, noting where secret literals are.

use std::ops::Range;
use std::sync::LazyLock;

use pest::Parser as _;
use pest::iterators::Pair;

use super::explain::Failure;
use crate::ast::{
    AlterConnection, App, ClientAuthentication, CreatePlatform, EventType, ExportMode, Format,
    Network, OnErrorMode, PlatformEndpoints, Preauthenticate, RefreshTokens, Register, Scope,
    SecretText, StatementKind,
};
use crate::diagnostics::ParseErrorKind;
use crate::keywords::{Rule, ScriptGrammar, keyword};
use crate::scan::unquote;

/// Builds AST nodes from pest pairs, noting where secret literals are.
pub(super) struct Builder {
    pub secret_spans: Vec<Range<usize>>,
}

pub(super) type Built<T> = Result<T, Failure>;

impl Builder {
    pub(super) fn statement(&mut self, pair: Pair<'_, Rule>) -> Built<StatementKind> {
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
            Rule::show_platform => StatementKind::ShowPlatform {
                id: inner.string()?,
            },
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
            Rule::show_machines => StatementKind::ShowMachines,
            Rule::enroll_machine => StatementKind::EnrollMachine,
            Rule::enroll_with_code => StatementKind::EnrollWithCode {
                code: self.secret(&mut inner)?,
            },
            Rule::drop_machine => StatementKind::DropMachine {
                name: inner.string()?,
            },
            Rule::create_api_key => StatementKind::CreateApiKey {
                name: inner.string()?,
                scope: if inner.has(Rule::kw_admin) {
                    Scope::Admin
                } else if inner.has(Rule::kw_register) {
                    Scope::Register
                } else {
                    Scope::Token
                },
                networks: networks(inner.take(Rule::api_key_from))?,
            },
            Rule::show_api_keys => StatementKind::ShowApiKeys,
            Rule::show_limits => StatementKind::ShowLimits,
            Rule::alter_app => {
                let client_id = inner.string()?;
                let mut options = Options::collect(inner)?;
                StatementKind::AlterApp {
                    client_id,
                    calls_per_day: options.number(Rule::opt_calls_per_day)?,
                    reserve_percent: options.number(Rule::opt_reserve)?,
                }
            }
            Rule::drop_api_key => StatementKind::DropApiKey {
                name: inner.string()?,
            },
            Rule::create_webhook => StatementKind::CreateWebhook {
                name: inner.string()?,
                url: inner.string()?,
                events: inner
                    .take(Rule::webhook_events)
                    .map(|events| {
                        events
                            .into_inner()
                            .filter_map(|e| EventType::parse(e.as_str().trim()))
                            .collect()
                    })
                    .unwrap_or_default(),
                format: match inner.take(Rule::webhook_format) {
                    Some(f) if f.as_str().to_ascii_lowercase().ends_with("slack") => Format::Slack,
                    _ => Format::Json,
                },
            },
            Rule::show_webhooks => StatementKind::ShowWebhooks,
            Rule::show_webhook_deliveries => StatementKind::ShowWebhookDeliveries,
            Rule::drop_webhook => StatementKind::DropWebhook {
                name: inner.string()?,
            },
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
    let endpoints = match options.take(Rule::from_issuer) {
        Some(from) => {
            for given in [
                Rule::opt_authorize_url,
                Rule::opt_token_url,
                Rule::opt_issuer,
            ] {
                if let Some(pair) = options.take(given) {
                    return Err(Failure::new(
                        pair.as_span().start(),
                        ParseErrorKind::ConflictingOption {
                            option: option_words(given),
                            other: "from issuer".into(),
                        },
                    ));
                }
            }
            PlatformEndpoints::Discovered {
                issuer: Children::new(from).string()?,
            }
        }
        None => PlatformEndpoints::Given {
            authorize_url: options.required(STATEMENT, Rule::opt_authorize_url)?,
            token_url: options.required(STATEMENT, Rule::opt_token_url)?,
            issuer: options.string(Rule::opt_issuer)?,
        },
    };
    let client_authentication = options.take(Rule::opt_client_authentication).map(|pair| {
        if Children::new(pair).has(Rule::kw_basic) {
            ClientAuthentication::Basic
        } else {
            ClientAuthentication::Body
        }
    });
    let switch = |pair: Pair<'_, Rule>| Children::new(pair).has(Rule::kw_on);
    let pkce = options.take(Rule::opt_pkce).map(switch);
    let refresh_tokens = options.take(Rule::opt_refresh_tokens).map(|pair| {
        let words = Children::new(pair);
        if words.has(Rule::kw_rotating) {
            RefreshTokens::Rotating
        } else if words.has(Rule::kw_on) {
            RefreshTokens::On
        } else {
            RefreshTokens::Off
        }
    });
    let scope = options.string(Rule::opt_scope)?;
    // The rest are authorization parameters, kept in the order written.
    let mut rest = options.found;
    rest.sort_by_key(|pair| pair.as_span().start());
    let mut parameters = Vec::new();
    for pair in rest {
        let rule = pair.as_rule();
        let mut strings = Children::new(pair);
        let name = match rule {
            Rule::opt_prompt => "prompt".to_owned(),
            Rule::opt_audience => "audience".to_owned(),
            Rule::opt_resource => "resource".to_owned(),
            Rule::opt_parameter => strings.string()?,
            _ => return Err(Failure::internal(strings.end)),
        };
        parameters.push((name, strings.string()?));
    }
    Ok(StatementKind::CreatePlatform(CreatePlatform {
        id,
        endpoints,
        client_authentication,
        scope,
        pkce,
        parameters,
        refresh_tokens,
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

/// The networks of `from '10.0.0.0/8', …`, each checked; none without it.
fn networks(from: Option<Pair<'_, Rule>>) -> Built<Vec<Network>> {
    let Some(from) = from else {
        return Ok(Vec::new());
    };
    from.into_inner()
        .filter(|pair| pair.as_rule() == Rule::string)
        .map(|pair| {
            unquote(pair.as_str()).parse().map_err(|error| {
                Failure::new(pair.as_span().start(), ParseErrorKind::BadNetwork(error))
            })
        })
        .collect()
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

/// Whether a rule is a keyword's. Asked for every child, so a table by rule number rather
/// than [`keyword`]'s search.
fn is_keyword(rule: Rule) -> bool {
    static KEYWORD_RULES: LazyLock<Vec<bool>> = LazyLock::new(|| {
        let mut table = vec![false; Rule::all_rules().len()];
        for rule in Rule::all_rules() {
            if let Some(entry) = table.get_mut(*rule as usize) {
                *entry = keyword(*rule).is_some();
            }
        }
        table
    });
    KEYWORD_RULES
        .get(rule as usize)
        .copied()
        .unwrap_or_else(|| keyword(rule).is_some())
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
            if !is_keyword(pair.as_rule()) {
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

/// Options that may come in any order, each at most once (but `parameter 'name' 'value'`,
/// which names what it sets).
struct Options<'i> {
    found: Vec<Pair<'i, Rule>>,
    /// Where a missing option is reported: the end of the statement.
    end: usize,
}

impl<'i> Options<'i> {
    fn collect(rest: Children<'i>) -> Built<Self> {
        let mut found: Vec<Pair<'i, Rule>> = Vec::new();
        for pair in rest.pairs.into_iter().rev() {
            if is_keyword(pair.as_rule()) {
                continue;
            }
            if pair.as_rule() != Rule::opt_parameter
                && found.iter().any(|p| p.as_rule() == pair.as_rule())
            {
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
