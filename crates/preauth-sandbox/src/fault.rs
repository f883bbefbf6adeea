//! Faults injected into the next token requests.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A fault applied to the next token request (either platform), first in, first out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "FaultSpec", into = "FaultSpec")]
pub enum Fault {
    /// Process the request as usual (the code or refresh token is spent, new tokens are
    /// issued), then close the connection without answering: the lost-response case.
    DropAfterRotate,
    /// Wait this long (real time) before processing the request normally.
    Delay(Duration),
    /// Answer 500 without processing the request (nothing is spent).
    Http500,
    /// Process the request (tokens rotate), then answer 200 with a truncated JSON body.
    InvalidJson,
    /// Answer 400 with a `text/plain` body without processing the request.
    PlainText400,
}

/// The JSON form of a fault on the admin endpoint, e.g. `{"fault": "delay", "millis": 250}`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case", deny_unknown_fields)]
enum FaultSpec {
    DropAfterRotate,
    Delay { millis: u64 },
    Http500,
    InvalidJson,
    PlainText400,
}

impl From<FaultSpec> for Fault {
    fn from(spec: FaultSpec) -> Fault {
        match spec {
            FaultSpec::DropAfterRotate => Fault::DropAfterRotate,
            FaultSpec::Delay { millis } => Fault::Delay(Duration::from_millis(millis)),
            FaultSpec::Http500 => Fault::Http500,
            FaultSpec::InvalidJson => Fault::InvalidJson,
            FaultSpec::PlainText400 => Fault::PlainText400,
        }
    }
}

impl From<Fault> for FaultSpec {
    fn from(fault: Fault) -> FaultSpec {
        match fault {
            Fault::DropAfterRotate => FaultSpec::DropAfterRotate,
            Fault::Delay(d) => FaultSpec::Delay {
                millis: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
            Fault::Http500 => FaultSpec::Http500,
            Fault::InvalidJson => FaultSpec::InvalidJson,
            Fault::PlainText400 => FaultSpec::PlainText400,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form_round_trips() {
        for fault in [
            Fault::DropAfterRotate,
            Fault::Delay(Duration::from_millis(250)),
            Fault::Http500,
            Fault::InvalidJson,
            Fault::PlainText400,
        ] {
            let json = serde_json::to_string(&fault).unwrap();
            assert_eq!(
                serde_json::from_str::<Fault>(&json).unwrap(),
                fault,
                "{json}"
            );
        }
        let delay: Fault = serde_json::from_str(r#"{"fault":"delay","millis":5}"#).unwrap();
        assert_eq!(delay, Fault::Delay(Duration::from_millis(5)));
        assert!(serde_json::from_str::<Fault>(r#"{"fault":"explode"}"#).is_err());
    }
}
