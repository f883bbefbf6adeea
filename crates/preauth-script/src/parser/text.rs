//! One statement's text parsed into a [`Statement`].

use std::sync::Arc;

use pest::Parser as _;

use super::build::Builder;
use super::dispatch;
use super::explain::{Failure, syntax_failure};
use crate::ast::{Location, Statement};
use crate::diagnostics::{ParseError, TextPlace};
use crate::keywords::{Rule, ScriptGrammar};

/// Parses one statement's text. `raw` is the unsubstituted text when `place.text` is the
/// result of substitution.
pub(super) fn parse_text(
    place: TextPlace<'_>,
    origin: &Arc<str>,
    location: Location,
    raw: Option<&str>,
) -> Result<Statement, ParseError> {
    let failed = |failure: Failure| {
        ParseError::at(origin, place, failure.offset, failure.kind).with_help(failure.help)
    };
    let mut pairs = ScriptGrammar::parse(dispatch::rule_for(place.text), place.text)
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
