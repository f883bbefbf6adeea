//! The refresh-failure record: what the last refresh of a connection ran into, kept in
//! the connection (key `preauth-refresh-failed`) so that monitoring sees a broken chain
//! and nothing sends a refresh token known to be dead.
//!
//! Stored as one line, `<RFC 3339 time> <kind>[@<attempt>@<next try>][+<advice code>…] <token tag> <sentence>`, for
//! example `2026-11-23T10:00:00Z refused+log_in_again 3f9a0c1b7e2d the refresh token of 'acme'
//! was already used …`: the advice is kept as codes (see [`crate::advice::Advice::code`]),
//! which every front end puts in its own terms; the sentence says what happened.
//! The token tag is the start of the SHA-256 of the refresh token the record is about
//! (never the token): a record only blocks while that same token is stored, so a new
//! login, a new registration or a hand-edited token is never held back by an old record.
//! A transient failure (`transient`, and a lost answer) carries its failed tries in a row
//! and the time of the next automatic try.
//! This module is the only place that writes or reads the line.

use std::fmt;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::connection::Connection;
use crate::secret::RefreshToken;

/// The extra connection-string key that holds the record.
pub const REFRESH_FAILED_KEY: &str = "preauth-refresh-failed";

/// What kind of failure was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The platform refused the refresh token or the client for good (spent, revoked,
    /// expired, `invalid_grant`, `invalid_client`): it is not sent again automatically.
    Refused,
    /// The answer to a refresh was lost: the token may or may not be spent. One more
    /// automatic try is allowed.
    Lost,
    /// The answer was lost twice in a row: no more automatic tries.
    LostAgain,
    /// The platform answered with new tokens that could not be stored: the stored
    /// refresh token is spent and only a new login helps.
    NotStored,
    /// The request never reached the platform (network error, connection refused), or
    /// the platform asked to come back later (429 with `Retry-After`): the refresh token
    /// is unspent and automatic tries go on after a backoff.
    Transient,
}

/// The two classes of failure: one that automatic tries cannot repair, and one they may,
/// after [`RefreshFailure::next_try`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Stop sending; a person must act (a new login, new credentials, a forced refresh).
    Permanent = 0,
    /// Try again automatically after the backoff.
    Transient = 1,
}

impl FailureClass {
    /// `permanent` or `transient`.
    pub fn word(self) -> &'static str {
        match self {
            FailureClass::Permanent => "permanent",
            FailureClass::Transient => "transient",
        }
    }
}

/// The first wait after a passing failure; each further one doubles it.
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
/// The longest wait between automatic tries.
const LONGEST_BACKOFF: Duration = Duration::from_secs(3600);

impl FailureKind {
    fn word(self) -> &'static str {
        match self {
            FailureKind::Refused => "refused",
            FailureKind::Lost => "lost",
            FailureKind::LostAgain => "lost-again",
            FailureKind::NotStored => "not-stored",
            FailureKind::Transient => "transient",
        }
    }

    fn from_word(word: &str) -> Option<FailureKind> {
        [
            FailureKind::Refused,
            FailureKind::Lost,
            FailureKind::LostAgain,
            FailureKind::NotStored,
            FailureKind::Transient,
        ]
        .into_iter()
        .find(|k| k.word() == word)
    }

    /// Whether a refresh with the same token may still be sent without `force`.
    pub fn allows_automatic_try(self) -> bool {
        self.class() == FailureClass::Transient
    }

    /// Its class: a lost answer and a passing failure are transient (one more try, or
    /// tries, after a backoff); everything else is permanent.
    pub fn class(self) -> FailureClass {
        match self {
            FailureKind::Lost | FailureKind::Transient => FailureClass::Transient,
            FailureKind::Refused | FailureKind::LostAgain | FailureKind::NotStored => {
                FailureClass::Permanent
            }
        }
    }
}

/// A recorded refresh failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFailure {
    /// When it happened.
    pub at: SystemTime,
    /// What kind it was.
    pub kind: FailureKind,
    /// The tag of the refresh token it is about (`None` in records without one).
    token_tag: Option<String>,
    /// What happened, in one sentence.
    pub message: String,
    /// The codes of the advice that repairs it ([`crate::advice::Advice::code`]).
    pub advice: Vec<String>,
    /// For a transient failure: how many tries failed in a row, and when the next
    /// automatic one is.
    pub retry: Option<Retry>,
}

/// The backoff after transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Failed tries in a row (1 after the first).
    pub attempt: u32,
    /// No automatic try before this.
    pub next_try: SystemTime,
}

impl Retry {
    /// The retry after failed try number `attempt` at `now`: 30 s doubled per try up to
    /// an hour, less up to half of it at random (so that many connections that failed
    /// together do not try again together), and not after `useful_until` (when the
    /// tokens stop being useful: later tries could not help); or at `not_before`, when
    /// the platform said when (`Retry-After`).
    pub fn after(
        attempt: u32,
        now: SystemTime,
        not_before: Option<SystemTime>,
        useful_until: Option<SystemTime>,
    ) -> Retry {
        // The platform's own word (429 with `Retry-After`) decides.
        if let Some(next_try) = not_before {
            return Retry { attempt, next_try };
        }
        let doubled = FIRST_BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(16));
        let full = doubled.min(LONGEST_BACKOFF);
        let mut random = [0u8; 2];
        let _ = getrandom::fill(&mut random);
        let share = f64::from(u16::from_le_bytes(random)) / f64::from(u16::MAX);
        let wait = full.mul_f64(1.0 - share / 2.0);
        let mut next_try = now + wait;
        if let Some(until) = useful_until.filter(|u| *u > now) {
            next_try = next_try.min(until);
        }
        if let Some(at) = not_before {
            next_try = next_try.max(at);
        }
        Retry { attempt, next_try }
    }

    fn word(&self) -> String {
        format!(
            "@{}@{}",
            self.attempt,
            humantime::format_rfc3339_seconds(self.next_try)
        )
    }

    fn parse(attempt: &str, next_try: &str) -> Option<Retry> {
        Some(Retry {
            attempt: attempt.parse().ok()?,
            next_try: humantime::parse_rfc3339(next_try).ok()?,
        })
    }
}

/// Hex digits of the token's SHA-256 kept in a record: enough to tell tokens apart,
/// far too few to say anything about the token.
const TAG_LEN: usize = 12;

impl RefreshFailure {
    /// A record of `kind` about `token`, made at `at`.
    pub fn new(
        at: SystemTime,
        kind: FailureKind,
        token: Option<&RefreshToken>,
        message: String,
    ) -> Self {
        RefreshFailure {
            at,
            kind,
            token_tag: token.map(tag),
            message: message.replace(['\n', '\r'], " "),
            advice: Vec::new(),
            retry: None,
        }
    }

    /// This record with its `retry`.
    pub fn with_retry(mut self, retry: Retry) -> Self {
        self.retry = Some(retry);
        self
    }

    /// When the next automatic try is, for a transient failure.
    pub fn next_try(&self) -> Option<SystemTime> {
        self.retry.map(|r| r.next_try)
    }

    /// This record with `advice` kept as its codes.
    pub fn with_advice(mut self, advice: &[crate::advice::Advice]) -> Self {
        self.advice = advice.iter().map(|a| a.code().to_string()).collect();
        self
    }

    /// The record stored in `connection`, if any.
    pub fn of(connection: &Connection) -> Option<RefreshFailure> {
        let (_, line) = connection
            .extra
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(REFRESH_FAILED_KEY))?;
        Some(RefreshFailure::parse(line))
    }

    /// The record in `connection` that stops its refresh token from being sent again by
    /// itself: about the token it holds now, of a kind no automatic try may follow.
    /// Such a connection is not healthy, whatever its access token says.
    pub fn blocking(connection: &Connection) -> Option<RefreshFailure> {
        RefreshFailure::of(connection)
            .filter(|f| f.is_about_current_token(connection) && !f.kind.allows_automatic_try())
    }

    /// Whether this record is about the refresh token `connection` holds now.
    pub fn is_about_current_token(&self, connection: &Connection) -> bool {
        let current = connection
            .tokens
            .as_ref()
            .and_then(|t| t.refresh_token.as_ref());
        match (&self.token_tag, current) {
            (Some(recorded), Some(token)) => *recorded == tag(token),
            (None, _) => true,
            (Some(_), None) => false,
        }
    }

    /// This record as it reads beside `stand_in`, a refresh token that stands in for the
    /// one `connection` holds (an outline's placeholder): about the stand-in when it was
    /// about the token held, as it was otherwise.
    pub fn for_stand_in(&self, connection: &Connection, stand_in: &RefreshToken) -> RefreshFailure {
        let mut record = self.clone();
        if self.token_tag.is_some() && self.is_about_current_token(connection) {
            record.token_tag = Some(tag(stand_in));
        }
        record
    }

    /// Puts this record into `connection`, replacing an earlier one.
    pub fn store_in(&self, connection: &mut Connection) {
        clear(connection);
        connection
            .extra
            .push((REFRESH_FAILED_KEY.to_string(), self.to_string()));
    }

    /// Reads a stored line; a line of an older shape (`<time> <sentence>`) counts as a
    /// refusal about whatever token is stored.
    fn parse(line: &str) -> RefreshFailure {
        let mut words = line.splitn(4, ' ');
        let at = words.next().and_then(|w| humantime::parse_rfc3339(w).ok());
        let rest: Vec<&str> = words.collect();
        let mut kind_and_advice = rest.first().map(|w| w.split('+')).into_iter().flatten();
        let mut kind_and_retry = kind_and_advice.next().unwrap_or_default().split('@');
        let kind = kind_and_retry.next().and_then(FailureKind::from_word);
        let retry = match (kind_and_retry.next(), kind_and_retry.next()) {
            (Some(attempt), Some(next_try)) => Retry::parse(attempt, next_try),
            _ => None,
        };
        let advice = kind_and_advice.map(str::to_string).collect();
        match (at, kind, rest.as_slice()) {
            (Some(at), Some(kind), [_, tag, message]) => RefreshFailure {
                at,
                kind,
                token_tag: (*tag != "-").then(|| tag.to_string()),
                message: message.to_string(),
                advice,
                retry,
            },
            (at, _, _) => RefreshFailure {
                at: at.unwrap_or(SystemTime::UNIX_EPOCH),
                kind: FailureKind::Refused,
                token_tag: None,
                message: match at {
                    Some(_) => line.split_once(' ').map_or("", |(_, m)| m).to_string(),
                    None => line.to_string(),
                },
                advice: Vec::new(),
                retry: None,
            },
        }
    }
}

impl fmt::Display for RefreshFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            humantime::format_rfc3339_seconds(self.at),
            self.kind.word()
        )?;
        if let Some(retry) = &self.retry {
            write!(f, "{}", retry.word())?;
        }
        for code in &self.advice {
            write!(f, "+{code}")?;
        }
        write!(
            f,
            " {} {}",
            self.token_tag.as_deref().unwrap_or("-"),
            self.message
        )
    }
}

/// Removes a record from `connection` (after a success, a new login or registration).
pub fn clear(connection: &mut Connection) {
    connection
        .extra
        .retain(|(k, _)| !k.eq_ignore_ascii_case(REFRESH_FAILED_KEY));
}

fn tag(token: &RefreshToken) -> String {
    let digest = Sha256::digest(token.secret().as_bytes());
    digest
        .iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .take(TAG_LEN)
        .map(|n| char::from_digit(u32::from(n), 16).unwrap_or('0'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_793_613_600)
    }

    #[test]
    fn a_record_round_trips_and_names_its_token_only_by_tag() {
        let token = RefreshToken::new("secret-refresh-token");
        let record = RefreshFailure::new(
            at(),
            FailureKind::Refused,
            Some(&token),
            "the refresh token of 'a' was already used".into(),
        );
        let line = record.to_string();
        assert!(!line.contains("secret-refresh-token"), "{line}");
        assert!(line.starts_with("2026-11-02T10:00:00Z refused "), "{line}");
        assert_eq!(RefreshFailure::parse(&line), record);
    }

    #[test]
    fn an_older_line_is_a_refusal_about_any_token() {
        let parsed = RefreshFailure::parse("2026-11-02T10:00:00Z the token was spent");
        assert_eq!(parsed.kind, FailureKind::Refused);
        assert_eq!(parsed.at, at());
        assert_eq!(parsed.message, "the token was spent");
        assert_eq!(parsed.token_tag, None);
        let garbage = RefreshFailure::parse("not a time");
        assert_eq!(garbage.message, "not a time");
    }

    #[test]
    fn a_transient_record_round_trips_with_its_next_try() {
        let token = RefreshToken::new("t");
        let record = RefreshFailure::new(at(), FailureKind::Transient, Some(&token), "x".into())
            .with_retry(Retry {
                attempt: 3,
                next_try: at() + Duration::from_secs(120),
            })
            .with_advice(&[crate::advice::Advice::RefreshLater {
                connection: "a".into(),
            }]);
        let line = record.to_string();
        assert!(
            line.starts_with("2026-11-02T10:00:00Z transient@3@2026-11-02T10:02:00Z+"),
            "{line}"
        );
        assert_eq!(RefreshFailure::parse(&line), record);
        assert_eq!(record.kind.class(), FailureClass::Transient);
    }

    #[test]
    fn the_backoff_doubles_with_jitter_up_to_an_hour_within_the_tokens_usefulness() {
        for attempt in 1..=10 {
            let full = (30u64 << (attempt - 1)).min(3600);
            let wait = Retry::after(attempt, at(), None, None)
                .next_try
                .duration_since(at())
                .expect("later")
                .as_secs();
            assert!(
                wait >= full / 2 && wait <= full,
                "{attempt}: {wait} of {full}"
            );
        }
        let useful = at() + Duration::from_secs(40);
        let capped = Retry::after(9, at(), None, Some(useful));
        assert_eq!(capped.next_try, useful);
        let retry_after = at() + Duration::from_secs(7200);
        let told = Retry::after(1, at(), Some(retry_after), None);
        assert_eq!(told.next_try, retry_after);
    }

    #[test]
    fn only_a_lost_answer_or_a_passing_failure_allows_another_automatic_try() {
        assert!(FailureKind::Lost.allows_automatic_try());
        assert!(FailureKind::Transient.allows_automatic_try());
        for kind in [
            FailureKind::Refused,
            FailureKind::LostAgain,
            FailureKind::NotStored,
        ] {
            assert!(!kind.allows_automatic_try());
        }
    }
}
