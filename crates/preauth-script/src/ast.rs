//! The statements of the script language: the contract between the parser and the interpreter.
//!
//! A [`Statement`] is what one piece of script means ([`StatementKind`]), where it came from
//! ([`Location`]) and the text as the user wrote it ([`Statement::raw`], before any `${NAME}`
//! substitution, so that `--echo` and error messages never show a substituted secret).
//!
//! Literal secrets (connection strings to encrypt, client secrets, tokens, values of
//! `local define encrypted`, return URLs carrying an authorization code) are held in
//! [`SecretText`], whose `Debug` is redacted and whose bytes are wiped on drop.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use preauth_actions::AppSettings;
use preauth_actions::connections::AppChanges;
pub use preauth_actions::platforms::{NewPlatform, PlatformEndpoints, RefreshTokens};
use preauth_actions::register::TokensHandedOver;
pub use preauth_core::api_keys::Scope;
pub use preauth_core::network::Network;
pub use preauth_core::notify::{EventType, Format};
use preauth_core::platform::ClientAuth;
use preauth_core::secret::{AccessToken, ClientSecret, RefreshToken};
use zeroize::Zeroizing;

/// Where a statement starts in its script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The script's name: a file name, `<stdin>` or `-c`.
    pub origin: Arc<str>,
    /// 1-based line of the statement's first character.
    pub line: usize,
    /// 1-based column (in characters) of the statement's first character.
    pub column: usize,
    /// Byte offset of the statement's first character in the script.
    pub offset: usize,
}

/// A secret written literally in a script. `Debug` prints `SecretText([redacted])`; there is
/// no `Display` and no `PartialEq`; the text is wiped when dropped. Read it with
/// [`SecretText::secret`].
#[derive(Clone)]
pub struct SecretText(Zeroizing<String>);

impl SecretText {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret itself. Every call site is a place where the secret leaves.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText([redacted])")
    }
}

/// One parsed statement.
#[derive(Clone)]
pub struct Statement {
    /// What the statement asks for.
    pub kind: StatementKind,
    /// Where it starts.
    pub location: Location,
    /// The statement as written (without its terminating `;`), before substitution.
    raw: String,
    /// Byte ranges in the parsed text of the string literals that hold secrets, quotes
    /// included. Invariant: only set when the parsed text is `raw` (no substitution happened),
    /// so the ranges index `raw`.
    secret_spans: Vec<Range<usize>>,
}

impl Statement {
    /// Builds a statement; `secret_spans` index `raw` (see [`Statement::secret_spans`]).
    pub(crate) fn new(
        kind: StatementKind,
        location: Location,
        raw: String,
        secret_spans: Vec<Range<usize>>,
    ) -> Self {
        Self {
            kind,
            location,
            raw,
            secret_spans,
        }
    }

    /// The statement as the user wrote it, without its terminating `;` and before `${NAME}`
    /// substitution. Contains secret literals when [`Statement::carries_secret_literal`] is
    /// true: show [`Statement::redacted_raw`] instead.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Byte ranges of [`Statement::raw`] that hold secret literals (quotes included). Empty
    /// when the statement was parsed from substituted text.
    pub fn secret_spans(&self) -> &[Range<usize>] {
        &self.secret_spans
    }

    /// The raw text with each secret literal replaced by `'<redacted>'`, or `None` when the
    /// statement carries a secret whose position is unknown (it was parsed after
    /// substitution).
    pub fn redacted_raw(&self) -> Option<String> {
        if !self.carries_secret_literal() {
            return Some(self.raw.clone());
        }
        if self.secret_spans.is_empty() {
            return None;
        }
        crate::redacted::replace_spans(&self.raw, &self.secret_spans)
    }

    /// True when the statement holds a secret typed literally: a connection string or value to
    /// encrypt, text to decrypt, a client secret, tokens, a `local define encrypted` value, or
    /// a return URL with an authorization code. Such statements are never stored in history
    /// as typed.
    pub fn carries_secret_literal(&self) -> bool {
        self.kind.carries_secret_literal()
    }
}

impl fmt::Debug for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Statement");
        out.field("kind", &self.kind)
            .field("location", &self.location);
        if self.carries_secret_literal() {
            out.field("raw", &"[redacted]");
        } else {
            out.field("raw", &self.raw);
        }
        out.finish()
    }
}

/// What a statement asks for.
#[derive(Clone, Debug)]
pub enum StatementKind {
    /// `local define NAME "value"`: set a substitution variable.
    Define {
        /// The name, as written (names compare case-insensitively).
        name: String,
        /// The value, unquoted.
        value: String,
    },
    /// `local define encrypted NAME "dk1:…"`: set a variable to the decryption (with the device
    /// key) of the value.
    DefineEncrypted {
        /// The name, as written.
        name: String,
        /// The encrypted text, unquoted.
        value: SecretText,
    },
    /// `local undefine NAME`.
    Undefine {
        /// The name, as written.
        name: String,
    },
    /// `local echo 'text'` or `local echo rest of line`.
    Echo {
        /// The text to print: the unquoted string, or the rest of the line trimmed.
        text: String,
    },
    /// `local remark rest of line`: does nothing.
    Remark {
        /// The remark, trimmed.
        text: String,
    },
    /// `local include 'file.sql'`: run another script (relative to the including file).
    Include {
        /// The path as written.
        path: String,
    },
    /// `local on error …`: what a failing statement does from now on.
    OnError(OnErrorMode),
    /// `encrypt connection '…'`: print the device-bound encryption of a connection string.
    EncryptConnection {
        /// The connection string to encrypt.
        connection_string: SecretText,
    },
    /// `encrypt value '…'`: print the device-bound encryption of any other secret.
    EncryptValue {
        /// The value to encrypt.
        value: SecretText,
    },
    /// `decrypt connection '…'`: print the plain connection string.
    DecryptConnection {
        /// The encrypted text.
        text: SecretText,
    },
    /// `preauthenticate <platform> … as connection '<name>'`: the interactive code flow.
    Preauthenticate(Preauthenticate),
    /// `preauthenticate connection '<name>'`: log in again for a stored connection with its
    /// stored client id, client secret, redirect URL and platform; its tokens are replaced.
    PreauthenticateConnection {
        /// The connection.
        name: String,
    },
    /// `alter connection '<name>' set client secret '…'[, …]`: change stored app settings.
    AlterConnection(AlterConnection),
    /// `exchange code url '…' [for connection '<name>']`: finish a flow with a pasted return URL.
    ExchangeCode {
        /// The return URL (it carries the authorization code).
        url: SecretText,
        /// The connection whose pending authorization it completes, if named.
        connection: Option<String>,
    },
    /// `register connection '<name>' …`: store tokens obtained elsewhere (the OEM flow).
    Register(Register),
    /// `refresh connection '<name>' [force]`.
    RefreshConnection {
        /// The connection.
        name: String,
        /// Refresh even when the access token is still valid.
        force: bool,
    },
    /// `refresh all connections [older than <N> days]`.
    RefreshAll {
        /// Only refresh connections whose refresh token is older than this many days.
        older_than_days: Option<u32>,
    },
    /// `show connections`.
    ShowConnections,
    /// `show connection '<name>'`.
    ShowConnection {
        /// The connection.
        name: String,
    },
    /// `show platforms`.
    ShowPlatforms,
    /// `show platform '<id>'`: everything stored about one platform.
    ShowPlatform {
        /// The platform's id.
        id: String,
    },
    /// `show machines`: the machines that hold a key slot of the shared store.
    ShowMachines,
    /// `enroll machine`: print a one-time code that enrolls another machine.
    EnrollMachine,
    /// `enroll machine with code '…'`: enroll the machine this runs on.
    EnrollWithCode {
        /// The code another machine printed.
        code: SecretText,
    },
    /// `drop machine '<name>'`: remove a machine's key slot.
    DropMachine {
        /// The slot's name.
        name: String,
    },
    /// `create api key '<name>' scope token|register|admin [from '<cidr>', …]`: a key for
    /// `preauth serve`, printed once.
    CreateApiKey {
        /// The key's name.
        name: String,
        /// What it may do.
        scope: Scope,
        /// The networks it may be used from; empty: anywhere.
        networks: Vec<Network>,
    },
    /// `show api keys`: the keys' names, scopes, networks and creation times.
    ShowApiKeys,
    /// `show limits`: the token-endpoint limits of the platforms and what the budget
    /// ledger counted today.
    ShowLimits,
    /// `alter app '<client id>' set token calls per day <N>, reserve <P> percent`: an
    /// app the platform exempted from its usual budget, and the share of its day's calls
    /// that background work leaves to interactive use.
    AlterApp {
        /// The app's client id.
        client_id: String,
        /// Calls a day, when given.
        calls_per_day: Option<u32>,
        /// The reserve in percent, when given.
        reserve_percent: Option<u32>,
    },
    /// `drop api key '<name>'`: revoke a key.
    DropApiKey {
        /// The key's name.
        name: String,
    },
    /// `create webhook '<name>' url '<url>' [events <type>, …] [format json|slack]`: a
    /// webhook whose secret is printed once.
    CreateWebhook {
        /// The webhook's name.
        name: String,
        /// Where events are posted.
        url: String,
        /// The events it receives; empty: all.
        events: Vec<EventType>,
        /// The body's shape.
        format: Format,
    },
    /// `show webhooks`: names, URLs, events, formats (never secrets).
    ShowWebhooks,
    /// `show webhook deliveries`: what was sent, when, tries, answers, state.
    ShowWebhookDeliveries,
    /// `drop webhook '<name>'`.
    DropWebhook {
        /// The webhook's name.
        name: String,
    },
    /// `show access token for connection '<name>'`: print the secret on purpose.
    ShowAccessToken {
        /// The connection.
        connection: String,
    },
    /// `check connections [warn days <N>] [critical days <M>]`.
    CheckConnections {
        /// Warn when a refresh token expires within this many days.
        warn_days: Option<u32>,
        /// Report critical when a refresh token expires within this many days.
        critical_days: Option<u32>,
    },
    /// `export settings '<name>' [plain|encrypted]`.
    ExportSettings {
        /// The connection whose settings are exported.
        name: String,
        /// The requested form, when given.
        mode: Option<ExportMode>,
    },
    /// `import settings '<file>'`.
    ImportSettings {
        /// The settings file.
        path: String,
    },
    /// `drop connection [if exists] '<name>'`.
    DropConnection {
        /// The connection.
        name: String,
        /// A missing connection is not an error.
        if_exists: bool,
    },
    /// `create platform '<id>' …`: define a custom platform.
    CreatePlatform(CreatePlatform),
    /// `advance sandbox clock by <N> seconds|minutes|hours|days`: move the embedded
    /// sandbox's virtual clock (and the run's own clock) forward, to reach expiries.
    AdvanceSandboxClock {
        /// How far, in seconds.
        seconds: u64,
    },
}

impl StatementKind {
    /// See [`Statement::carries_secret_literal`].
    ///
    /// The match is exhaustive on purpose: a new statement must say whether it carries one.
    pub fn carries_secret_literal(&self) -> bool {
        match self {
            Self::DefineEncrypted { .. }
            | Self::EncryptConnection { .. }
            | Self::EncryptValue { .. }
            | Self::DecryptConnection { .. }
            | Self::ExchangeCode { .. }
            | Self::EnrollWithCode { .. }
            | Self::Register(_) => true,
            Self::Preauthenticate(p) => p.app.client_secret.is_some(),
            Self::AlterConnection(a) => a.client_secret.is_some(),
            Self::Define { .. }
            | Self::Undefine { .. }
            | Self::Echo { .. }
            | Self::Remark { .. }
            | Self::Include { .. }
            | Self::OnError(_)
            | Self::PreauthenticateConnection { .. }
            | Self::RefreshConnection { .. }
            | Self::RefreshAll { .. }
            | Self::ShowConnections
            | Self::ShowConnection { .. }
            | Self::ShowPlatforms
            | Self::ShowPlatform { .. }
            | Self::ShowMachines
            | Self::EnrollMachine
            | Self::DropMachine { .. }
            | Self::CreateApiKey { .. }
            | Self::ShowApiKeys
            | Self::ShowLimits
            | Self::AlterApp { .. }
            | Self::DropApiKey { .. }
            | Self::CreateWebhook { .. }
            | Self::ShowWebhooks
            | Self::ShowWebhookDeliveries
            | Self::DropWebhook { .. }
            | Self::ShowAccessToken { .. }
            | Self::CheckConnections { .. }
            | Self::ExportSettings { .. }
            | Self::ImportSettings { .. }
            | Self::DropConnection { .. }
            | Self::CreatePlatform(_)
            | Self::AdvanceSandboxClock { .. } => false,
        }
    }
}

/// The behaviour chosen by `local on error`, with Invantive's meanings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnErrorMode {
    /// Stop at the first failing statement (exit code 1).
    Default,
    /// Go on after a failure; exit with the failure code at the end.
    Continue,
    /// Forget failures.
    Ignore,
    /// End the run on a failure with exit code 0.
    ExitSuccess,
    /// End the run on a failure with exit code 1.
    ExitFailure,
    /// End the run on a failure with exit code 3.
    ExitWarning,
}

/// The form requested by `export settings`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportMode {
    /// Secrets in plain text.
    Plain,
    /// Secrets encrypted with the device key.
    Encrypted,
}

/// How a custom platform's token endpoint authenticates the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuthentication {
    /// HTTP Basic (`client_secret_basic`).
    Basic,
    /// Form fields in the body (`client_secret_post`).
    Body,
}

/// The app registration and platform options shared by `preauthenticate` and `register`.
#[derive(Clone, Debug)]
pub struct App {
    /// Platform id (`exact`, `exact-online`, …) as written.
    pub platform: String,
    /// Country (`nl`, `be`, …) when given.
    pub country: Option<String>,
    /// Override of the platform's API base URL.
    pub api_url: Option<String>,
    /// The OAuth client id.
    pub client_id: String,
    /// The client secret, when the app has one.
    pub client_secret: Option<SecretText>,
    /// The redirect URL registered for the app (`redirect url` or `redirect uri`).
    pub redirect_url: String,
}

/// `preauthenticate <platform> [country '…'] [api url '…'] client id '…' [client secret '…']
/// redirect url '…' as connection '<name>'` (options in any order).
#[derive(Clone, Debug)]
pub struct Preauthenticate {
    /// The app and platform.
    pub app: App,
    /// The connection to create.
    pub connection: String,
}

/// `alter connection '<name>' set client id '…', client secret '…', redirect url '…',
/// api url '…'` (any of them, in any order, each at most once).
#[derive(Clone, Debug)]
pub struct AlterConnection {
    /// The connection to change.
    pub connection: String,
    /// A new client id.
    pub client_id: Option<String>,
    /// A new client secret (a rotated one).
    pub client_secret: Option<SecretText>,
    /// A new redirect URL.
    pub redirect_url: Option<String>,
    /// A new API base URL.
    pub api_url: Option<String>,
}

/// `register connection '<name>' platform <p> … access token '…' refresh token '…'
/// [obtained at '<RFC 3339>'] [verify]` (options in any order).
#[derive(Clone, Debug)]
pub struct Register {
    /// The connection to create.
    pub connection: String,
    /// The app and platform.
    pub app: App,
    /// The access token.
    pub access_token: SecretText,
    /// The refresh token.
    pub refresh_token: SecretText,
    /// When the tokens were obtained, as written (RFC 3339; checked by the interpreter).
    pub obtained_at: Option<String>,
    /// Check the tokens against the platform before storing.
    pub verify: bool,
}

/// `create platform '<id>' from issuer '…' [options]` or `create platform '<id>' authorize url
/// '…' token url '…' [issuer '…'] [options]`, where the options (in any order) are
/// `client authentication basic|body`, `scope '…'`, `pkce on|off`, `prompt '…'`,
/// `audience '…'`, `resource '…'`, `parameter 'name' 'value'` (repeatable) and
/// `refresh tokens on|off`.
#[derive(Clone, Debug)]
pub struct CreatePlatform {
    /// The new platform's id.
    pub id: String,
    /// Where the endpoints come from.
    pub endpoints: PlatformEndpoints,
    /// How the client authenticates at the token endpoint, when given.
    pub client_authentication: Option<ClientAuthentication>,
    /// The scope to request, when given.
    pub scope: Option<String>,
    /// Whether to use PKCE, when given.
    pub pkce: Option<bool>,
    /// Extra authorization parameters in the order written (`prompt`, `audience`,
    /// `resource` and every `parameter`).
    pub parameters: Vec<(String, String)>,
    /// What the platform's refresh tokens are, when given.
    pub refresh_tokens: Option<RefreshTokens>,
}

impl App {
    /// The app settings the actions take.
    pub fn settings(&self) -> AppSettings {
        AppSettings {
            platform: self.platform.clone(),
            country: self.country.clone(),
            api_url: self.api_url.clone(),
            client_id: self.client_id.clone(),
            client_secret: client_secret(self.client_secret.as_ref()),
            redirect_url: self.redirect_url.clone(),
        }
    }
}

/// A client secret as typed, as the actions take it.
fn client_secret(typed: Option<&SecretText>) -> Option<ClientSecret> {
    typed.map(|s| ClientSecret::new(s.secret()))
}

impl Register {
    /// The tokens handed over, as the register action takes them.
    pub fn handed_over(&self) -> TokensHandedOver {
        TokensHandedOver {
            name: self.connection.clone(),
            app: self.app.settings(),
            access_token: AccessToken::new(self.access_token.secret()),
            refresh_token: RefreshToken::new(self.refresh_token.secret()),
            obtained_at: self.obtained_at.clone(),
            verify: self.verify,
        }
    }
}

impl AlterConnection {
    /// The changes, as the alter action takes them.
    pub fn changes(&self) -> AppChanges {
        AppChanges {
            client_id: self.client_id.clone(),
            client_secret: client_secret(self.client_secret.as_ref()),
            redirect_url: self.redirect_url.clone(),
            api_url: self.api_url.clone(),
        }
    }
}

impl CreatePlatform {
    /// The platform, as the create action takes it.
    pub fn new_platform(&self) -> NewPlatform {
        NewPlatform {
            id: self.id.clone(),
            endpoints: self.endpoints.clone(),
            client_auth: self.client_authentication.map(|auth| match auth {
                ClientAuthentication::Basic => ClientAuth::HttpBasic,
                ClientAuthentication::Body => ClientAuth::FormBody,
            }),
            scope: self.scope.clone(),
            pkce: self.pkce,
            parameters: self.parameters.clone(),
            refresh_tokens: self.refresh_tokens,
        }
    }
}
