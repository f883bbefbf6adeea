//! Advice in the script language's terms: each [`Advice`] as a statement that parses and
//! repairs what the error says.

use preauth_core::advice::Advice;
use preauth_core::error::Quoted;

/// `advice` as one clause for the end of an error message ("log in again with
/// `preauthenticate connection 'acme'`"), alternatives joined by "or"; `None` without
/// advice.
pub fn in_statements(advice: &[Advice]) -> Option<String> {
    let clauses: Vec<String> = advice.iter().map(statement).collect();
    (!clauses.is_empty()).then(|| clauses.join(", or "))
}

/// `message` with the advice that goes with it, as the shell and scripts print it.
pub fn advised(message: &str, advice: &[Advice]) -> String {
    match in_statements(advice) {
        Some(clause) => format!("{message}; {clause}"),
        None => message.to_string(),
    }
}

fn statement(advice: &Advice) -> String {
    match advice {
        Advice::LogInAgain { connection } => format!(
            "log in again with `preauthenticate connection {}`",
            Quoted(connection)
        ),
        Advice::NewTokensFromPartner {
            connection,
            platform,
        } => {
            let q = Quoted(connection);
            format!(
                "obtain new tokens from the partner application, then run `drop connection {q}` and `register connection {q} platform {} client id '…' client secret '…' redirect url '…' access token '…' refresh token '…'`",
                Quoted(platform)
            )
        }
        Advice::ChangeClientCredentials { connection } => format!(
            "copy the client id and secret again from the app registration with `alter connection {} set client id '…', client secret '…'`",
            Quoted(connection)
        ),
        Advice::ChangeRedirectUrl { connection } => format!(
            "correct it with `alter connection {} set redirect url '…'`",
            Quoted(connection)
        ),
        Advice::ForceRefresh { connection } => format!(
            "once the cause is fixed, run `refresh connection {} force`",
            Quoted(connection)
        ),
        Advice::RefreshLater { connection } => {
            format!("run `refresh connection {}` once later", Quoted(connection))
        }
        Advice::DropOrRename { connection } => format!(
            "run `drop connection {}` first, or choose another name",
            Quoted(connection)
        ),
        Advice::MoveSealedConnection { connection } => {
            let q = Quoted(connection);
            format!(
                "on the machine that sealed it, run `export settings {q} plain` and save what it prints as a file, then run here `drop connection {q}` and `import settings '<that file>'`; or start anew here: `drop connection {q}`, then `preauthenticate exact client id '…' client secret '…' redirect url '…' as connection {q}`"
            )
        }
        Advice::ListConnections => "`show connections` lists the ones there are".to_string(),
        Advice::ListApiKeys => "`show api keys` lists them".to_string(),
        Advice::ListMachines => "`show machines` lists them".to_string(),
        Advice::CreatePlatform { id } => format!(
            "add it with `create platform {} from issuer '…'`",
            Quoted(id)
        ),
        Advice::EnrollMachine => "on an enrolled machine run `enroll machine`, then here `enroll machine with code '…'` with the code it printed".to_string(),
        Advice::NewEnrollmentCode => {
            "make a new one with `enroll machine` on an enrolled machine".to_string()
        }
        Advice::RedeemEnrollmentCode => {
            "redeem an unused enrollment code here with `enroll machine with code '…'`".to_string()
        }
        Advice::ReenrollMachine { machine } => format!(
            "on an enrolled machine run `drop machine {}`, then enroll this one again with `enroll machine with code '…'` and a code from `enroll machine` there",
            Quoted(machine)
        ),
        Advice::CreateStore => {
            "create it by running any statement with --store, such as `show connections`"
                .to_string()
        }
        Advice::UpgradeStore => {
            "upgrade them by running any statement with --store once, such as `show connections`"
                .to_string()
        }
        Advice::EnrollAnotherMachine => "enroll another machine first: on an enrolled machine run `enroll machine`, then on the other machine `enroll machine with code '…'` with the code it printed".to_string(),
        Advice::ListWebhooks => "`show webhooks` lists them".to_string(),
        Advice::DropWebhook { name } => format!(
            "run `drop webhook {}` first, or choose another name",
            Quoted(name)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statement_in_advice_parses() {
        let c = || "o'brien".to_string();
        let all = [
            Advice::LogInAgain { connection: c() },
            Advice::NewTokensFromPartner {
                connection: c(),
                platform: "exact-online".into(),
            },
            Advice::ChangeClientCredentials { connection: c() },
            Advice::ChangeRedirectUrl { connection: c() },
            Advice::ForceRefresh { connection: c() },
            Advice::RefreshLater { connection: c() },
            Advice::DropOrRename { connection: c() },
            Advice::MoveSealedConnection { connection: c() },
            Advice::ListConnections,
            Advice::ListApiKeys,
            Advice::ListMachines,
            Advice::CreatePlatform { id: "idp".into() },
            Advice::EnrollMachine,
            Advice::NewEnrollmentCode,
            Advice::RedeemEnrollmentCode,
            Advice::ReenrollMachine { machine: c() },
            Advice::CreateStore,
            Advice::UpgradeStore,
            Advice::EnrollAnotherMachine,
            Advice::ListWebhooks,
            Advice::DropWebhook { name: c() },
        ];
        for advice in &all {
            let text = statement(advice);
            for quoted in text.split('`').skip(1).step_by(2) {
                let runnable = quoted.replace('…', "x");
                crate::parse(&runnable, "advice")
                    .unwrap_or_else(|e| panic!("{quoted} does not parse: {e}"));
            }
        }
        assert_eq!(in_statements(&[]), None);
        assert!(advised("m", &all[4..6]).starts_with(
            "m; once the cause is fixed, run `refresh connection 'o''brien' force`, or run"
        ));
    }
}
