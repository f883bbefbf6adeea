//! `preauth serve`: the JSON API over the store, until Ctrl-C or SIGTERM.

use std::sync::Arc;

use preauth_core::clock::SystemClock;
use preauth_script::interpreter::exit;

use crate::cli::{Common, ServeArgs};
use crate::user_agent::SystemBrowser;

/// Runs `preauth serve`.
pub async fn run(common: &Common, args: &ServeArgs) -> i32 {
    if let Err(error) = preauth_serve::check_listen(args.listen, args.behind_proxy) {
        eprintln!("error: {error}");
        return exit::USAGE;
    }
    let env = match crate::environment(common, Arc::new(SystemClock), Arc::new(SystemBrowser)) {
        Ok(env) => env,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::FAILURE;
        }
    };
    let keys = env.api_keys();
    let options = preauth_serve::Options {
        listen: args.listen,
        behind_proxy: args.behind_proxy,
        token_rate: args.token_rate,
        thresholds: args.thresholds.thresholds(),
    };
    match preauth_serve::serve(Arc::new(env), keys, options, stop_signal()).await {
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
