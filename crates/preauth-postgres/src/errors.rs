//! Database errors as store errors: one sentence each, never with a secret, the
//! driver's error kept as the source. A row lock not granted in time is busy
//! ([`StoreError::RowLocked`]); a server that is down, restarting or too slow is
//! unavailable ([`StoreError::Unavailable`]); the rest is [`StoreError::Backend`].

use preauth_core::store::StoreError;
use tokio_postgres::error::SqlState;

/// The store error for a database error during `what`: one sentence, never with a
/// secret (the server's messages hold none of ours: values are sealed), with the
/// driver's error as its source. A row lock not granted within the lock wait is
/// [`StoreError::RowLocked`]; a server that is down, restarting, shutting down or cancels
/// the statement at the statement timeout is [`StoreError::Unavailable`].
pub(crate) fn error(location: &str, e: tokio_postgres::Error, what: &str) -> StoreError {
    let location = location.to_string();
    let code = e.code().cloned();
    if code == Some(SqlState::LOCK_NOT_AVAILABLE) {
        return StoreError::RowLocked {
            location,
            source: Some(Box::new(e)),
        };
    }
    let unavailable = |reason: String, e: tokio_postgres::Error| StoreError::Unavailable {
        location: location.clone(),
        reason,
        source: Some(Box::new(e)),
    };
    let reason = match code {
        // statement_timeout: slow, not refusing.
        Some(code) if code == SqlState::QUERY_CANCELED => {
            return unavailable(
                format!(
                    "the server cancelled the statement to {what} at preauth's statement timeout (an overloaded server, or a lock another session holds on a table); try again later, or allow a longer wait with --store-timeout"
                ),
                e,
            );
        }
        Some(code)
            if code == SqlState::INVALID_PASSWORD
                || code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            format!(
                "the server refused the login ({}); check the user and password in the store URL",
                db_message(&e)
            )
        }
        Some(code) if code == SqlState::INVALID_CATALOG_NAME => {
            format!(
                "{}; create the database first (createdb), preauth creates its tables itself",
                db_message(&e)
            )
        }
        // Class 57 (operator intervention: shutting down, starting up) and class 08
        // (connection exception): the server is down for now, not refusing.
        Some(code) if code.code().starts_with("57") || code.code().starts_with("08") => {
            let reason = format!("the server refused to {what}: {}", db_message(&e));
            return unavailable(reason, e);
        }
        Some(_) => format!("the server refused to {what}: {}", db_message(&e)),
        None if e.is_closed() => {
            return unavailable(
                "the server closed the connection (it restarted, or the network broke)".to_string(),
                e,
            );
        }
        None => {
            let reason = format!(
                "cannot {what} ({e}); check that the server runs and that the store URL is right"
            );
            return unavailable(reason, e);
        }
    };
    StoreError::Backend {
        location,
        reason,
        source: Some(Box::new(e)),
    }
}

/// The server's own message of a database error.
fn db_message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |db| db.message().to_string())
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use tokio_postgres::NoTls;

    use super::*;

    /// Runs `work` on a runtime of its own.
    fn block_on<T>(work: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(work)
    }

    #[test]
    fn a_row_lock_not_granted_is_row_locked_with_the_driver_error_as_source() {
        let Some(cluster) = pg_throwaway::shared() else {
            return;
        };
        let url = cluster.new_database("db_error_row_locked");
        block_on(async {
            let connect = || async {
                let (client, connection) = tokio_postgres::connect(&url, NoTls)
                    .await
                    .expect("connects");
                tokio::spawn(connection);
                client
            };
            let (holder, waiter) = (connect().await, connect().await);
            holder
                .batch_execute("CREATE TABLE held (id int); INSERT INTO held VALUES (1)")
                .await
                .expect("a table");
            holder
                .batch_execute("BEGIN; SELECT id FROM held FOR UPDATE")
                .await
                .expect("the row is held");
            let refused = waiter
                .batch_execute("SET lock_timeout = '10ms'; SELECT id FROM held FOR UPDATE")
                .await
                .expect_err("the row is held by the other session");
            let e = error("the store", refused, "lock the connection");
            assert!(matches!(e, StoreError::RowLocked { .. }), "{e:?}");
            assert!(
                e.to_string()
                    .starts_with("the store: the connection stayed locked by another process"),
                "{e}"
            );
            let source = std::error::Error::source(&e)
                .and_then(|s| s.downcast_ref::<tokio_postgres::Error>())
                .expect("the driver's error as source");
            assert_eq!(source.code(), Some(&SqlState::LOCK_NOT_AVAILABLE));
        });
    }

    #[test]
    fn a_server_that_is_not_there_is_unavailable_with_the_driver_error_as_source() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let url = format!("postgres://preauth@127.0.0.1:{port}/none?connect_timeout=2");
        let refused = block_on(tokio_postgres::connect(&url, NoTls))
            .err()
            .expect("nothing listens");
        let e = error("the store", refused, "connect");
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with("the store: cannot connect ("),
            "{e}"
        );
        assert!(std::error::Error::source(&e).is_some_and(|s| s.is::<tokio_postgres::Error>()));
    }
}
