//! Advice in the terms of the API and the pages: a stable code with the route to call
//! (or the page to open) for programs, a link to the page or form that does it for people.

use maud::{Markup, html};
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
                | Advice::CreateStore
                | Advice::UpgradeStore
                | Advice::EnrollAnotherMachine
                | Advice::ListWebhooks
                | Advice::DropWebhook { .. } => (None, None),
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

/// `message` with its advice in the pages' terms: each advice a link to the page or
/// form that does it (escaped as every text of a page), or, for what only the operator
/// can do on a machine's command line, a sentence.
pub(crate) fn for_pages(message: &str, advice: &[Advice]) -> Markup {
    html! {
        (message)
        @for (i, one) in advice.iter().enumerate() {
            " "
            span.advice data-code=(one.code()) {
                @if i > 0 { "Or: " }
                (page_advice(one))
            }
        }
    }
}

/// A link in the advice: `text` to `href`.
fn link(href: &str, text: &str) -> Markup {
    html! { a.advice href=(href) { (text) } }
}

fn page_advice(advice: &Advice) -> Markup {
    let page = advice.connection().map(|c| paths(c).0);
    let page = page.as_deref().unwrap_or("/connections");
    match advice {
        Advice::LogInAgain { connection } => link(
            &format!("{page}#log-in-again"),
            &format!("Log in again for connection '{connection}'."),
        ),
        Advice::NewTokensFromPartner { connection, .. } => html! {
            "Obtain new tokens from the partner application, "
            (link(&format!("{page}/drop"), &format!("drop connection '{connection}'")))
            " and "
            (link("/register", "register the new tokens"))
            "."
        },
        Advice::ChangeClientCredentials { connection } => link(
            &format!("{page}/app"),
            &format!(
                "Copy the client id and secret again from the app registration into the app settings of connection '{connection}'."
            ),
        ),
        Advice::ChangeRedirectUrl { connection } => link(
            &format!("{page}/app"),
            &format!("Correct the redirect URL in the app settings of connection '{connection}'."),
        ),
        Advice::ForceRefresh { connection } => html! {
            "Once the cause is fixed, "
            (link(&format!("{page}#refresh-now"), &format!("refresh connection '{connection}' now")))
            "."
        },
        Advice::RefreshLater { .. } => html! { "Try again later." },
        Advice::DropOrRename { connection } => html! {
            (link(&format!("{page}/drop"), &format!("Drop connection '{connection}'")))
            " first, or choose another name."
        },
        Advice::MoveSealedConnection { connection } => html! {
            "Export connection '" (connection) "' from the machine that sealed it and import it here, or "
            (link(&format!("{page}/drop"), "drop it"))
            " and "
            (link("/preauthenticate", "preauthenticate it anew"))
            "."
        },
        Advice::ListConnections => link("/connections", "See the connections there are."),
        // Done by the operator on a machine's command line: no page does it.
        Advice::ListApiKeys => html! { "The operator lists the API keys on the command line." },
        Advice::ListMachines => html! { "The operator lists the machines on the command line." },
        Advice::CreatePlatform { .. } => {
            html! { "The operator can define the platform on the command line." }
        }
        Advice::EnrollMachine => html! {
            "The operator enrolls this machine with an enrollment code made on an enrolled machine."
        },
        Advice::NewEnrollmentCode => {
            html! { "The operator makes a new enrollment code on an enrolled machine." }
        }
        Advice::RedeemEnrollmentCode => {
            html! { "The operator redeems an unused enrollment code on this machine." }
        }
        Advice::ReenrollMachine { machine } => html! {
            "The operator drops machine '" (machine) "' on an enrolled machine and enrolls this one again."
        },
        Advice::CreateStore => html! {
            "The operator creates the store's tables by running any statement with --store."
        },
        Advice::UpgradeStore => html! {
            "The operator upgrades the store's tables by running any statement with --store once."
        },
        Advice::EnrollAnotherMachine => html! {
            "The operator enrolls another machine first, with an enrollment code made on an enrolled machine."
        },
        Advice::ListWebhooks => html! { "The operator lists the webhooks on the command line." },
        Advice::DropWebhook { name } => html! {
            "The operator drops webhook '" (name) "' on the command line first, or chooses another name."
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_advice_about_a_connection_is_a_link_to_the_page_that_fixes_it() {
        let name = "a b<&\"x";
        let shown = for_pages(
            "the platform refused the client",
            &[
                Advice::ChangeClientCredentials {
                    connection: name.into(),
                },
                Advice::LogInAgain {
                    connection: name.into(),
                },
            ],
        )
        .into_string();
        let encoded = "/connections/a%20b%3C%26%22x";
        assert!(
            shown.contains(&format!("href=\"{encoded}/app\"")),
            "{shown}"
        );
        assert!(
            shown.contains(&format!("href=\"{encoded}#log-in-again\"")),
            "{shown}"
        );
        assert!(shown.contains("a b&lt;&amp;&quot;x"), "escaped: {shown}");
        assert!(!shown.contains("<&"), "nothing unescaped: {shown}");
        assert!(
            !shown.contains("button"),
            "no words naming buttons: {shown}"
        );
    }

    #[test]
    fn a_list_of_connections_links_to_the_connections_page() {
        let shown = for_pages("no connection 'x'", &[Advice::ListConnections]).into_string();
        assert!(shown.contains("href=\"/connections\""), "{shown}");
        assert!(shown.starts_with("no connection 'x'"), "{shown}");
    }
}
