//! `preauth serve`: the JSON API over the store, until Ctrl-C or SIGTERM.

use std::sync::Arc;

use preauth_core::clock::SystemClock;
use preauth_script::interpreter::exit;

use crate::cli::{Common, ServeArgs};
use crate::user_agent::SystemBrowser;

/// Runs `preauth serve`: the address and the TLS files are checked and the port bound
/// before the store is opened.
pub async fn run(common: &Common, args: &ServeArgs) -> i32 {
    let options = preauth_serve::Options {
        listen: args.listen,
        behind_proxy: args.behind_proxy,
        tls: args.tls_files(),
        public_url: args.public_url.clone(),
        login_link: !args.no_login_url,
        token_rate: args.token_rate,
        thresholds: args.thresholds.thresholds(),
    };
    let bound = match preauth_serve::bind(options).await {
        Ok(bound) => bound,
        Err(error) => {
            eprintln!("error: {error}");
            return if error.is_usage() {
                exit::USAGE
            } else {
                exit::FAILURE
            };
        }
    };
    let env = match crate::environment(common, Arc::new(SystemClock), Arc::new(SystemBrowser)) {
        Ok(env) => env,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::FAILURE;
        }
    };
    let keys = env.api_keys();
    match bound.serve(Arc::new(env), keys, stop_signal()).await {
        Ok(()) => exit::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            exit::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
