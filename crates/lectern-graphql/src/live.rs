//! Subscriptions: a session's live attendance, and the event feed from a
//! position (auditors and integrations). Both follow the store's
//! subscription, so they see commits of every process sharing the log.

use async_graphql::{Context, Subscription};
use futures_util::Stream;
use lectern_domain::session_stream;
use lectern_projections::Val;
use uuid::Uuid;

use crate::access;
use crate::api::Api;
use crate::auth::Principal;
use crate::ops::LogEvent;
use crate::sessions::{RosterEntry, SessionView};
use lectern_app::settle;

/// Session events that change someone's line on the roster.
const ROSTER_EVENTS: &[&str] = &[
    "AttendanceRecorded",
    "AttendanceCorrected",
    "AbsenceRecorded",
    "LeaveRequested",
    "LeaveApproved",
    "LeaveRejected",
    "SeatAssigned",
];

#[derive(Default)]
pub(crate) struct LiveSubscription;

#[Subscription]
impl LiveSubscription {
    /// Each change to a session's roster (a check-in, leave, an absence,
    /// a correction), as the roster line after it: from now on, or after a
    /// log position (to resume without a gap).
    async fn session_attendance(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        after: Option<u64>,
    ) -> async_graphql::Result<impl Stream<Item = RosterEntry> + use<>> {
        let caller = access::caller(ctx)?.clone();
        let api = ctx.data_unchecked::<Api>().clone();
        // Reading the session checks the caller may see it.
        SessionView::get(&api, &caller, id).await?;
        let own = match &caller.principal {
            Principal::Staff { person } => Some(person.as_str().to_owned()),
            _ => None,
        };
        let head = match after {
            Some(p) => p,
            None => api
                .app
                .store
                .head()
                .await
                .map_err(crate::error::ApiError::from)?,
        };
        let types = ROSTER_EVENTS.iter().map(|t| (*t).to_owned()).collect();
        let sub = api.app.store.subscribe(head, Some(types));
        let stream = session_stream(id);
        Ok(futures_util::stream::unfold(
            (sub, api, stream, own),
            move |(mut sub, api, stream, own)| async move {
                loop {
                    let event = sub.next().await.ok()?;
                    if event.stream_id != stream {
                        continue;
                    }
                    let person = serde_json::from_str::<serde_json::Value>(&event.payload)
                        .ok()?
                        .get("person")?
                        .as_str()?
                        .to_owned();
                    if own.as_ref().is_some_and(|o| *o != person) {
                        continue;
                    }
                    settle(&api.app.projections, event.position).await.ok()?;
                    let rows = api
                        .db()
                        .fetch(
                            &format!(
                                "{} WHERE a.session_id = $1 AND a.staff_no = $2",
                                crate::sessions::ROSTER
                            ),
                            &[Val::from(id.to_string()), Val::from(person.as_str())],
                        )
                        .await
                        .ok()?;
                    if let Some(r) = rows.first() {
                        debug_assert_eq!(r.text("staff_no"), person);
                        let entry = RosterEntry::from_row(r).ok()?;
                        return Some((entry, (sub, api, stream, own)));
                    }
                }
            },
        ))
    }

    /// Every event after `after`, in log order, then live (administrators
    /// and auditors).
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 0)] after: u64,
    ) -> async_graphql::Result<impl Stream<Item = LogEvent> + use<>> {
        let api = ctx.data_unchecked::<Api>();
        let sub = api.app.store.subscribe(after, None);
        Ok(futures_util::stream::unfold(sub, |mut sub| async move {
            let e = sub.next().await.ok()?;
            Some((LogEvent::from(e), sub))
        }))
    }
}
