//! Sessions, rosters and attendance: read within the caller's scope,
//! managed by administrators and by the union chairs of the organising
//! unit; staff request leave for themselves.

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Datelike, Utc};
use lectern_domain::{
    Attendee, Audience, CheckInRules, Name, ProgrammeId, Schedule, Session, SessionCommand,
    SessionId, Slug, StaffNo, TimeWindow, UnitId, session_stream,
};
use lectern_projections::{Row, Val, load};
use uuid::Uuid;

use crate::access::{self, Scope};
use crate::api::Api;
use crate::auth::{Caller, Principal};
use crate::enums::{
    AttendanceStatus, LeaveStatus, SessionKind, SessionStatus, name_of, stored, stored_opt,
};
use crate::error::{ApiError, Result};
use crate::page::{Where, fetch_page};

/// A study session, lecture, class, competition, seminar or meeting.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Session")]
#[graphql(complex)]
pub(crate) struct SessionView {
    pub(crate) id: String,
    pub(crate) kind: SessionKind,
    pub(crate) title: String,
    pub(crate) programme: Option<String>,
    pub(crate) organiser: String,
    pub(crate) venue: String,
    pub(crate) starts_at: String,
    pub(crate) ends_at: String,
    pub(crate) status: SessionStatus,
    /// Who is expected, as JSON (`{"kind":"units","units":[..]}`,
    /// `{"kind":"cohort","programme":..}` or `{"kind":"open"}`).
    pub(crate) audience: String,
    pub(crate) present: i64,
    pub(crate) late: i64,
    pub(crate) excused: i64,
    pub(crate) absent: i64,
    /// Kiosks at the venue that, when the session closed, had taps
    /// waiting or had not been heard from since it began: taps they hold
    /// count when they arrive (empty while open, or when none was behind).
    pub(crate) kiosks_behind: Vec<KioskBehindView>,
}

/// A tap kept from a closed appraisal year (see `heldTaps`).
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct HeldTap {
    tap: String,
    session: String,
    title: String,
    starts_at: String,
    /// The card's holder.
    staff_no: Option<String>,
    /// When the kiosk read it (server time).
    read_at: String,
    /// Its `TapRejected` event's log position.
    position: i64,
}

/// A kiosk that may still hold a session's taps at its close.
#[derive(Debug, Clone, SimpleObject, serde::Deserialize)]
#[graphql(name = "KioskBehind")]
pub(crate) struct KioskBehindView {
    kiosk: String,
    /// Taps waiting in its queue at its last heartbeat.
    backlog: u64,
    /// Its last heartbeat (none: never heard from).
    last_heard: Option<DateTime<Utc>>,
}

const SELECT: &str = "SELECT id, kind, title, programme, organiser, venue, starts_at, ends_at, \
                      status, audience, present, late, excused, absent, kiosks_behind \
                      FROM rm_sessions";

impl SessionView {
    fn from_row(r: &Row) -> Result<SessionView> {
        Ok(SessionView {
            id: r.text("id"),
            kind: stored("session kind", r.get("kind"))?,
            title: r.text("title"),
            programme: r.opt("programme"),
            organiser: r.text("organiser"),
            venue: r.text("venue"),
            starts_at: r.text("starts_at"),
            ends_at: r.text("ends_at"),
            status: stored("session status", r.get("status"))?,
            audience: r.text("audience"),
            present: r.int("present"),
            late: r.int("late"),
            excused: r.int("excused"),
            absent: r.int("absent"),
            kiosks_behind: match r.opt("kiosks_behind") {
                Some(json) => serde_json::from_str(&json).map_err(|e| {
                    ApiError::internal(format!("rm_sessions holds bad kiosks_behind {json:?}: {e}"))
                })?,
                None => vec![],
            },
        })
    }

    pub(crate) async fn get(api: &Api, caller: &Caller, id: SessionId) -> Result<SessionView> {
        let mut filter = Where::default();
        filter.and("id = ?", [Val::from(id.to_string())]);
        scope_filter(&mut filter, caller);
        let rows = api
            .db()
            .fetch(&format!("{SELECT}{}", filter.sql()), &filter.args)
            .await?;
        match rows.first() {
            Some(r) => SessionView::from_row(r),
            None => {
                let exists = api
                    .db()
                    .fetch(
                        "SELECT 1 FROM rm_sessions WHERE id = $1",
                        &[Val::from(id.to_string())],
                    )
                    .await?;
                if exists.is_empty() {
                    Err(ApiError::not_found(format!("session {id} does not exist")))
                } else {
                    Err(access::denied(caller, &format!("read session {id}")))
                }
            }
        }
    }
}

/// Sessions a caller may read: all; those organised in a chair's subtree;
/// for staff, those organised by their unit or a unit above it, and those
/// that know of them.
fn scope_filter(filter: &mut Where, caller: &Caller) {
    match Scope::of(caller) {
        Scope::All => {}
        Scope::Subtree(unit) => filter.and(
            &format!("organiser IN ({})", lectern_projections::subtree_units("?")),
            [Scope::subtree_pattern(&unit)],
        ),
        Scope::Own(no) => filter.and(
            "((SELECT u.path FROM rm_units u JOIN rm_people p ON p.unit = u.id \
              WHERE p.staff_no = ?) LIKE '%/' || organiser || '/%' \
              OR id IN (SELECT session_id FROM rm_attendance WHERE staff_no = ?))",
            [Val::from(no.as_str()), Val::from(no.as_str())],
        ),
    }
}

/// One person on a session's roster.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct RosterEntry {
    pub(crate) session_id: String,
    pub(crate) staff_no: String,
    pub(crate) name: Option<String>,
    /// None while not checked in.
    pub(crate) status: Option<AttendanceStatus>,
    pub(crate) leave: Option<LeaveStatus>,
    pub(crate) seat: Option<String>,
    pub(crate) checked_in_at: Option<String>,
    /// How attendance was taken, as JSON (`{"by":"card",..}` or
    /// `{"by":"hand",..}`).
    pub(crate) method: Option<String>,
}

pub(crate) const ROSTER: &str = "SELECT a.staff_no, a.session_id, p.name, a.status, a.leave, a.seat, \
                      a.checked_in_at, a.method FROM rm_attendance a \
                      LEFT JOIN rm_people p ON p.staff_no = a.staff_no";

impl RosterEntry {
    pub(crate) fn from_row(r: &Row) -> Result<RosterEntry> {
        Ok(RosterEntry {
            staff_no: r.text("staff_no"),
            session_id: r.text("session_id"),
            name: r.opt("name"),
            status: stored_opt("attendance status", r.get("status"))?,
            leave: stored_opt("leave status", r.get("leave"))?,
            seat: r.opt("seat"),
            checked_in_at: r.opt("checked_in_at"),
            method: r.opt("method"),
        })
    }
}

#[ComplexObject]
impl SessionView {
    /// Everyone the session knows of (checked in, on leave, seated, marked
    /// absent), by staff number. Staff see their own entry only.
    #[graphql(complexity = "crate::page::cost(first, child_complexity)")]
    async fn roster(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, RosterEntry>> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let mut filter = Where::default();
        filter.and("a.session_id = ?", [Val::from(self.id.as_str())]);
        if let Scope::Own(no) = Scope::of(caller) {
            filter.and("a.staff_no = ?", [Val::from(no.as_str())]);
        }
        Ok(
            fetch_page(api.db(), ROSTER, "a.staff_no", filter, first, after, |r| {
                RosterEntry::from_row(r)
            })
            .await?,
        )
    }
}

#[derive(Default)]
pub(crate) struct SessionQuery;

#[Object]
impl SessionQuery {
    /// Sessions in the caller's scope by start time, filtered by organising
    /// unit (and the units below it), venue, kind, programme and a time
    /// range (`from` inclusive, `to` exclusive).
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::page::cost(first, child_complexity)")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        unit: Option<String>,
        venue: Option<String>,
        kind: Option<SessionKind>,
        programme: Option<String>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, SessionView>> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let mut filter = Where::default();
        scope_filter(&mut filter, caller);
        if let Some(u) = unit {
            filter.and(
                &format!("organiser IN ({})", lectern_projections::subtree_units("?")),
                [Scope::subtree_pattern(&UnitId::parse(&u)?)],
            );
        }
        if let Some(v) = venue {
            filter.and("venue = ?", [Val::from(Slug::parse(&v)?.as_str())]);
        }
        if let Some(k) = kind {
            filter.and("kind = ?", [Val::from(name_of(&k))]);
        }
        if let Some(p) = programme {
            filter.and("programme = ?", [Val::from(Slug::parse(&p)?.as_str())]);
        }
        if let Some(from) = from {
            filter.and("starts_at >= ?", [Val::from(from)]);
        }
        if let Some(to) = to {
            filter.and("starts_at < ?", [Val::from(to)]);
        }
        // The cursor is start time and id, so that sessions starting at the
        // same moment page stably.
        const KEY: &str = "starts_at || '|' || id";
        let page = fetch_page(api.db(), SELECT, KEY, filter, first, after, |r| {
            SessionView::from_row(r)
        })
        .await?;
        Ok(page)
    }

    async fn session(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<SessionView> {
        let caller = access::caller(ctx)?;
        Ok(SessionView::get(ctx.data_unchecked::<Api>(), caller, id).await?)
    }

    /// Taps read in time for sessions of a closed appraisal year that
    /// reached the server only after the year closed: recorded in the log,
    /// not applied to anyone's points (a dispute's resolution can), by
    /// session start (administrators and auditors).
    async fn held_taps(&self, ctx: &Context<'_>, year: i32) -> async_graphql::Result<Vec<HeldTap>> {
        let api = ctx.data_unchecked::<Api>();
        let period = lectern_domain::Period::year(year)?;
        let midnight = chrono::NaiveTime::MIN;
        let from = api.app.campus.at(period.from, midnight)?;
        let to = api
            .app
            .campus
            .at(period.until + chrono::Days::new(1), midnight)?;
        let rows = api
            .db()
            .fetch(
                "SELECT h.tap, h.session_id, s.title, s.starts_at, h.staff_no, h.read_at, \
                 h.position FROM rm_held_taps h JOIN rm_sessions s ON s.id = h.session_id \
                 WHERE s.starts_at >= $1 AND s.starts_at < $2 ORDER BY s.starts_at, h.position",
                &[Val::from(from), Val::from(to)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| HeldTap {
                tap: r.text("tap"),
                session: r.text("session_id"),
                title: r.text("title"),
                starts_at: r.text("starts_at"),
                staff_no: r.opt("staff_no"),
                read_at: r.text("read_at"),
                position: r.int("position"),
            })
            .collect())
    }

    /// A person's attendance, newest session first, within a time range.
    /// With `asOf`, each status, leave and check-in is replayed from the
    /// session's stream by the domain's fold (the session's description is
    /// as it is now); sessions the log did not hold then are left out.
    #[graphql(complexity = "crate::page::replay_cost(as_of.is_some(), child_complexity)")]
    async fn attendance(
        &self,
        ctx: &Context<'_>,
        staff_no: String,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        #[graphql(
            desc = "Replay the log as it stood at this moment: what was true then, \
                          with everything known now (events that occurred by then)."
        )]
        as_of: Option<DateTime<Utc>>,
        #[graphql(
            default = false,
            desc = "With asOf: what the system showed then instead (events recorded by then)."
        )]
        as_recorded: bool,
    ) -> async_graphql::Result<Vec<AttendanceView>> {
        let as_of = crate::appraisal::as_of(as_of, as_recorded)?;
        let api = ctx.data_unchecked::<Api>();
        // Reading the person checks that the caller may see their records.
        let person = crate::people::PersonView::seen(ctx, &staff_no).await?;
        let mut filter = Where::default();
        filter.and("a.staff_no = ?", [Val::from(person.staff_no.as_str())]);
        if let Some(from) = from {
            filter.and("a.starts_at >= ?", [Val::from(from)]);
        }
        if let Some(to) = to {
            filter.and("a.starts_at < ?", [Val::from(to)]);
        }
        let sql = format!(
            "SELECT s.id, s.kind, s.title, s.programme, s.organiser, s.venue, s.starts_at, \
             s.ends_at, s.status, s.audience, s.present, s.late, s.excused, s.absent, s.kiosks_behind, \
             a.status AS attendance_status, a.leave, a.checked_in_at FROM rm_attendance a \
             JOIN rm_sessions s ON s.id = a.session_id{} ORDER BY a.starts_at DESC LIMIT 1000",
            filter.sql()
        );
        let rows = api
            .db()
            .fetch(&sql, &filter.args)
            .await
            .map_err(ApiError::from)?;
        let mut records = rows
            .iter()
            .map(|r| {
                Ok(AttendanceView {
                    session: SessionView::from_row(r)?,
                    status: stored_opt("attendance status", r.get("attendance_status"))?,
                    leave: stored_opt("leave status", r.get("leave"))?,
                    checked_in_at: r.opt("checked_in_at"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if as_of == lectern_audit::replay::AsOf::Now {
            return Ok(records);
        }
        let person = StaffNo::parse(&person.staff_no)?;
        let ids = records
            .iter()
            .map(|a| Uuid::parse_str(&a.session.id))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(ApiError::internal)?;
        let _budget = api.replay_budget().await;
        let replayed =
            lectern_audit::replay::replay_attendance(&api.app.store, &person, &ids, as_of)
                .await
                .map_err(ApiError::internal)?;
        records.retain(|a| {
            replayed
                .iter()
                .any(|r| r.session.to_string() == a.session.id)
        });
        for (a, r) in records.iter_mut().zip(&replayed) {
            a.status = r.status.map(Into::into);
            a.leave = r.leave.map(Into::into);
            a.checked_in_at = r.checked_in_at.map(lectern_projections::timestamp);
        }
        Ok(records)
    }
}

/// One session of a person's attendance.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "AttendanceRecord")]
pub(crate) struct AttendanceView {
    pub(crate) session: SessionView,
    pub(crate) status: Option<AttendanceStatus>,
    pub(crate) leave: Option<LeaveStatus>,
    pub(crate) checked_in_at: Option<String>,
}

/// A new session.
#[derive(Debug, InputObject)]
pub(crate) struct ScheduleSessionInput {
    /// Chosen by the client, so that a retried request is recognised.
    pub(crate) id: Option<Uuid>,
    pub(crate) kind: SessionKind,
    pub(crate) title: String,
    pub(crate) programme: Option<String>,
    pub(crate) organiser: String,
    pub(crate) venue: String,
    pub(crate) starts_at: DateTime<Utc>,
    pub(crate) ends_at: DateTime<Utc>,
    /// Units whose people (and those of the units below) are expected.
    pub(crate) audience_units: Option<Vec<String>>,
    /// Or: the participants of this programme are expected.
    pub(crate) audience_cohort: Option<String>,
    pub(crate) check_in_opens_minutes_before: Option<u32>,
    pub(crate) grace_minutes: Option<u32>,
}

/// What a change to a session wrote, and the session after it.
#[derive(Debug, SimpleObject)]
pub(crate) struct SessionPayload {
    pub(crate) position: u64,
    pub(crate) session: SessionView,
}

#[derive(Default)]
pub(crate) struct SessionMutation;

/// The organiser of a stored session, and whether the caller manages it.
async fn check_manages(api: &Api, caller: &Caller, organiser: &str, what: &str) -> Result<()> {
    match &caller.principal {
        Principal::Administrator => Ok(()),
        Principal::UnionChair { unit } => {
            let org = crate::org::Unit::get(api, organiser).await?;
            if org.path.contains(&format!("/{unit}/")) {
                Ok(())
            } else {
                Err(access::denied(
                    caller,
                    &format!("{what} (organised by {organiser}, outside {unit})"),
                ))
            }
        }
        Principal::Auditor | Principal::Staff { .. } | Principal::Kiosk { .. } => {
            Err(access::denied(caller, what))
        }
    }
}

async fn organiser_of(api: &Api, id: SessionId) -> Result<String> {
    let rows = api
        .db()
        .fetch(
            "SELECT organiser FROM rm_sessions WHERE id = $1",
            &[Val::from(id.to_string())],
        )
        .await?;
    rows.first()
        .map(|r| r.text("organiser"))
        .ok_or_else(|| ApiError::not_found(format!("session {id} does not exist")))
}

/// Someone as the audience check needs them, from the read models (and
/// the programme's participants for a cohort session).
async fn attendee(api: &Api, session: &Session, no: &StaffNo) -> Result<Attendee> {
    match session.schedule.as_ref().map(|s| &s.audience) {
        Some(audience) => attendee_of(api, no, audience).await,
        None => attendee_of(api, no, &Audience::Open).await,
    }
}

/// Someone as a check against `audience` needs them.
pub(crate) async fn attendee_of(api: &Api, no: &StaffNo, audience: &Audience) -> Result<Attendee> {
    let rows = api
        .db()
        .fetch(
            "SELECT unit FROM rm_people WHERE staff_no = $1 AND left_on IS NULL",
            &[Val::from(no.as_str())],
        )
        .await?;
    let unit = rows
        .first()
        .map(|r| r.text("unit"))
        .ok_or_else(|| ApiError::not_found(format!("staff member {no} is not on the staff")))?;
    let mut programmes = Vec::new();
    let today = api.app.campus.date(api.app.clock.now());
    if let Audience::Cohort { programme } = audience
        && members_of(api, audience, today).await?.contains(no)
    {
        programmes.push(programme.clone());
    }
    Ok(Attendee {
        staff_no: no.clone(),
        unit: UnitId::parse(&unit)?,
        programmes,
    })
}

/// Everyone a session expects: the staff of its audience units on the
/// session's day (not on the day it is closed), or its programme's
/// participants.
async fn expected(api: &Api, session: &Session) -> Result<Vec<StaffNo>> {
    match &session.schedule {
        Some(schedule) => {
            let on = api.app.campus.date(schedule.window.start());
            members_of(api, &schedule.audience, on).await
        }
        None => Ok(vec![]),
    }
}

/// Everyone an audience names on `on`, as the write path reads it.
pub(crate) async fn members_of(
    api: &Api,
    audience: &Audience,
    on: chrono::NaiveDate,
) -> Result<Vec<StaffNo>> {
    Ok(lectern_app::members_of(&api.app.store, api.db(), audience, on).await?)
}

/// A union chair's sessions may expect only people of the chair's
/// subtree (closing one records them absent): units within it, or nobody
/// in particular (an open session). A wider audience, or a programme's
/// cohort, is an administrator's decision.
async fn chair_may_expect(api: &Api, caller: &Caller, audience: &Audience) -> Result<()> {
    let Principal::UnionChair { unit: own } = &caller.principal else {
        return Ok(());
    };
    match audience {
        Audience::Open => Ok(()),
        Audience::Cohort { programme } => Err(access::denied(
            caller,
            &format!(
                "schedule a session for programme {programme}'s cohort (it reaches beyond \
                 {own}; an administrator schedules it)"
            ),
        )),
        Audience::Units { units } => {
            for u in units {
                let unit = crate::org::Unit::get(api, u.as_str()).await?;
                if !Scope::Subtree(own.clone()).reaches(&unit.path) {
                    return Err(access::denied(
                        caller,
                        &format!(
                            "schedule a session expecting the staff of {u}, outside {own} \
                             (an administrator schedules it)"
                        ),
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Checks that the caller manages session `id`.
async fn manage<'a>(ctx: &Context<'a>, id: SessionId, what: &str) -> Result<(&'a Caller, &'a Api)> {
    let caller = access::caller(ctx)?;
    let api = ctx.data_unchecked::<Api>();
    let organiser = organiser_of(api, id).await?;
    check_manages(api, caller, &organiser, what).await?;
    Ok((caller, api))
}

/// Decides `command` on session `id` and returns the session after it.
async fn write(
    api: &Api,
    caller: &Caller,
    id: SessionId,
    command: SessionCommand,
) -> Result<SessionPayload> {
    let written = api
        .execute_with_org::<Session>(
            caller,
            &session_stream(id),
            |s, org| s.decide(&command, org),
            |_| vec![],
        )
        .await?;
    Ok(SessionPayload {
        position: written.position,
        session: SessionView::get(api, caller, id).await?,
    })
}

/// Refuses `what` at a session of a closed appraisal year.
async fn session_year_open(api: &Api, session: &Session, what: &str) -> Result<()> {
    match &session.schedule {
        Some(s) => {
            let year = api.app.campus.date(s.window.start()).year();
            crate::appraisal::year_open(api, year, what).await
        }
        None => Ok(()),
    }
}

async fn current(api: &Api, id: SessionId) -> Result<Session> {
    Ok(
        load::<Session>(&api.app.store, &session_stream(id), u64::MAX)
            .await?
            .0,
    )
}

#[Object]
impl SessionMutation {
    /// Schedules a session. Union chairs schedule sessions organised by,
    /// and expecting only the staff of, units in their subtree (or open to
    /// all, expecting nobody).
    async fn schedule_session(
        &self,
        ctx: &Context<'_>,
        input: ScheduleSessionInput,
    ) -> async_graphql::Result<SessionPayload> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let organiser = UnitId::parse(&input.organiser)?;
        check_manages(api, caller, organiser.as_str(), "schedule sessions").await?;
        let audience = match (&input.audience_units, &input.audience_cohort) {
            (Some(_), Some(_)) => {
                return Err(
                    ApiError::bad_input("give audienceUnits or audienceCohort, not both").into(),
                );
            }
            (Some(units), None) => Audience::Units {
                units: units
                    .iter()
                    .map(|u| UnitId::parse(u))
                    .collect::<Result<_, _>>()?,
            },
            (None, Some(p)) => Audience::Cohort {
                programme: ProgrammeId::parse(p)?,
            },
            (None, None) => Audience::Open,
        };
        chair_may_expect(api, caller, &audience).await?;
        let defaults = CheckInRules::default();
        let id = input.id.unwrap_or_else(Uuid::now_v7);
        let schedule = Schedule {
            id,
            kind: input.kind.into(),
            title: Name::parse(&input.title)?,
            programme: input
                .programme
                .as_deref()
                .map(ProgrammeId::parse)
                .transpose()?,
            organiser,
            venue: Slug::parse(&input.venue)?,
            window: TimeWindow::new(input.starts_at, input.ends_at)?,
            check_in: CheckInRules {
                opens_minutes_before: input
                    .check_in_opens_minutes_before
                    .unwrap_or(defaults.opens_minutes_before),
                grace_minutes: input.grace_minutes.unwrap_or(defaults.grace_minutes),
            },
            audience,
            speakers: vec![],
            series: None,
        };
        Ok(write(api, caller, id, SessionCommand::Schedule(schedule)).await?)
    }

    async fn cancel_session(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        reason: String,
    ) -> async_graphql::Result<SessionPayload> {
        let (caller, api) = manage(ctx, id, "cancel this session").await?;
        Ok(write(api, caller, id, SessionCommand::Cancel { reason }).await?)
    }

    async fn reschedule_session(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        venue: String,
    ) -> async_graphql::Result<SessionPayload> {
        let (caller, api) = manage(ctx, id, "reschedule this session").await?;
        let command = SessionCommand::Reschedule {
            window: TimeWindow::new(starts_at, ends_at)?,
            venue: Slug::parse(&venue)?,
        };
        Ok(write(api, caller, id, command).await?)
    }

    async fn assign_seat(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        staff_no: String,
        seat: String,
    ) -> async_graphql::Result<SessionPayload> {
        let (caller, api) = manage(ctx, id, "assign seats at this session").await?;
        let command = SessionCommand::AssignSeat {
            person: StaffNo::parse(&staff_no)?,
            seat,
        };
        Ok(write(api, caller, id, command).await?)
    }

    /// Marks a person present (or late) by hand, for a forgotten card; the
    /// marker is the token's person. `at` is the arrival the marker claims
    /// (now by default), recorded as theirs: it must lie in the check-in
    /// window and not after the server's time.
    async fn mark_by_hand(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        staff_no: String,
        at: Option<DateTime<Utc>>,
    ) -> async_graphql::Result<SessionPayload> {
        let (caller, api) = manage(ctx, id, "take attendance at this session").await?;
        let marker = access::acting_person(caller)?;
        let session = current(api, id).await?;
        session_year_open(api, &session, "a hand mark").await?;
        let person = attendee(api, &session, &StaffNo::parse(&staff_no)?).await?;
        let command = SessionCommand::MarkByHand {
            person,
            marker,
            at: at.unwrap_or_else(|| api.app.clock.now()),
            now: api.app.clock.now(),
        };
        Ok(write(api, caller, id, command).await?)
    }

    /// Requests leave from a session before it starts: staff for
    /// themselves, chairs and administrators for anyone they manage.
    async fn request_leave(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        staff_no: Option<String>,
        reason: String,
    ) -> async_graphql::Result<SessionPayload> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let person = match (&caller.principal, staff_no) {
            (Principal::Auditor | Principal::Kiosk { .. }, _) => {
                return Err(access::denied(caller, "request leave").into());
            }
            (Principal::Staff { person }, None) => person.clone(),
            (Principal::Staff { person }, Some(no)) => {
                let no = StaffNo::parse(&no)?;
                if &no != person {
                    return Err(access::denied(caller, &format!("request leave for {no}")).into());
                }
                no
            }
            (_, Some(no)) => {
                let organiser = organiser_of(api, id).await?;
                check_manages(api, caller, &organiser, "request leave at this session").await?;
                StaffNo::parse(&no)?
            }
            (_, None) => access::acting_person(caller)?,
        };
        let command = SessionCommand::RequestLeave {
            person,
            reason,
            at: api.app.clock.now(),
        };
        Ok(write(api, caller, id, command).await?)
    }

    async fn approve_leave(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        staff_no: String,
    ) -> async_graphql::Result<SessionPayload> {
        let (caller, api) = manage(ctx, id, "decide leave at this session").await?;
        let command = SessionCommand::ApproveLeave {
            person: StaffNo::parse(&staff_no)?,
            approver: access::acting_person(caller)?,
        };
        Ok(write(api, caller, id, command).await?)
    }

    async fn reject_leave(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        staff_no: String,
        reason: String,
    ) -> async_graphql::Result<SessionPayload> {
        let (caller, api) = manage(ctx, id, "decide leave at this session").await?;
        let command = SessionCommand::RejectLeave {
            person: StaffNo::parse(&staff_no)?,
            approver: access::acting_person(caller)?,
            reason,
        };
        Ok(write(api, caller, id, command).await?)
    }

    /// Closes a session once it has ended on the server's clock: everyone
    /// expected who neither came nor had leave approved is recorded absent.
    /// Kiosks at the venue with taps waiting, or not heard from since the
    /// session began, are recorded with the close (`kiosksBehind`): the
    /// close goes ahead, and their taps read in time count when they
    /// arrive, replacing the absence.
    async fn close_session(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
    ) -> async_graphql::Result<SessionPayload> {
        let (caller, api) = manage(ctx, id, "close this session").await?;
        let session = current(api, id).await?;
        session_year_open(api, &session, "closing this session").await?;
        let kiosks_behind = match &session.schedule {
            Some(s) => lectern_app::kiosks::behind_at(api.db(), &s.venue, s.window.start()).await?,
            None => vec![],
        };
        let command = SessionCommand::Close {
            at: api.app.clock.now(),
            audience: expected(api, &session).await?,
            kiosks_behind,
        };
        Ok(write(api, caller, id, command).await?)
    }

    /// Corrects a person's attendance (the latest correction wins); the
    /// corrector is the token's person.
    async fn correct_attendance(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        staff_no: String,
        to: AttendanceStatus,
        reason: String,
    ) -> async_graphql::Result<SessionPayload> {
        let (caller, api) = manage(ctx, id, "correct attendance at this session").await?;
        session_year_open(api, &current(api, id).await?, "a correction").await?;
        let command = SessionCommand::Correct {
            person: StaffNo::parse(&staff_no)?,
            to: to.into(),
            reason,
            corrector: access::acting_person(caller)?,
            dispute: None,
        };
        Ok(write(api, caller, id, command).await?)
    }
}
