//! What a person can do about an error, as data.
//!
//! Errors say what happened; their advice says what repairs it, without words of any
//! front end. Each front end puts it in its own terms: a statement that parses in the
//! REPL, a `preauth …` command line in a shell, a link or a form on the pages, a code and
//! a route in the API.

/// One thing to do. An error may offer several, as alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advice {
    /// Log in again for the connection, with the app it stores.
    LogInAgain {
        /// The connection.
        connection: String,
    },
    /// Obtain new tokens from the partner application that registered the connection,
    /// then replace the connection with them.
    NewTokensFromPartner {
        /// The connection.
        connection: String,
        /// Its platform's id.
        platform: String,
    },
    /// Copy the client id and secret again from the app registration into the connection.
    ChangeClientCredentials {
        /// The connection.
        connection: String,
    },
    /// Correct the redirect URL the connection stores (or register it with the app).
    ChangeRedirectUrl {
        /// The connection.
        connection: String,
    },
    /// Refresh once more although the last refresh failed (after fixing its cause).
    ForceRefresh {
        /// The connection.
        connection: String,
    },
    /// Refresh once, later: its answer tells whether the refresh token is spent.
    RefreshLater {
        /// The connection.
        connection: String,
    },
    /// Drop the connection of that name first, or choose another name.
    DropOrRename {
        /// The connection.
        connection: String,
    },
    /// Move a connection sealed on another machine here (export it plain there, drop it
    /// here and import the file), or start it anew here (drop it and log in).
    MoveSealedConnection {
        /// The connection.
        connection: String,
    },
    /// See which connections there are.
    ListConnections,
    /// See which API keys there are.
    ListApiKeys,
    /// See which machines are enrolled.
    ListMachines,
    /// Define the platform.
    CreatePlatform {
        /// The platform id asked for.
        id: String,
    },
    /// Enroll this machine in the shared store: an enrolled machine makes an enrollment
    /// code, this machine redeems it.
    EnrollMachine,
    /// Make a new enrollment code on an enrolled machine (the one given is spent or
    /// unknown).
    NewEnrollmentCode,
    /// Redeem an unused enrollment code on this machine.
    RedeemEnrollmentCode,
    /// Drop this machine's slot on an enrolled machine, then enroll this one again.
    ReenrollMachine {
        /// This machine's slot name.
        machine: String,
    },
    /// Create preauth's tables in the database the store names.
    CreateStore,
    /// Upgrade preauth's tables in the database the store names to this preauth's
    /// version (they are older).
    UpgradeStore,
    /// Enroll another machine before dropping the last slot that opens the store.
    EnrollAnotherMachine,
    /// See which webhooks there are.
    ListWebhooks,
    /// Drop the webhook of that name first, or choose another name.
    DropWebhook {
        /// The webhook.
        name: String,
    },
}

impl Advice {
    /// A stable code for programs (`log_in_again`), the same in every front end and in
    /// records kept in the store.
    pub fn code(&self) -> &'static str {
        match self {
            Advice::LogInAgain { .. } => "log_in_again",
            Advice::NewTokensFromPartner { .. } => "new_tokens_from_partner",
            Advice::ChangeClientCredentials { .. } => "change_client_credentials",
            Advice::ChangeRedirectUrl { .. } => "change_redirect_url",
            Advice::ForceRefresh { .. } => "force_refresh",
            Advice::RefreshLater { .. } => "refresh_later",
            Advice::DropOrRename { .. } => "drop_or_rename",
            Advice::MoveSealedConnection { .. } => "move_sealed_connection",
            Advice::ListConnections => "list_connections",
            Advice::ListApiKeys => "list_api_keys",
            Advice::ListMachines => "list_machines",
            Advice::CreatePlatform { .. } => "create_platform",
            Advice::EnrollMachine => "enroll_machine",
            Advice::NewEnrollmentCode => "new_enrollment_code",
            Advice::RedeemEnrollmentCode => "redeem_enrollment_code",
            Advice::ReenrollMachine { .. } => "reenroll_machine",
            Advice::CreateStore => "create_store",
            Advice::UpgradeStore => "upgrade_store",
            Advice::EnrollAnotherMachine => "enroll_another_machine",
            Advice::ListWebhooks => "list_webhooks",
            Advice::DropWebhook { .. } => "drop_webhook",
        }
    }

    /// The advice of `code` about `connection` of `platform` (as kept in a record), when
    /// the code is one about a connection.
    pub fn for_connection(code: &str, connection: &str, platform: &str) -> Option<Advice> {
        let connection = connection.to_string();
        Some(match code {
            "log_in_again" => Advice::LogInAgain { connection },
            "new_tokens_from_partner" => Advice::NewTokensFromPartner {
                connection,
                platform: platform.to_string(),
            },
            "change_client_credentials" => Advice::ChangeClientCredentials { connection },
            "change_redirect_url" => Advice::ChangeRedirectUrl { connection },
            "force_refresh" => Advice::ForceRefresh { connection },
            "refresh_later" => Advice::RefreshLater { connection },
            _ => return None,
        })
    }

    /// The connection it is about, if any.
    pub fn connection(&self) -> Option<&str> {
        match self {
            Advice::LogInAgain { connection }
            | Advice::NewTokensFromPartner { connection, .. }
            | Advice::ChangeClientCredentials { connection }
            | Advice::ChangeRedirectUrl { connection }
            | Advice::ForceRefresh { connection }
            | Advice::RefreshLater { connection }
            | Advice::DropOrRename { connection }
            | Advice::MoveSealedConnection { connection } => Some(connection),
            Advice::ListConnections
            | Advice::ListApiKeys
            | Advice::ListMachines
            | Advice::CreatePlatform { .. }
            | Advice::EnrollMachine
            | Advice::NewEnrollmentCode
            | Advice::RedeemEnrollmentCode
            | Advice::ReenrollMachine { .. }
            | Advice::CreateStore
            | Advice::UpgradeStore
            | Advice::EnrollAnotherMachine
            | Advice::ListWebhooks
            | Advice::DropWebhook { .. } => None,
        }
    }
}
