//! Operations and audit: where the read models stand, and the raw log.

use async_graphql::{Context, Object, SimpleObject};

use crate::access::{self};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::schema::Api;

/// Where one read model stands.
#[derive(Debug, SimpleObject)]
pub(crate) struct ProjectionStatus {
    pub(crate) name: String,
    /// Every event up to this log position is in the read model.
    pub(crate) position: u64,
    /// Events behind the head of the log.
    pub(crate) lag: u64,
}

/// An event of the log, as stored.
#[derive(Debug, SimpleObject)]
pub(crate) struct LogEvent {
    pub(crate) position: u64,
    pub(crate) stream_id: String,
    pub(crate) stream_version: u64,
    pub(crate) event_id: String,
    pub(crate) event_type: String,
    pub(crate) schema_version: u32,
    /// The payload, JSON as stored.
    pub(crate) payload: String,
    pub(crate) metadata: String,
    pub(crate) occurred_at: String,
    pub(crate) recorded_at: String,
    /// SHA-256 chain link, hex.
    pub(crate) hash: String,
}

impl From<lectern_store::RecordedEvent> for LogEvent {
    fn from(e: lectern_store::RecordedEvent) -> LogEvent {
        LogEvent {
            position: e.position,
            stream_id: e.stream_id,
            stream_version: e.stream_version,
            event_id: e.event_id.to_string(),
            event_type: e.event_type,
            schema_version: e.schema_version,
            payload: e.payload,
            metadata: e.metadata,
            occurred_at: lectern_projections::timestamp(e.occurred_at),
            recorded_at: lectern_projections::timestamp(e.recorded_at),
            hash: e.hash.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

#[derive(Default)]
pub(crate) struct OpsQuery;

#[Object]
impl OpsQuery {
    /// The read models and their lag (administrators and auditors).
    async fn projections(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ProjectionStatus>> {
        let caller = access::caller(ctx)?;
        if !matches!(
            caller.principal,
            Principal::Administrator | Principal::Auditor
        ) {
            return Err(access::denied(caller, "read the projections' status").into());
        }
        let api = ctx.data_unchecked::<Api>();
        let status = api.projections.status().await.map_err(ApiError::from)?;
        Ok(status
            .into_iter()
            .map(|s| ProjectionStatus {
                name: s.name.to_owned(),
                position: s.position,
                lag: s.lag,
            })
            .collect())
    }

    /// Raw events after a position (auditors and administrators), at most
    /// `first` (≤ 100), optionally of one stream.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0)] after: u64,
        first: Option<i32>,
        stream: Option<String>,
    ) -> async_graphql::Result<Vec<LogEvent>> {
        let caller = access::caller(ctx)?;
        if !matches!(
            caller.principal,
            Principal::Administrator | Principal::Auditor
        ) {
            return Err(access::denied(caller, "read the raw event log").into());
        }
        let n = crate::page::page_size(first)?;
        let api = ctx.data_unchecked::<Api>();
        let events = match stream {
            Some(s) => api
                .store
                .read_stream(&s, 1, usize::MAX >> 1)
                .await
                .map_err(ApiError::from)?
                .into_iter()
                .filter(|e| e.position > after)
                .take(n)
                .collect(),
            None => api
                .store
                .read_all(after, n, None)
                .await
                .map_err(ApiError::from)?,
        };
        Ok(events.into_iter().map(LogEvent::from).collect())
    }
}
