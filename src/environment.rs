//! Opening what every command works on: the store (the settings folder, or the shared store
//! of `--store`) with the device key or key file, the clock, and the use-case context over
//! them.

use std::sync::Arc;
use std::time::Duration;

use preauth_actions::Context;
use preauth_core::api_keys::API_KEYS_FILE;
use preauth_core::clock::{Clock, OffsetClock, SystemClock};
use preauth_core::documents::{Documents, FolderDocuments, adopt};
use preauth_core::platform::{PLATFORMS_FILE, Registry};
use preauth_core::protector::Protector;
use preauth_core::settings::{SettingsFolder, resolve_dir};
use preauth_core::spool::Spool;
use preauth_core::store::Store;
use preauth_core::token_client::{TokenClient, TokenClientConfig};
use preauth_postgres::{Access, MachineKey, PgStore, with_step_bound};
use preauth_script::interpreter::{Environment, UserAgent};

use crate::cli::Common;
use crate::protector::DeviceProtector;
use crate::protector::KeySource;

/// Opens the store (the settings folder, or the shared store of `--store`) with the
/// device key or key file and `clock`.
pub(crate) fn open(
    common: &Common,
    clock: Arc<dyn Clock>,
    user_agent: Arc<dyn UserAgent>,
) -> Result<Environment, String> {
    open_environment(
        common,
        Access::Create,
        common.store_timeout()?,
        clock,
        user_agent,
    )
}

/// The environment over the store of `common`; a shared store waits at most `step` for
/// each database step.
fn open_environment(
    common: &Common,
    access: Access,
    step: Duration,
    clock: Arc<dyn Clock>,
    user_agent: Arc<dyn UserAgent>,
) -> Result<Environment, String> {
    let http = TokenClient::new(TokenClientConfig::default(), Arc::clone(&clock))
        .map_err(|e| e.to_string())?;
    let dir = resolve_dir(common.settings_dir.clone());
    let key_source = common.key_source();
    let protector: Arc<dyn Protector> = Arc::new(DeviceProtector::new(
        key_source.clone(),
        common.key_cache()?,
    ));
    let local = Arc::new(FolderDocuments::new(&dir));
    let registry = Registry::builtin();
    let lock_wait = common.lock_wait()?;
    let store: Arc<dyn Store> = match common.store_url() {
        None => {
            registry
                .add_user_defined(local.as_ref())
                .map_err(|e| e.to_string())?;
            Arc::new(
                SettingsFolder::open(&dir, registry.clone(), Some(Arc::clone(&protector)))
                    .map_err(|e| e.to_string())?
                    .with_lock_wait(lock_wait),
            )
        }
        Some(url) => {
            let mut machine = match key_source {
                KeySource::Device => MachineKey::device(Arc::clone(&protector)),
                KeySource::KeyFile(_) => MachineKey::key_file(Arc::clone(&protector)),
            };
            if let Some(name) = common.machine_name() {
                machine.slot = name;
            }
            Arc::new(
                PgStore::open(
                    &with_step_bound(&url, step),
                    access,
                    registry.clone(),
                    machine,
                    lock_wait,
                    Spool::in_settings(&dir),
                )
                // Opening checks the tables (`preauth token` creates none): a store that
                // is not there says how to create it, as a command line.
                .map_err(|e| crate::advice::advised(&e.to_string(), &e.advice()))?,
            )
        }
    };
    // A shared store keeps the platforms and API keys itself, so every machine and
    // replica sees the same ones.
    let documents: Arc<dyn Documents> = match store.documents() {
        Some(shared) => {
            if access == Access::Create {
                let adopted = adopt(shared.as_ref(), &local, &[PLATFORMS_FILE, API_KEYS_FILE])
                    .map_err(|e| e.to_string())?;
                for name in adopted {
                    eprintln!(
                        "note: {name} of {} is now kept in the shared store, where every machine finds it",
                        dir.display()
                    );
                }
            }
            registry
                .add_user_defined(shared.as_ref())
                .map_err(|e| e.to_string())?;
            shared
        }
        None => local,
    };
    let context = Context::with_webhook_schedule(
        store,
        registry,
        documents,
        protector,
        clock,
        http,
        crate::webhooks::schedule(),
    );
    let mut env = Environment::new(Arc::new(context), user_agent);
    env.format = common.format;
    Ok(env)
}

/// The hidden test hook that moves this process's clock ahead, in seconds.
const CLOCK_OFFSET_VAR: &str = "PREAUTH_CLOCK_OFFSET_SECONDS";

/// The clock `preauth` follows: the system's. A test that advanced a sandbox's virtual
/// clock sets the hidden `PREAUTH_CLOCK_OFFSET_SECONDS` to the same offset, so that this
/// process sees expiries and days as the sandbox does; nothing else should set it.
pub(crate) fn system_clock() -> Arc<dyn Clock> {
    match std::env::var(CLOCK_OFFSET_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        Some(seconds) if seconds > 0 => Arc::new(OffsetClock {
            ahead: Duration::from_secs(seconds),
        }),
        _ => Arc::new(SystemClock),
    }
}

/// The environment over a store that must exist already: commands that only use
/// connections (`token`, `check`) never create one, so a wrong path or URL is reported.
/// A shared store waits at most `step` for each database step.
pub(crate) fn existing_environment(common: &Common, step: Duration) -> Result<Environment, String> {
    let existing = |common| {
        open_environment(
            common,
            Access::Existing,
            step,
            system_clock(),
            Arc::new(crate::user_agent::SystemBrowser),
        )
    };
    if common.store_url().is_none() {
        settings_folder_exists(common)?;
    }
    existing(common)
}

/// Whether the settings folder of `common` is there, for commands and scripts that only
/// read it: a folder that does not exist is said to be missing, not created (a typo in
/// `--settings-dir` must not look like a folder without connections).
pub(crate) fn settings_folder_exists(common: &Common) -> Result<(), String> {
    let dir = resolve_dir(common.settings_dir.clone());
    match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(format!("settings folder {} is not a folder", dir.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "settings folder {} does not exist; give --settings-dir or PREAUTH_SETTINGS_DIR",
            dir.display()
        )),
        Err(error) => Err(format!(
            "cannot read settings folder {}: {error}",
            dir.display()
        )),
    }
}
