//! Events the lifecycle emits to its [`EventSink`] (set once by whoever builds it): a
//! refresh failure recorded for good, a recovery from one, a connection created, a
//! connection's token calls of the day down to the reserve. Emitting is best effort and
//! never changes the outcome of the call that emits: the sink writes the outbox durably
//! before the call returns.

use std::sync::Arc;

use super::failure::RefreshFailure;
use super::handle::Lifecycle;
use crate::connection::Connection;
use crate::notify::{Event, EventSink, EventType};

impl Lifecycle {
    /// Sends the events of this lifecycle to `sink` from now on. Only the first sink set
    /// is used; returns whether this one was.
    pub fn set_event_sink(&self, sink: Arc<dyn EventSink>) -> bool {
        self.inner.sink.set(sink).is_ok()
    }

    /// Enqueues `event` with the sink (with `daily_key`, at most once a day per key), and
    /// waits until it is stored. Without a sink, nothing happens. Returns how many
    /// deliveries were enqueued.
    pub async fn emit(
        &self,
        event: Event,
        daily_key: Option<String>,
    ) -> Result<usize, crate::notify::NotifyError> {
        let Some(sink) = self.inner.sink.get().cloned() else {
            return Ok(0);
        };
        tokio::task::spawn_blocking(move || sink.emit(vec![(event, daily_key)]))
            .await
            .map_err(|e| crate::notify::NotifyError::Worker(e.to_string()))?
    }

    /// An event of `kind` about `connection` now, with `message` and `advice` codes.
    pub(super) async fn emit_about(
        &self,
        kind: EventType,
        connection: &Connection,
        state: &str,
        message: String,
        advice: Vec<String>,
    ) {
        self.emit_keyed(kind, connection, state, message, advice, None)
            .await;
    }

    /// An event of `kind` about `connection` now with `message`, said at most once a day
    /// per `daily_key`.
    pub(super) async fn emit_about_daily(
        &self,
        kind: EventType,
        connection: &Connection,
        state: &str,
        message: String,
        daily_key: String,
    ) {
        self.emit_keyed(
            kind,
            connection,
            state,
            message,
            Vec::new(),
            Some(daily_key),
        )
        .await;
    }

    async fn emit_keyed(
        &self,
        kind: EventType,
        connection: &Connection,
        state: &str,
        message: String,
        advice: Vec<String>,
        daily_key: Option<String>,
    ) {
        if self.inner.sink.get().is_none() {
            return;
        }
        let made = Event::new(
            kind,
            self.now(),
            &connection.name,
            &connection.platform,
            state,
            message,
        );
        if let Ok(event) = made {
            let _ = self.emit(event.with_advice(advice), daily_key).await;
        }
    }

    /// `refresh_failed`, when `record` is a failure no automatic try follows.
    pub(super) async fn emit_refresh_failed(
        &self,
        connection: &Connection,
        record: &RefreshFailure,
    ) {
        if record.kind.allows_automatic_try() {
            return;
        }
        let message = record.message.clone();
        self.emit_about(
            EventType::RefreshFailed,
            connection,
            "failed",
            message,
            record.advice.clone(),
        )
        .await;
    }

    /// `recovered`, when `before` held a failure no automatic try would have followed.
    pub(super) async fn emit_recovered(
        &self,
        before: Option<&RefreshFailure>,
        connection: &Connection,
    ) {
        if before.is_none_or(|f| f.kind.allows_automatic_try()) {
            return;
        }
        let message = format!(
            "connection '{}' has working tokens again after its refresh failed",
            connection.name
        );
        self.emit_about(EventType::Recovered, connection, "ok", message, Vec::new())
            .await;
    }

    /// `connection_created`, for a connection stored for the first time.
    pub(super) async fn emit_created(&self, connection: &Connection) {
        let message = format!("connection '{}' was stored", connection.name);
        self.emit_about(
            EventType::ConnectionCreated,
            connection,
            "ok",
            message,
            Vec::new(),
        )
        .await;
    }
}
