//! `preauth serve`: the JSON API over the store (and with `--keep-alive` the daily
//! keep-alive beside it), until Ctrl-C or SIGTERM; SIGHUP reads the TLS certificate and
//! key again.

use std::sync::Arc;

use preauth_script::interpreter::exit;
use preauth_serve::Certificates;
#[cfg(unix)]
use tokio::signal::unix::{SignalKind, signal};

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
        api_hosts: args.allow_api_host.clone(),
        trusted_proxies: args.trusted_proxies.clone(),
        max_connections: args.max_connections as usize,
        keep_alive: args.keep_alive(),
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
    let env = match crate::environment::open(
        common,
        crate::environment::system_clock(),
        Arc::new(SystemBrowser),
    ) {
        Ok(env) => env,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::FAILURE;
        }
    };
    let keys = env.api_keys();
    // A damaged keys file fails every API call: say so now, not to the first job.
    if let Err(error) = keys.list() {
        eprintln!("error: {error}");
        return exit::FAILURE;
    }
    reload_on_hangup(bound.certificates());
    match bound
        .serve(Arc::clone(env.context()), keys, stop_signal())
        .await
    {
        Ok(()) => exit::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            exit::FAILURE
        }
    }
}

/// On each SIGHUP (`systemctl reload`), reads the TLS files again, so that a renewed
/// certificate is served without a restart; a failure keeps the certificate served. Without
/// TLS there is nothing to read, and SIGHUP no longer ends the server either way.
#[cfg(unix)]
fn reload_on_hangup(certificates: Option<Arc<Certificates>>) {
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        return;
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match &certificates {
                None => eprintln!(
                    "preauth serve: SIGHUP: nothing to read again without --tls-cert and --tls-key"
                ),
                Some(certificates) => match certificates.reload() {
                    Ok(()) => eprintln!(
                        "preauth serve: SIGHUP: serving the TLS certificate read again from {}",
                        certificates.files().cert.display()
                    ),
                    Err(error) => eprintln!(
                        "preauth serve: SIGHUP: still serving the certificate read before, since {error}, then send SIGHUP again"
                    ),
                },
            }
        }
    });
}

/// Windows has no SIGHUP: a renewed certificate is served after a restart of the service.
#[cfg(windows)]
fn reload_on_hangup(_certificates: Option<Arc<Certificates>>) {}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. Both handlers are in place when this returns,
/// before the server answers anything: a signal that came before the future's first poll
/// would otherwise end the process at once instead of draining it.
#[cfg(unix)]
fn stop_signal() -> impl std::future::Future<Output = ()> {
    /// Waits for `signal`, or forever when it could not be registered.
    async fn or_never(signal: Option<tokio::signal::unix::Signal>) {
        match signal {
            Some(mut signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    let interrupt = signal(SignalKind::interrupt()).ok();
    let terminate = signal(SignalKind::terminate()).ok();
    async move {
        tokio::select! {
            () = or_never(interrupt) => {}
            () = or_never(terminate) => {}
        }
    }
}

/// Resolves on Ctrl-C or Ctrl-Break, or when the console is closed or Windows shuts down
/// (what a service wrapper sends to stop a console program).
#[cfg(windows)]
async fn stop_signal() {
    use tokio::signal::windows::{ctrl_break, ctrl_close, ctrl_shutdown};
    /// The event `wait` waits for, or never when it could not be registered.
    async fn or_never(wait: Option<impl Future<Output = Option<()>>>) {
        match wait {
            Some(wait) => {
                wait.await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    let (mut breaks, mut closes, mut shutdowns) =
        (ctrl_break().ok(), ctrl_close().ok(), ctrl_shutdown().ok());
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = or_never(breaks.as_mut().map(|s| s.recv())) => {}
        () = or_never(closes.as_mut().map(|s| s.recv())) => {}
        () = or_never(shutdowns.as_mut().map(|s| s.recv())) => {}
    }
}
