//! Refresh-grant throughput of the sandbox with concurrent clients on loopback.
//!
//! Each of `CLIENTS` tasks owns one refresh-token chain and refreshes it in a loop (every
//! answer rotates the token, as on Exact). The app's access tokens live 30 s, so Exact's
//! "Access token not expired" rule never refuses a refresh. Reported as elements (token
//! responses) per second.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use preauth_sandbox::{App, Limits, Sandbox, SandboxConfig};
use reqwest::Client;
use reqwest::redirect::Policy;
use tokio::runtime::Runtime;

const CLIENTS: usize = 32;
const REDIRECT: &str = "http://127.0.0.1:53682/callback";

fn bench_app() -> App {
    App {
        client_id: "bench".to_owned(),
        client_secret: "bench-secret".to_owned(),
        redirect_uris: vec![REDIRECT.to_owned()],
        access_token_seconds: 30,
    }
}

async fn first_refresh_token(client: &Client, base: &str, app: &App) -> String {
    let authorize = format!(
        "{base}/api/oauth2/auth?client_id=bench&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fcallback&response_type=code"
    );
    let answer = client.get(authorize).send().await.expect("authorize");
    let location = answer.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let code = url::Url::parse(&location)
        .expect("redirect URL")
        .query_pairs()
        .find(|(name, _)| name == "code")
        .expect("code")
        .1
        .into_owned();
    let tokens: serde_json::Value = client
        .post(format!("{base}/api/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &app.client_id),
            ("client_secret", &app.client_secret),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .expect("exchange")
        .json()
        .await
        .expect("token JSON");
    tokens["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned()
}

async fn refresh(client: &Client, url: &str, app: &App, token: &str) -> String {
    let tokens: serde_json::Value = client
        .post(url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &app.client_id),
            ("client_secret", &app.client_secret),
            ("refresh_token", token),
        ])
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("token JSON");
    tokens["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("refresh refused: {tokens}"))
        .to_owned()
}

fn refresh_throughput(c: &mut Criterion) {
    let runtime = Runtime::new().expect("tokio runtime");
    let app = bench_app();
    let (sandbox, client, chains) = runtime.block_on(async {
        let sandbox = Sandbox::spawn(SandboxConfig {
            auto_approve: true,
            apps: vec![app.clone()],
            limits: Limits {
                token_calls_per_day: u32::MAX,
                ..Limits::default()
            },
            ..SandboxConfig::default()
        })
        .await
        .expect("spawn sandbox");
        let client = Client::builder()
            .redirect(Policy::none())
            .no_proxy()
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .expect("client");
        let mut chains = Vec::new();
        for _ in 0..CLIENTS {
            chains.push(first_refresh_token(&client, &sandbox.base_url(), &app).await);
        }
        (sandbox, client, chains)
    });
    let url = Arc::new(format!("{}/api/oauth2/token", sandbox.base_url()));
    let chains: Vec<_> = chains
        .into_iter()
        .map(|t| Arc::new(tokio::sync::Mutex::new(t)))
        .collect();

    let mut group = c.benchmark_group("sandbox");
    group.throughput(Throughput::Elements(1));
    group.bench_function(format!("refresh_grant_{CLIENTS}_clients"), |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let remaining = Arc::new(AtomicU64::new(iters));
                let started = Instant::now();
                let mut tasks = Vec::new();
                for chain in &chains {
                    let (client, url, app) = (client.clone(), Arc::clone(&url), app.clone());
                    let (chain, remaining) = (Arc::clone(chain), Arc::clone(&remaining));
                    tasks.push(tokio::spawn(async move {
                        let mut token = chain.lock().await;
                        while remaining
                            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                                n.checked_sub(1)
                            })
                            .is_ok()
                        {
                            *token = refresh(&client, &url, &app, &token).await;
                        }
                    }));
                }
                for task in tasks {
                    task.await.expect("client task");
                }
                started.elapsed()
            })
        });
    });
    group.finish();
    runtime.block_on(sandbox.shutdown());
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1));
    targets = refresh_throughput
}
criterion_main!(benches);
