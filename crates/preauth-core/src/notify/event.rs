//! What a webhook is told: an [`Event`] of one [`EventType`], and its body in the shape
//! the webhook asked for ([`Format`]).

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::error::NotifyError;

/// The kinds of events a webhook can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A refresh failed for good and was recorded (refused, new tokens not stored, or the
    /// answer lost twice): the connection needs a person.
    RefreshFailed,
    /// A connection that had such a record refreshed, logged in or was registered again.
    Recovered,
    /// A refresh token expires within the days a scan was given (said once a day).
    Expiring,
    /// An app has used most of a platform's budget of calls for the day.
    BudgetLow,
    /// A connection was stored for the first time.
    ConnectionCreated,
    /// A connection was dropped.
    ConnectionDropped,
}

impl EventType {
    /// Every event type, in the order statements list them.
    pub const ALL: [EventType; 6] = [
        EventType::RefreshFailed,
        EventType::Recovered,
        EventType::Expiring,
        EventType::BudgetLow,
        EventType::ConnectionCreated,
        EventType::ConnectionDropped,
    ];

    /// The type's word, as statements and payloads write it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::RefreshFailed => "refresh_failed",
            EventType::Recovered => "recovered",
            EventType::Expiring => "expiring",
            EventType::BudgetLow => "budget_low",
            EventType::ConnectionCreated => "connection_created",
            EventType::ConnectionDropped => "connection_dropped",
        }
    }

    /// The type written as `word` (any case).
    pub fn parse(word: &str) -> Option<EventType> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(word))
    }
}

/// The shape of the body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The event as JSON with its fields (`id`, `type`, `time`, …).
    #[default]
    Json,
    /// A Slack incoming-webhook message, `{"text": "…"}`, with the same facts.
    Slack,
}

impl Format {
    /// The format's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
        }
    }
}

/// One event. It holds no secret: names, codes and one sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// A unique id (`evt_…`), the same on every try of every delivery.
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When, RFC 3339.
    pub time: String,
    /// The connection's name.
    pub connection: String,
    /// The connection's platform id.
    pub platform: String,
    /// The connection's state after the event (`failed`, `ok`, `expiring`, `dropped`, …).
    pub state: String,
    /// Codes of the advice that repairs it ([`crate::advice::Advice::code`]).
    pub advice: Vec<String>,
    /// What happened, in one sentence free of secrets.
    pub message: String,
}

impl Event {
    /// A new event of `kind` about `connection` at `at`, with a fresh id.
    pub fn new(
        kind: EventType,
        at: SystemTime,
        connection: &str,
        platform: &str,
        state: &str,
        message: impl Into<String>,
    ) -> Result<Event, NotifyError> {
        Ok(Event {
            id: format!("evt_{}", random_hex(12)?),
            kind,
            time: humantime::format_rfc3339_seconds(at).to_string(),
            connection: connection.to_string(),
            platform: platform.to_string(),
            state: state.to_string(),
            advice: Vec::new(),
            message: message.into().replace(['\n', '\r'], " "),
        })
    }

    /// This event with the advice codes `codes`.
    pub fn with_advice(mut self, codes: Vec<String>) -> Event {
        self.advice = codes;
        self
    }

    /// The body sent for this event in `format`.
    pub fn body(&self, format: Format) -> String {
        let value = match format {
            Format::Json => serde_json::to_value(self).unwrap_or_default(),
            Format::Slack => serde_json::json!({ "text": self.slack_text() }),
        };
        value.to_string()
    }

    fn slack_text(&self) -> String {
        let advice = match self.advice.as_slice() {
            [] => String::new(),
            codes => format!(" Advice: {}.", codes.join(", ")),
        };
        format!(
            "[preauth] {} for connection '{}' ({}, state {}): {}{advice} (event {} at {})",
            self.kind.as_str(),
            self.connection,
            self.platform,
            self.state,
            self.message,
            self.id,
            self.time
        )
    }
}

/// `bytes` random bytes as lowercase hex.
pub(super) fn random_hex(bytes: usize) -> Result<String, NotifyError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| NotifyError::Random(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event::new(
            EventType::RefreshFailed,
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_793_613_600),
            "acme",
            "exact",
            "failed",
            "the refresh token of 'acme' was already used\nby another process",
        )
        .expect("an event")
        .with_advice(vec!["log_in_again".into()])
    }

    #[test]
    fn every_type_reads_back_from_its_word() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
            assert_eq!(EventType::parse(&kind.as_str().to_uppercase()), Some(kind));
        }
        assert_eq!(EventType::parse("refresh-failed"), None);
    }

    #[test]
    fn a_json_body_has_the_fields_and_one_line_of_message() {
        let event = event();
        let body: serde_json::Value = serde_json::from_str(&event.body(Format::Json)).unwrap();
        assert_eq!(body["type"], "refresh_failed");
        assert_eq!(body["time"], "2026-11-02T10:00:00Z");
        assert_eq!(body["connection"], "acme");
        assert_eq!(body["advice"][0], "log_in_again");
        assert!(body["id"].as_str().unwrap().starts_with("evt_"));
        assert!(!body["message"].as_str().unwrap().contains('\n'));
        assert_ne!(
            event.id,
            super::super::Event::new(event.kind, SystemTime::now(), "a", "b", "c", "d")
                .unwrap()
                .id
        );
    }

    #[test]
    fn a_slack_body_is_only_text_with_the_same_facts() {
        let event = event();
        let body: serde_json::Value = serde_json::from_str(&event.body(Format::Slack)).unwrap();
        let text = body["text"].as_str().unwrap();
        assert_eq!(body.as_object().unwrap().len(), 1);
        for fact in [
            "refresh_failed",
            "'acme'",
            "exact",
            "log_in_again",
            &event.id,
        ] {
            assert!(text.contains(fact), "{fact} in {text}");
        }
    }
}
