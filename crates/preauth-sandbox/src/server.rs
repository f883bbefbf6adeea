//! Serving the router on 127.0.0.1, with connections that a fault can cut.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::VirtualClock;
use crate::config::SandboxConfig;
use crate::counters::Counters;
use crate::cuttable::{Connection, CuttableListener};
use crate::fault::Fault;
use crate::routes::router;
use crate::state::SandboxState;

/// A running sandbox on 127.0.0.1. Dropping it (or [`Sandbox::shutdown`]) stops the server.
#[derive(Debug)]
pub struct Sandbox {
    state: SandboxState,
    base_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds `127.0.0.1:config.port` (0 picks a free port) and serves the sandbox in the background.
    pub async fn spawn(config: SandboxConfig) -> io::Result<Sandbox> {
        let tcp = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, config.port))).await?;
        let addr = tcp.local_addr()?;
        let base_url = format!("http://{addr}");
        let state = SandboxState::new(config, base_url.clone());
        let app = router(state.clone()).into_make_service_with_connect_info::<Connection>();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serving =
                axum::serve(CuttableListener(tcp), app).with_graceful_shutdown(async move {
                    // Resolves on an explicit stop and when the handle is dropped.
                    let _ = stopped.await;
                });
            // Accept errors are retried inside the listener; serve itself only ends on shutdown.
            let _ = serving.await;
        });
        Ok(Sandbox {
            state,
            base_url,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`: Exact paths (`/api/oauth2/...`) and Twinfield paths
    /// (`/auth/authentication/connect/...`) are both served under it.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The issuer Twinfield announces in `iss`: `base_url + "/auth/authentication"`.
    pub fn twinfield_issuer(&self) -> String {
        self.state.twinfield_issuer()
    }

    /// The shared state (the same one the admin endpoints use).
    pub fn state(&self) -> &SandboxState {
        &self.state
    }

    /// The virtual clock all expiries are judged by.
    pub fn clock(&self) -> VirtualClock {
        self.state.clock()
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.state.counters()
    }

    /// Queues a fault for the next token request.
    pub fn inject(&self, fault: Fault) {
        self.state.inject(fault);
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
