//! Summaries: what monitoring judges of a connection, kept in plain columns of its row
//! (`platform`, the token times, which secrets are set, the lifecycle's records), so that
//! `preauth check` and `/metrics` over 100,000 connections neither open nor parse
//! anything. Written from the connection's outline with every write of the row.

use std::time::{SystemTime, UNIX_EPOCH};

use preauth_core::connection::{Connection, Tokens};
use preauth_core::connstr::ConnectionString;
use preauth_core::secret::{AccessToken, ClientSecret, RefreshToken};
use preauth_core::settings::keys::OUTLINE_SECRET;
use tokio_postgres::types::{ToSql, Type};

/// The columns a summary is kept in, in the order of [`Summary::params`].
pub(crate) const COLUMNS: &str =
    "platform, access_issued_at, access_expires_at, refresh_issued_at, secrets, records";

/// `secrets` bits: which of the connection's secrets are set.
const CLIENT_SECRET: i16 = 1;
const ACCESS_TOKEN: i16 = 2;
const REFRESH_TOKEN: i16 = 4;
/// The connection has tokens at all.
const TOKENS: i16 = 8;

/// A connection's summary as its row keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) platform: String,
    pub(crate) access_issued_at: Option<SystemTime>,
    pub(crate) access_expires_at: Option<SystemTime>,
    pub(crate) refresh_issued_at: Option<SystemTime>,
    pub(crate) secrets: i16,
    /// The lifecycle's records (failure, registration) as a connection string.
    pub(crate) records: Option<String>,
}

impl Summary {
    /// The summary of `outline` (a connection without secrets, see
    /// [`preauth_core::settings::keys::outline`]: its records speak of the stand-in).
    pub(crate) fn of(outline: &Connection) -> Summary {
        let tokens = outline.tokens.as_ref();
        let mut secrets = 0;
        let mut set = |bit: i16, present: bool| {
            if present {
                secrets |= bit;
            }
        };
        set(CLIENT_SECRET, outline.client_secret.is_some());
        set(TOKENS, tokens.is_some());
        set(
            ACCESS_TOKEN,
            tokens.is_some_and(|t| !t.access_token.secret().is_empty()),
        );
        set(
            REFRESH_TOKEN,
            tokens.is_some_and(|t| t.refresh_token.is_some()),
        );
        let mut records = ConnectionString::new();
        for (key, value) in &outline.extra {
            // Outline extras are the lifecycle's own keys, valid by construction.
            let _ = records.push(key, value);
        }
        Summary {
            platform: outline.platform.clone(),
            access_issued_at: tokens.map(|t| t.access_token_issued_at),
            access_expires_at: tokens.map(|t| t.access_token_expires_at),
            refresh_issued_at: tokens.and_then(|t| t.refresh_token_issued_at),
            secrets,
            records: (!outline.extra.is_empty()).then(|| records.to_text().to_string()),
        }
    }

    /// The values of [`COLUMNS`], in order, with their types (for statements sent in
    /// one round trip).
    pub(crate) fn params(&self) -> [(&(dyn ToSql + Sync), Type); 6] {
        [
            (&self.platform, Type::TEXT),
            (&self.access_issued_at, Type::TIMESTAMPTZ),
            (&self.access_expires_at, Type::TIMESTAMPTZ),
            (&self.refresh_issued_at, Type::TIMESTAMPTZ),
            (&self.secrets, Type::INT2),
            (&self.records, Type::TEXT),
        ]
    }

    /// The connection `name` this summary describes: an outline without URLs or client
    /// id, each secret that is set a stand-in.
    pub(crate) fn connection(self, name: String) -> Connection {
        let has = |bit: i16| self.secrets & bit != 0;
        let tokens = has(TOKENS).then(|| Tokens {
            access_token: AccessToken::new(if has(ACCESS_TOKEN) {
                OUTLINE_SECRET
            } else {
                ""
            }),
            access_token_issued_at: self.access_issued_at.unwrap_or(UNIX_EPOCH),
            access_token_expires_at: self.access_expires_at.unwrap_or(UNIX_EPOCH),
            refresh_token: has(REFRESH_TOKEN).then(|| RefreshToken::new(OUTLINE_SECRET)),
            refresh_token_issued_at: self.refresh_issued_at,
        });
        let extra = self
            .records
            .as_deref()
            .and_then(|text| ConnectionString::parse(text).ok())
            .map(|cs| {
                cs.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Connection {
            name,
            platform: self.platform,
            api_url: String::new(),
            client_id: String::new(),
            client_secret: has(CLIENT_SECRET).then(|| ClientSecret::new(OUTLINE_SECRET)),
            redirect_url: String::new(),
            tokens,
            extra,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use preauth_core::lifecycle::{FailureKind, RefreshFailure};
    use preauth_core::settings::keys::outline;

    use super::*;

    #[test]
    fn a_summary_judges_as_its_connection_does() {
        let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let held = RefreshToken::new("held");
        let mut connection = Connection {
            name: "acme".into(),
            platform: "exact-online".into(),
            api_url: "https://start.exactonline.nl".into(),
            client_id: "id".into(),
            client_secret: Some(ClientSecret::new("s")),
            redirect_url: "https://app.example/cb".into(),
            tokens: Some(Tokens {
                access_token: AccessToken::new("a"),
                access_token_issued_at: at,
                access_token_expires_at: at + Duration::from_secs(600),
                refresh_token: Some(held.clone()),
                refresh_token_issued_at: Some(at),
            }),
            extra: vec![("secret-of-the-user".into(), "x".into())],
        };
        RefreshFailure::new(at, FailureKind::Refused, Some(&held), "spent".into())
            .store_in(&mut connection);
        let outlined = outline(&connection);
        let summary = Summary::of(&outlined);
        assert!(!format!("{summary:?}").contains("secret-of-the-user"));
        let back = summary.clone().connection("acme".into());
        assert_eq!(Summary::of(&back), summary, "a summary round-trips");
        assert!(
            RefreshFailure::blocking(&back).is_some(),
            "the failure still blocks"
        );
        let tokens = back.tokens.expect("tokens");
        assert_eq!(
            tokens.access_token_expires_at,
            at + Duration::from_secs(600)
        );
        assert_eq!(tokens.refresh_token_issued_at, Some(at));
        let none = Summary::of(&Connection {
            tokens: None,
            extra: Vec::new(),
            ..outlined
        });
        assert!(none.connection("b".into()).tokens.is_none());
    }
}
