//! The report in the words of a monitoring plugin: the worst state, the status line
//! with performance data, a short summary, and JSON for programs.

use super::judge::{CheckReport, CheckState, ConnectionCheck};
use crate::advice::Advice;
use crate::lifecycle::FailureClass;

impl CheckReport {
    /// The worst verdict. A connection known to be broken (CRITICAL) outweighs a file
    /// that could not be judged (UNKNOWN); a folder that cannot be read at all is
    /// UNKNOWN.
    pub fn state(&self) -> CheckState {
        if self.unknown.is_some() {
            return CheckState::Unknown;
        }
        let states = || self.connections.iter().map(|c| c.state);
        if states().any(|s| s == CheckState::Critical) {
            return CheckState::Critical;
        }
        states().max().unwrap_or(CheckState::Ok)
    }

    /// The plugin status line, worst connections first, with performance data.
    pub fn status_line(&self) -> String {
        let expiring = self
            .connections
            .iter()
            .filter(|c| {
                c.state != CheckState::Ok
                    && c.refresh_token_expires_at.is_some()
                    && c.failure_class.is_none()
            })
            .count();
        let failed = self
            .connections
            .iter()
            .filter(|c| {
                c.state == CheckState::Critical
                    && (c.refresh_token_expires_at.is_none() || c.refused)
            })
            .count();
        // Files that could not be read are listed, but are not connections.
        let connections = self
            .connections
            .iter()
            .filter(|c| c.state != CheckState::Unknown)
            .count();
        format!(
            "PREAUTH {} - {} | connections={connections} expiring={expiring} failed={failed}",
            self.state(),
            self.summary()
        )
    }

    /// The verdict in words, short enough for a plugin's status line: "2 connections
    /// healthy", or the first [`SUMMARY_NAMED`] connections that need attention, worst
    /// first, each with the first clause of why (the whole reason is in the long output,
    /// the lines after the status line), and how many more there are.
    pub fn summary(&self) -> String {
        let state = self.state();
        if let Some(why) = &self.unknown {
            why.clone()
        } else if state == CheckState::Ok {
            match self.connections.len() {
                0 => "no connections".to_string(),
                n => format!("{n} connection{} healthy", if n == 1 { "" } else { "s" }),
            }
        } else {
            let bad = self.needing_attention();
            let mut named: Vec<String> = bad
                .iter()
                .take(SUMMARY_NAMED)
                .map(|c| format!("{}: {}", c.name, headline(&c.reason)))
                .collect();
            if bad.len() > SUMMARY_NAMED {
                named.push(format!("and {} more", bad.len() - SUMMARY_NAMED));
            }
            named.join(", ")
        }
    }

    /// The connections that are not OK, worst first, then by name.
    pub fn needing_attention(&self) -> Vec<&ConnectionCheck> {
        let mut bad: Vec<&ConnectionCheck> = self
            .connections
            .iter()
            .filter(|c| c.state != CheckState::Ok)
            .collect();
        bad.sort_by(|a, b| b.state.cmp(&a.state).then(a.name.cmp(&b.name)));
        bad
    }

    /// The report for programs, one JSON object: the overall `state`, the plugin status
    /// line as `summary`, and each connection's name, platform, state, whole reason,
    /// refresh-token expiry (RFC 3339, or null), whether its refresh was refused, and the
    /// class of a recorded refresh failure (`permanent`, `transient`) with the next try.
    /// What `preauth check --format json`, `check connections` in JSON and
    /// `/api/v1/check` print.
    pub fn to_json(&self) -> serde_json::Value {
        let connections: Vec<serde_json::Value> = self
            .connections
            .iter()
            .map(|c| {
                serde_json::json!({
                    "name": c.name,
                    "platform": (!c.platform.is_empty()).then_some(&c.platform),
                    "state": c.state.to_string(),
                    "reason": c.reason,
                    "refresh_token_expires_at": c
                        .refresh_token_expires_at
                        .map(|at| humantime::format_rfc3339_seconds(at).to_string()),
                    "refresh_refused": c.refused,
                    "failure_class": c.failure_class.map(FailureClass::word),
                    "next_try": c
                        .next_try
                        .map(|at| humantime::format_rfc3339_seconds(at).to_string()),
                    "advice": c.advice.iter().map(Advice::code).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::json!({
            "state": self.state().to_string(),
            "summary": self.status_line(),
            "connections": connections,
        })
    }
}

/// How many connections the summary names; the others are counted.
pub const SUMMARY_NAMED: usize = 3;

/// The longest reason the summary quotes, in characters.
const HEADLINE_CHARS: usize = 120;

/// The first clause of a reason (up to its first `; `, where the advice starts), at
/// most [`HEADLINE_CHARS`] long.
fn headline(reason: &str) -> String {
    let clause = reason.split("; ").next().unwrap_or(reason);
    if clause.chars().count() <= HEADLINE_CHARS {
        return clause.to_string();
    }
    let mut short: String = clause.chars().take(HEADLINE_CHARS - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::judge::tests::at;

    #[test]
    fn the_summary_is_short_and_the_json_keeps_everything() {
        let advice = "log in again with the statement that does it; ".repeat(10);
        let broken = |name: &str| ConnectionCheck {
            name: name.into(),
            platform: "exact-online".into(),
            state: CheckState::Critical,
            reason: format!("last refresh failed at 2027-01-01 10:00:00 UTC: refused; {advice}"),
            refresh_token_expires_at: Some(at(30)),
            refused: true,
            failure_class: Some(FailureClass::Permanent),
            next_try: None,
            advice: Vec::new(),
        };
        let report = CheckReport {
            connections: ["a", "b", "c", "d", "e"].map(broken).to_vec(),
            unknown: None,
        };
        let line = report.status_line();
        assert_eq!(
            line,
            "PREAUTH CRITICAL - a: last refresh failed at 2027-01-01 10:00:00 UTC: refused, \
             b: last refresh failed at 2027-01-01 10:00:00 UTC: refused, \
             c: last refresh failed at 2027-01-01 10:00:00 UTC: refused, and 2 more \
             | connections=5 expiring=0 failed=5"
        );
        let json = report.to_json();
        assert_eq!(json["state"], "CRITICAL");
        assert_eq!(json["summary"], line.as_str());
        assert_eq!(json["connections"][4]["name"], "e");
        assert_eq!(json["connections"][4]["refresh_refused"], true);
        assert_eq!(json["connections"][4]["failure_class"], "permanent");
        assert_eq!(json["connections"][4]["next_try"], serde_json::Value::Null);
        assert!(
            json["connections"][0]["reason"]
                .as_str()
                .is_some_and(|r| r.ends_with(&advice))
        );
        assert_eq!(
            json["connections"][0]["refresh_token_expires_at"],
            humantime::format_rfc3339_seconds(at(30)).to_string()
        );
        let long = "x".repeat(300);
        assert_eq!(headline(&long).chars().count(), HEADLINE_CHARS);
        assert!(headline(&long).ends_with('…'));
    }

    #[test]
    fn status_line_names_the_worst_first() {
        let report = CheckReport {
            connections: vec![
                ConnectionCheck {
                    name: "a".into(),
                    platform: "exact-online".into(),
                    state: CheckState::Warning,
                    reason: "refresh token expires in 5 days (2027-01-20)".into(),
                    refresh_token_expires_at: Some(at(5)),
                    refused: false,
                    failure_class: None,
                    next_try: None,
                    advice: Vec::new(),
                },
                ConnectionCheck {
                    name: "b".into(),
                    platform: "exact-online".into(),
                    state: CheckState::Ok,
                    reason: "x".into(),
                    refresh_token_expires_at: Some(at(20)),
                    refused: false,
                    failure_class: None,
                    next_try: None,
                    advice: Vec::new(),
                },
            ],
            unknown: None,
        };
        assert_eq!(report.state().exit_code(), 1);
        assert_eq!(
            report.status_line(),
            "PREAUTH WARNING - a: refresh token expires in 5 days (2027-01-20) | connections=2 expiring=1 failed=0"
        );
    }
}
