//! Advice in the terms of the API and the pages: a stable code with the route to call
//! (or the page to open) for programs, a sentence about the pages' own buttons for people.

use preauth_core::advice::Advice;
use serde_json::{Value, json};

/// `/connections/{name}` with `name` percent-encoded, and the same under `/api/v1`.
fn paths(connection: &str) -> (String, String) {
    let encoded: String = url::form_urlencoded::byte_serialize(connection.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    (
        format!("/connections/{encoded}"),
        format!("/api/v1/connections/{encoded}"),
    )
}

/// The advice as the API gives it: `[{"code", "route"?, "page"?}]`, where `route` is the
/// API call that repairs it and `page` the page where a person does.
pub(crate) fn for_api(advice: &[Advice]) -> Value {
    let entries: Vec<Value> = advice
        .iter()
        .map(|a| {
            let mut entry = json!({ "code": a.code() });
            let (page, api) = a.connection().map(paths).unzip();
            let (route, page) = match a {
                Advice::ListConnections => (Some("GET /api/v1/connections".to_string()), None),
                Advice::DropOrRename { .. } => (api.map(|p| format!("DELETE {p}")), page),
                Advice::NewTokensFromPartner { .. } => {
                    (Some("POST /api/v1/connections".to_string()), page)
                }
                Advice::RefreshLater { .. } => (api.map(|p| format!("POST {p}/token")), page),
                Advice::ChangeClientCredentials { .. } | Advice::ChangeRedirectUrl { .. } => {
                    (None, page.map(|p| format!("{p}/app")))
                }
                Advice::LogInAgain { .. }
                | Advice::ForceRefresh { .. }
                | Advice::MoveSealedConnection { .. } => (None, page),
                // Done by the operator on a machine's command line: no route, no page.
                Advice::ListApiKeys
                | Advice::ListMachines
                | Advice::CreatePlatform { .. }
                | Advice::EnrollMachine
                | Advice::NewEnrollmentCode
                | Advice::RedeemEnrollmentCode
                | Advice::ReenrollMachine { .. }
                | Advice::CreateStore => (None, None),
            };
            if let Some(route) = route {
                entry["route"] = json!(route);
            }
            if let Some(page) = page {
                entry["page"] = json!(page);
            }
            entry
        })
        .collect();
    Value::Array(entries)
}

/// `message` with its advice in the pages' terms (their buttons and pages, never a
/// statement).
pub(crate) fn for_pages(message: &str, advice: &[Advice]) -> String {
    let clauses: Vec<String> = advice.iter().map(page_clause).collect();
    match clauses.is_empty() {
        true => message.to_string(),
        false => format!("{message}; {}", clauses.join(", or ")),
    }
}

fn page_clause(advice: &Advice) -> String {
    match advice {
        Advice::LogInAgain { connection } => {
            format!("log in again with the Log in again button of connection '{connection}'")
        }
        Advice::NewTokensFromPartner { connection, .. } => format!(
            "obtain new tokens from the partner application, drop connection '{connection}' and register them with Register tokens"
        ),
        Advice::ChangeClientCredentials { connection } => format!(
            "copy the client id and secret again from the app registration with App settings of connection '{connection}'"
        ),
        Advice::ChangeRedirectUrl { connection } => {
            format!("correct the redirect URL with App settings of connection '{connection}'")
        }
        Advice::ForceRefresh { connection } => {
            format!("once the cause is fixed, use Refresh now of connection '{connection}'")
        }
        Advice::RefreshLater { .. } => "try again later".to_string(),
        Advice::DropOrRename { connection } => {
            format!(
                "drop connection '{connection}' first (Drop… on its page), or choose another name"
            )
        }
        Advice::MoveSealedConnection { connection } => format!(
            "export connection '{connection}' from the machine that sealed it and import it here, or drop it and preauthenticate it anew"
        ),
        Advice::ListConnections => "the Connections page lists the ones there are".to_string(),
        Advice::ListApiKeys => "the operator lists them with show api keys".to_string(),
        Advice::ListMachines => "the operator lists them with show machines".to_string(),
        Advice::CreatePlatform { .. } => {
            "the operator can define it with create platform".to_string()
        }
        Advice::EnrollMachine => {
            "the operator enrolls this machine with an enrollment code made on an enrolled machine"
                .to_string()
        }
        Advice::NewEnrollmentCode => {
            "the operator makes a new enrollment code on an enrolled machine".to_string()
        }
        Advice::RedeemEnrollmentCode => {
            "the operator redeems an unused enrollment code on this machine".to_string()
        }
        Advice::ReenrollMachine { machine } => format!(
            "the operator drops machine '{machine}' on an enrolled machine and enrolls this one again"
        ),
        Advice::CreateStore => {
            "the operator creates it by running any statement with --store".to_string()
        }
    }
}
