//! The token budget: what preauth itself spends of a platform's token-endpoint limits,
//! shared by every process and machine that uses one store.
//!
//! A platform may allow only so many token-endpoint calls per app, user and day (Exact:
//! 200) and block an app after so many error answers within an hour (Exact: 10).
//! - The day's calls are counted per connection (one login is one user's grant), in the
//!   connection itself ([`TOKEN_CALLS_KEY`]): decided under the connection's lock before
//!   a call and written with the write that follows the call anyway (new tokens, a failure
//!   record), so that many connections cost nothing more per call than one.
//! - The ledger, one small JSON document in the store's [`Documents`] ([`LEDGER_DOCUMENT`]),
//!   keeps only what is per app (platform and client id): the times of the error answers
//!   of the last hour (written only when an error answer comes) and what a person set for
//!   the app ([`AppSettings`], which then holds per user of that app).
//!
//! Before a token-endpoint call, [`take`] decides:
//! - background work ([`Caller::Background`]) leaves a reserve of a connection's day's
//!   calls ([`DEFAULT_RESERVE_PERCENT`]) to interactive logins and jobs;
//! - nothing automatic is sent once the errors of the last hour are within
//!   [`KEPT_FOR_A_PERSON`] of the block: those are for a person's explicit action;
//! - nothing at all is sent that could make the errors reach the block.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::clock::When;
use crate::connection::Connection;
use crate::documents::Documents;
use crate::platform::Platform;
use crate::store::StoreError;

/// The document that holds the ledger.
pub const LEDGER_DOCUMENT: &str = "budget-ledger.json";

/// The extra connection-string key that holds a connection's token-endpoint calls of one
/// UTC day: `<YYYY-MM-DD> <calls>`.
pub const TOKEN_CALLS_KEY: &str = "preauth-token-calls";

/// The share of a day's calls (in percent) that background work leaves to interactive
/// logins and jobs.
pub const DEFAULT_RESERVE_PERCENT: u32 = 20;

/// Errors below the platform's block that only a person's explicit action may use.
pub const KEPT_FOR_A_PERSON: u32 = 2;

const DAY_SECS: u64 = 24 * 3600;
const HOUR_SECS: u64 = 3600;

/// Who asks for a token-endpoint call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// Work nobody waits for (`refresh all connections`, a keep-alive): stops at the
    /// reserve.
    Background,
    /// A program or person that needs a token now (`preauth token`): may use the
    /// reserve, not the errors kept for a person.
    Automatic,
    /// A person's explicit action (a forced refresh, a login): may use the reserve and
    /// the errors kept for it.
    Person,
}

/// A platform's limits on its token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Calls per app, user (connection) and UTC day.
    pub calls_per_day: Option<u32>,
    /// Error answers per app within an hour at which the platform blocks the app.
    pub errors_per_hour_block: Option<u32>,
}

impl Limits {
    /// The limits stated in `platform`'s record.
    pub fn of(platform: &Platform) -> Limits {
        Limits {
            calls_per_day: platform.token_calls_per_day,
            errors_per_hour_block: platform.token_errors_per_hour_block,
        }
    }

    /// Whether there is nothing to count.
    pub fn is_none(&self) -> bool {
        self.calls_per_day.is_none() && self.errors_per_hour_block.is_none()
    }
}

/// A call counted for a connection: write it into the connection with
/// [`Spent::store_in`] along with what the call brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spent {
    /// The connection's calls today, this one included.
    pub calls_today: u32,
    /// The connection's calls a day (`None`: no daily budget).
    pub limit: Option<u32>,
    /// This call made the connection's remaining calls of the day fall to the reserve:
    /// the first time today (the count only grows within a day, so it happens once a
    /// day).
    pub budget_low: bool,
    /// The UTC day (days since the Unix epoch) the call counts on.
    day: u64,
}

impl Spent {
    /// Keeps this count in `connection` (replacing an earlier one).
    pub fn store_in(&self, connection: &mut Connection) {
        connection
            .extra
            .retain(|(k, _)| !k.eq_ignore_ascii_case(TOKEN_CALLS_KEY));
        let date = humantime::format_rfc3339_seconds(time(self.day * DAY_SECS)).to_string();
        let date = date.get(..10).unwrap_or_default();
        connection.extra.push((
            TOKEN_CALLS_KEY.to_string(),
            format!("{date} {}", self.calls_today),
        ));
    }
}

impl Spent {
    /// This call counted after the calls `earlier` (the stored connection a login
    /// replaces) made the same day.
    pub fn following(self, earlier: &Connection) -> Spent {
        let made = calls_today(earlier, time(self.day * DAY_SECS));
        Spent {
            calls_today: self.calls_today.max(made.saturating_add(1)),
            ..self
        }
    }
}

/// The calls `connection` made on `now`'s UTC day, as it keeps them: 0 without a count,
/// with one of another day, or with one that does not read.
pub fn calls_today(connection: &Connection, now: SystemTime) -> u32 {
    let Some((_, value)) = connection
        .extra
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(TOKEN_CALLS_KEY))
    else {
        return 0;
    };
    let Some((date, calls)) = value.trim().split_once(' ') else {
        return 0;
    };
    let day = humantime::parse_rfc3339(&format!("{date}T00:00:00Z"))
        .map(|at| secs(at) / DAY_SECS)
        .ok();
    match (day, calls.trim().parse()) {
        (Some(day), Ok(calls)) if day == secs(now) / DAY_SECS => calls,
        _ => 0,
    }
}

/// Why a call was refused: nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The connection's calls of the day (or all but the reserve, for background work)
    /// are used.
    #[error("the connection has made {used} of its {limit} token-endpoint calls today (the platform's budget per user of an app){}; a call is possible again from {}", if *.reserve > 0 { format!(" and background work leaves the last {} to interactive use", .reserve) } else { String::new() }, When(*.until))]
    DayBudget {
        /// Calls made today.
        used: u32,
        /// The day's calls.
        limit: u32,
        /// Calls kept from this caller (the reserve, for background work).
        reserve: u32,
        /// The next UTC day.
        until: SystemTime,
    },
    /// Another error answer could get the app blocked.
    #[error("the app had {errors} error answers from the token endpoint within the last hour and the platform blocks it at {block}{}; nothing was sent, and a call is possible again from {}", if *.kept > 0 { format!(" (the last {} are kept for a person's explicit action)", .kept) } else { String::new() }, When(*.until))]
    Errors {
        /// Error answers within the last hour.
        errors: u32,
        /// The platform's block.
        block: u32,
        /// Errors kept from this caller.
        kept: u32,
        /// When enough of them are an hour old.
        until: SystemTime,
    },
}

impl Refusal {
    /// From when the refused call is possible.
    pub fn until(&self) -> SystemTime {
        match self {
            Refusal::DayBudget { until, .. } | Refusal::Errors { until, .. } => *until,
        }
    }
}

/// The ledger as stored.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Ledger {
    /// Per app: the times (Unix seconds) of the error answers within the last hour.
    #[serde(default)]
    errors: BTreeMap<String, Vec<u64>>,
    /// Per client id: what a person set for this app (an app Exact exempted).
    #[serde(default)]
    overrides: BTreeMap<String, AppSettings>,
}

/// What a person set for one app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSettings {
    /// Calls a day per user (connection) instead of the platform's budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls_per_day: Option<u32>,
    /// The reserve in percent instead of [`DEFAULT_RESERVE_PERCENT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_percent: Option<u32>,
}

fn secs(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn time(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// The ledger's key of an app.
fn app(platform: &str, client_id: &str) -> String {
    format!("{platform} {client_id}")
}

impl Ledger {
    /// A stored ledger; one that cannot be read starts anew (it only ever holds one
    /// hour's errors and what a person set).
    fn parse(bytes: Option<&[u8]>) -> Ledger {
        bytes
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default()
    }

    /// Drops errors older than an hour.
    fn prune(&mut self, now: u64) {
        for times in self.errors.values_mut() {
            times.retain(|t| t + HOUR_SECS > now);
        }
        self.errors.retain(|_, times| !times.is_empty());
    }

    /// Decides a call of `caller` for a connection of `app` that made `calls` calls
    /// today, at `now`.
    fn decide(
        &self,
        app: &str,
        limits: Limits,
        caller: Caller,
        reserve_percent: u32,
        calls: u32,
        now: u64,
    ) -> Result<Spent, Refusal> {
        if let Some(block) = limits.errors_per_hour_block {
            // A person may go up to one error below the block; anything else stops
            // where only the errors kept for a person are left.
            let (stop_at, kept) = match caller {
                Caller::Person => (block.saturating_sub(1), 0),
                _ => (block.saturating_sub(KEPT_FOR_A_PERSON), KEPT_FOR_A_PERSON),
            };
            let mut times: Vec<u64> = self
                .errors
                .get(app)
                .map(|t| t.iter().copied().filter(|t| t + HOUR_SECS > now).collect())
                .unwrap_or_default();
            let errors = u32::try_from(times.len()).unwrap_or(u32::MAX);
            if errors >= stop_at {
                // Possible again once enough are an hour old that one fewer than
                // `stop_at` remain.
                times.sort_unstable();
                let leaving = (errors + 1).saturating_sub(stop_at) as usize;
                let until = times
                    .get(leaving.saturating_sub(1))
                    .map_or(now, |t| t + HOUR_SECS);
                return Err(Refusal::Errors {
                    errors,
                    block,
                    kept,
                    until: time(until),
                });
            }
        }
        let today = now / DAY_SECS;
        let mut budget_low = false;
        if let Some(limit) = limits.calls_per_day {
            let reserve = limit.saturating_mul(reserve_percent) / 100;
            let kept = if caller == Caller::Background {
                reserve
            } else {
                0
            };
            if calls >= limit.saturating_sub(kept) {
                return Err(Refusal::DayBudget {
                    used: calls,
                    limit,
                    reserve: kept,
                    until: time((today + 1) * DAY_SECS),
                });
            }
            budget_low = reserve > 0 && calls + 1 == limit - reserve;
        }
        Ok(Spent {
            calls_today: calls.saturating_add(1),
            limit: limits.calls_per_day,
            budget_low,
            day: today,
        })
    }

    fn note_error(&mut self, app: &str, now: u64) {
        self.prune(now);
        self.errors.entry(app.to_string()).or_default().push(now);
    }

    fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Decides a token-endpoint call of `caller` for `connection` at `now` with the app's
/// errors of the last hour and what a person set for it (a read of the ledger, no
/// write), and the connection's own calls today. Call it under the connection's lock,
/// and keep the [`Spent`] count in the connection with the write that follows the call.
/// A platform without limits reads nothing.
pub fn take(
    documents: &dyn Documents,
    platform: &Platform,
    connection: &Connection,
    caller: Caller,
    now: SystemTime,
) -> Result<Result<Spent, Refusal>, StoreError> {
    let limits = Limits::of(platform);
    let calls = calls_today(connection, now);
    if limits.is_none() {
        return Ok(Ok(Spent {
            calls_today: calls.saturating_add(1),
            limit: None,
            budget_low: false,
            day: secs(now) / DAY_SECS,
        }));
    }
    let ledger = Ledger::parse(documents.read(LEDGER_DOCUMENT)?.as_deref());
    let set = ledger
        .overrides
        .get(&connection.client_id)
        .copied()
        .unwrap_or_default();
    let limits = Limits {
        calls_per_day: set.calls_per_day.or(limits.calls_per_day),
        ..limits
    };
    let reserve = set.reserve_percent.unwrap_or(DEFAULT_RESERVE_PERCENT);
    let app = app(&platform.id, &connection.client_id);
    Ok(ledger.decide(&app, limits, caller, reserve, calls, secs(now)))
}

/// Notes an error answer of `platform`'s token endpoint (HTTP 400/401/403/404) for the
/// app `client_id`, where the platform blocks apps after errors.
pub fn note_error(
    documents: &dyn Documents,
    platform: &Platform,
    client_id: &str,
    now: SystemTime,
) -> Result<(), StoreError> {
    if platform.token_errors_per_hour_block.is_none() {
        return Ok(());
    }
    let mut locked = documents.lock(LEDGER_DOCUMENT)?;
    let mut ledger = Ledger::parse(locked.read()?.as_deref());
    ledger.note_error(&app(&platform.id, client_id), secs(now));
    locked.write(&ledger.bytes())
}

/// Sets what `change` gives for the app `client_id` (calls a day instead of its
/// platform's budget, for an app the platform exempted; the reserve background work
/// leaves), keeping what it does not give, for every process using the store. Returns
/// the app's settings now.
pub fn set_for_app(
    documents: &dyn Documents,
    client_id: &str,
    change: AppSettings,
) -> Result<AppSettings, StoreError> {
    let mut locked = documents.lock(LEDGER_DOCUMENT)?;
    let mut ledger = Ledger::parse(locked.read()?.as_deref());
    let set = ledger.overrides.entry(client_id.to_string()).or_default();
    set.calls_per_day = change.calls_per_day.or(set.calls_per_day);
    set.reserve_percent = change.reserve_percent.or(set.reserve_percent);
    let now_set = *set;
    locked.write(&ledger.bytes())?;
    Ok(now_set)
}

/// One app, as [`usage`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppUsage {
    /// The platform id (empty for an override of an app that made no call today).
    pub platform: String,
    /// The client id.
    pub client_id: String,
    /// What a person set for the app.
    pub set: AppSettings,
    /// The most calls one connection of the app made today.
    pub most_calls_today: u32,
    /// How many connections of the app made calls today.
    pub connections_today: u32,
    /// Error answers within the last hour.
    pub errors_last_hour: u32,
}

/// What the ledger and `connections` (one listing of the store) hold at `now`: each app
/// whose connections made calls today or that had errors within the hour, and each app
/// with an override, by platform and client id.
pub fn usage<'a>(
    documents: &dyn Documents,
    connections: impl IntoIterator<Item = &'a Connection>,
    now: SystemTime,
) -> Result<Vec<AppUsage>, StoreError> {
    let mut ledger = Ledger::parse(documents.read(LEDGER_DOCUMENT)?.as_deref());
    ledger.prune(secs(now));
    let mut apps: BTreeMap<String, AppUsage> = BTreeMap::new();
    for connection in connections {
        let calls = calls_today(connection, now);
        if calls > 0 {
            let app = row(&mut apps, &app(&connection.platform, &connection.client_id));
            app.most_calls_today = app.most_calls_today.max(calls);
            app.connections_today += 1;
        }
    }
    for (key, times) in &ledger.errors {
        row(&mut apps, key).errors_last_hour = u32::try_from(times.len()).unwrap_or(u32::MAX);
    }
    for (client_id, set) in &ledger.overrides {
        let mut found = false;
        for app in apps.values_mut().filter(|a| &a.client_id == client_id) {
            app.set = *set;
            found = true;
        }
        if !found {
            row(&mut apps, &format!(" {client_id}")).set = *set;
        }
    }
    Ok(apps.into_values().collect())
}

/// The row of ledger key `key` (`<platform> <client id>`) in `apps`, made when new.
fn row<'a>(apps: &'a mut BTreeMap<String, AppUsage>, key: &str) -> &'a mut AppUsage {
    apps.entry(key.to_string()).or_insert_with(|| {
        let (platform, client_id) = key.split_once(' ').unwrap_or(("", key));
        AppUsage {
            platform: platform.to_string(),
            client_id: client_id.to_string(),
            set: AppSettings::default(),
            most_calls_today: 0,
            connections_today: 0,
            errors_last_hour: 0,
        }
    })
}

/// Whether an answer with HTTP `status` counts towards a platform's error block.
pub fn counts_as_error(status: u16) -> bool {
    matches!(status, 400 | 401 | 403 | 404)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOON: u64 = 20_000 * DAY_SECS + 12 * HOUR_SECS;

    fn exact() -> Limits {
        Limits {
            calls_per_day: Some(10),
            errors_per_hour_block: Some(10),
        }
    }

    /// Twelve calls of `caller` for one connection that made `made` today, each counted
    /// when allowed.
    fn calls(
        ledger: &Ledger,
        caller: Caller,
        made: &mut u32,
        at: u64,
    ) -> Vec<Result<Spent, Refusal>> {
        (0..12)
            .map(|_| {
                let decided = ledger.decide("exact a", exact(), caller, 20, *made, at);
                if let Ok(spent) = &decided {
                    *made = spent.calls_today;
                }
                decided
            })
            .collect()
    }

    #[test]
    fn background_work_leaves_the_reserve_and_says_so_once() {
        let ledger = Ledger::default();
        let mut made = 0;
        let taken = calls(&ledger, Caller::Background, &mut made, NOON);
        assert_eq!(taken.iter().filter(|t| t.is_ok()).count(), 8);
        let low: Vec<bool> = taken.iter().flatten().map(|s| s.budget_low).collect();
        assert_eq!(low.iter().filter(|l| **l).count(), 1, "{low:?}");
        assert!(low[7], "the 8th call reaches the reserve");
        let Err(refusal) = &taken[8] else {
            panic!("the 9th background call is refused")
        };
        assert_eq!(refusal.until(), time((NOON / DAY_SECS + 1) * DAY_SECS));
        let said = refusal.to_string();
        assert!(said.contains("8 of its 10"), "{said}");
        assert!(said.contains("leaves the last 2"), "{said}");
        // Interactive calls may use the reserve, no more.
        let interactive = calls(&ledger, Caller::Automatic, &mut made, NOON);
        assert_eq!(interactive.iter().filter(|t| t.is_ok()).count(), 2);
        // Another connection of the same app has its own budget.
        let mut other = 0;
        let taken = calls(&ledger, Caller::Background, &mut other, NOON);
        assert_eq!(taken.iter().filter(|t| t.is_ok()).count(), 8);
    }

    #[test]
    fn the_last_errors_before_the_block_are_kept_for_a_person() {
        let mut ledger = Ledger::default();
        for i in 0..7 {
            ledger.note_error("exact a", NOON + i);
        }
        let limits = Limits {
            calls_per_day: None,
            errors_per_hour_block: Some(10),
        };
        let decide =
            |ledger: &Ledger, app, caller, at| ledger.decide(app, limits, caller, 20, 0, at);
        assert!(decide(&ledger, "exact a", Caller::Automatic, NOON + 10).is_ok());
        ledger.note_error("exact a", NOON + 11);
        // 8 errors: automatic calls stop, a person may make the 9th error, not the 10th.
        let refused = decide(&ledger, "exact a", Caller::Automatic, NOON + 12);
        assert!(
            matches!(refused, Err(Refusal::Errors { errors: 8, until, .. }) if until == time(NOON + HOUR_SECS)),
            "{refused:?}"
        );
        assert!(decide(&ledger, "exact a", Caller::Person, NOON + 12).is_ok());
        ledger.note_error("exact a", NOON + 13);
        let refused = decide(&ledger, "exact a", Caller::Person, NOON + 14);
        assert!(
            matches!(refused, Err(Refusal::Errors { errors: 9, until, .. }) if until == time(NOON + HOUR_SECS)),
            "{refused:?}"
        );
        // An hour after the first errors, automatic calls go again; other apps never stopped.
        assert!(decide(&ledger, "exact a", Caller::Automatic, NOON + HOUR_SECS + 2).is_ok());
        assert!(decide(&ledger, "exact b", Caller::Automatic, NOON + 14).is_ok());
    }

    /// A settings folder's documents, and Exact with `calls` a day.
    fn folder_and_exact_with(
        calls: u32,
    ) -> (
        tempfile::TempDir,
        crate::documents::FolderDocuments,
        Platform,
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let docs = crate::documents::FolderDocuments::new(dir.path());
        let mut platform = Platform::exact_online();
        platform.token_calls_per_day = Some(calls);
        (dir, docs, platform)
    }

    /// A connection `name` of the app `client_id` on Exact.
    fn connection(name: &str, client_id: &str) -> Connection {
        Connection {
            name: name.into(),
            platform: "exact-online".into(),
            api_url: "http://127.0.0.1:1".into(),
            client_id: client_id.into(),
            client_secret: None,
            redirect_url: "http://127.0.0.1:1/cb".into(),
            tokens: None,
            extra: Vec::new(),
        }
    }

    /// Decides a call of `caller` for `connection` and keeps the count in it when
    /// allowed; whether it was.
    fn spend(
        docs: &dyn Documents,
        platform: &Platform,
        connection: &mut Connection,
        caller: Caller,
        at: SystemTime,
    ) -> bool {
        match take(docs, platform, connection, caller, at).expect("the ledger is read") {
            Ok(spent) => {
                spent.store_in(connection);
                true
            }
            Err(_) => false,
        }
    }

    #[test]
    fn a_connection_keeps_its_own_count_of_the_day_and_the_ledger_only_errors() {
        let (dir, docs, platform) = folder_and_exact_with(5);
        let at = time(NOON);
        let mut c = connection("c", "app");
        for _ in 0..4 {
            assert!(spend(&docs, &platform, &mut c, Caller::Background, at));
        }
        assert_eq!(calls_today(&c, at), 4);
        let kept = c
            .extra
            .iter()
            .find(|(k, _)| k == TOKEN_CALLS_KEY)
            .expect("kept");
        assert!(kept.1.ends_with(" 4") && kept.1.len() == 12, "{kept:?}");
        assert!(!spend(&docs, &platform, &mut c, Caller::Background, at));
        assert!(
            docs.read(LEDGER_DOCUMENT).expect("read").is_none(),
            "no call writes the ledger"
        );
        note_error(&docs, &platform, "app", at).expect("noted");
        let next_day = time(NOON + DAY_SECS + 2 * HOUR_SECS);
        assert_eq!(calls_today(&c, next_day), 0, "a new day starts anew");
        let spent = take(&docs, &platform, &c, Caller::Background, next_day)
            .expect("ledger")
            .expect("a new day");
        assert_eq!(spent.calls_today, 1);
        let text = String::from_utf8(docs.read(LEDGER_DOCUMENT).expect("read").expect("doc"))
            .expect("utf-8");
        assert!(text.contains("\"errors\":{\"exact-online app\""), "{text}");
        // A platform without limits reads nothing; garbage in the ledger or the count
        // starts anew.
        std::fs::write(dir.path().join(LEDGER_DOCUMENT), b"not json").expect("write");
        let generic = Platform::twinfield();
        assert!(spend(&docs, &generic, &mut c, Caller::Background, at));
        c.extra = vec![(TOKEN_CALLS_KEY.into(), "yesterday lots".into())];
        assert_eq!(calls_today(&c, at), 0);
        assert!(spend(&docs, &platform, &mut c, Caller::Background, at));
    }

    #[test]
    fn an_override_lets_an_exempted_app_make_more_calls_and_is_listed() {
        let (_dir, docs, platform) = folder_and_exact_with(2);
        let at = time(NOON);
        let calls = |n| AppSettings {
            calls_per_day: Some(n),
            reserve_percent: None,
        };
        set_for_app(&docs, "big", calls(10)).expect("set");
        set_for_app(&docs, "idle", calls(5)).expect("set");
        let (mut big, mut big2) = (connection("b1", "big"), connection("b2", "big"));
        for _ in 0..8 {
            assert!(spend(&docs, &platform, &mut big, Caller::Background, at));
        }
        assert!(
            !spend(&docs, &platform, &mut big, Caller::Background, at),
            "the reserve of the override is kept"
        );
        assert!(spend(&docs, &platform, &mut big2, Caller::Background, at));
        let mut small = connection("s", "small");
        assert!(spend(&docs, &platform, &mut small, Caller::Automatic, at));
        note_error(&docs, &platform, "small", at).expect("noted");
        let listed = usage(&docs, [&big, &big2, &small], at).expect("usage");
        let find = |id: &str| listed.iter().find(|a| a.client_id == id).expect(id);
        assert_eq!(find("big").set, calls(10));
        assert_eq!(find("big").most_calls_today, 8);
        assert_eq!(find("big").connections_today, 2);
        assert_eq!(find("big").platform, "exact-online");
        assert_eq!(find("small").set, AppSettings::default());
        assert_eq!(find("small").errors_last_hour, 1);
        assert_eq!(find("idle").platform, "");
        assert_eq!(listed.len(), 3, "{listed:?}");
        // A reserve of 50 %: background work may use 5 of the 10, 8 are used.
        let half = AppSettings {
            calls_per_day: None,
            reserve_percent: Some(50),
        };
        let now_set = set_for_app(&docs, "big", half).expect("set");
        assert_eq!(now_set.calls_per_day, Some(10), "kept");
        assert!(!spend(&docs, &platform, &mut big, Caller::Background, at));
        assert!(spend(&docs, &platform, &mut big, Caller::Automatic, at));
    }

    #[test]
    fn only_the_platforms_error_statuses_count() {
        for status in [400, 401, 403, 404] {
            assert!(counts_as_error(status));
        }
        for status in [200, 429, 500, 503] {
            assert!(!counts_as_error(status));
        }
    }
}
