//! For the unit tests: a fresh database of the shared throwaway cluster, with a client
//! on a runtime of its own.

use std::future::Future;

use tokio_postgres::{Client, NoTls};

/// Runs `work` with a client of a new database named `database`; does nothing when no
/// PostgreSQL is installed (as every test of the shared cluster).
pub(crate) fn with_database<F: Future<Output = ()>>(
    database: &str,
    work: impl FnOnce(Client) -> F,
) {
    let Some(cluster) = pg_throwaway::shared() else {
        return;
    };
    let url = cluster.new_database(database);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, NoTls)
            .await
            .expect("connects");
        tokio::spawn(connection);
        work(client).await;
    });
}
