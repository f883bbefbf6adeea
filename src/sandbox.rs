//! `preauth sandbox`: serve the sandbox until Ctrl-C, or log in on it as a scripted browser.

use preauth_sandbox::{App, Sandbox, SandboxConfig, load_apps};
use preauth_script::interpreter::exit;

use crate::cli::SandboxArgs;
use crate::user_agent::SandboxLogin;

/// Runs `preauth sandbox`.
pub async fn run(args: SandboxArgs) -> i32 {
    if let Some(url) = &args.approve {
        return match SandboxLogin::login(url).await {
            Ok(Some(back)) => {
                println!("{back}");
                exit::SUCCESS
            }
            Ok(None) => exit::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                exit::FAILURE
            }
        };
    }
    let mut config = SandboxConfig {
        port: args.port,
        auto_approve: args.auto_approve,
        ..SandboxConfig::default()
    };
    if let Some(path) = &args.apps {
        match load_apps(path) {
            Ok(apps) => config.apps.extend(apps),
            Err(error) => {
                eprintln!("error: {error}");
                return exit::USAGE;
            }
        }
    }
    let sandbox = match Sandbox::spawn(config).await {
        Ok(sandbox) => sandbox,
        Err(error) => {
            eprintln!(
                "error: cannot listen on 127.0.0.1:{}: {error}; give --port another port, or --port 0 for a free one",
                args.port
            );
            return exit::FAILURE;
        }
    };
    println!("{}", sandbox.base_url());
    eprintln!(
        "sandbox: Exact Online and Twinfield on {url} (demo user demo / demo, 2FA code 123456)\n\
         demo app: client id {id}, client secret {secret}, redirect url {redirect}\n\
         press Ctrl-C to stop",
        url = sandbox.base_url(),
        id = App::DEMO_CLIENT_ID,
        secret = App::DEMO_CLIENT_SECRET,
        redirect = App::DEMO_REDIRECT_URI,
    );
    let _ = tokio::signal::ctrl_c().await;
    sandbox.shutdown().await;
    exit::SUCCESS
}
