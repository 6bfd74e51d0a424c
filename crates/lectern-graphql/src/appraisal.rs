//! Appraisal and disputes: scoring rules, adjustments and year closes
//! (administrators); a person's or a unit's appraisal for a year or a
//! month, with one explanation line per point, computed by the domain's
//! folds over the streams it needs; disputes filed by staff about lines and
//! assigned to auditors. With `asOf`, an appraisal is replayed from the log
//! (`lectern_audit::replay`); a line's `taps` are the raw card taps behind
//! it.

use std::collections::BTreeMap;

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::NaiveDate;
use lectern_domain::{
    APPRAISAL_STREAM, Appraisal, AppraisalCommand, AppraisalEvent, Period, RuleBook, ScoringRules,
    StaffNo, UnitId, appraise_entries,
};
use lectern_projections::{decode, load, person_entries};

use lectern_audit::replay::{AsOf, replay_person, replay_unit};

use crate::access::{self, Scope};
use crate::api::Api;
use crate::auth::Principal;
use crate::enums::{AwardLevel, PointRule, name_of, named};
use crate::error::{ApiError, Code, Result};

/// One point gained or lost, and why.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub(crate) struct LineView {
    pub(crate) points: i32,
    pub(crate) rule: PointRule,
    /// The scoring rules' version applied (none for an adjustment).
    pub(crate) rule_version: Option<u32>,
    pub(crate) date: NaiveDate,
    /// The session, task, award or reason the line is about.
    pub(crate) subject: String,
    /// Log positions of the events behind the line.
    pub(crate) positions: Vec<u64>,
}

/// A card tap as the kiosk recorded and signed it: the raw evidence behind
/// an attendance line.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct CardTapView {
    /// The log position of the `CardTapped` event.
    pub(crate) position: u64,
    pub(crate) kiosk: String,
    pub(crate) venue: String,
    /// The card UID: whole for administrators, its last four digits for
    /// everyone else (the signature covers the whole UID).
    pub(crate) card: String,
    /// The kiosk's clock when the card was read.
    pub(crate) kiosk_time: String,
    /// The kiosk's tap counter.
    pub(crate) counter: u64,
    /// The kiosk's Ed25519 signature over the tap (hex).
    pub(crate) signature: String,
    /// When the server recorded it.
    pub(crate) recorded_at: String,
}

#[async_graphql::ComplexObject]
impl LineView {
    /// The card taps behind the line (for attendance taken by card): the
    /// raw `CardTapped` events with the kiosk, its counter and signature.
    async fn taps(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CardTapView>> {
        use lectern_domain::{KioskEvent, Method, SessionEvent};
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let mut ids = Vec::new();
        for &position in &self.positions {
            let events = api
                .app
                .store
                .read_all(position.saturating_sub(1), 1, None)
                .await
                .map_err(ApiError::from)?;
            for e in events
                .iter()
                .filter(|e| e.event_type == "AttendanceRecorded")
            {
                if let Ok(SessionEvent::AttendanceRecorded {
                    method: Method::Card { tap, .. },
                    ..
                }) = decode::<SessionEvent>(e)
                {
                    ids.push(tap);
                }
            }
        }
        let taps = api.app.store.read_ids(&ids).await.map_err(ApiError::from)?;
        Ok(taps
            .iter()
            .filter_map(|e| match decode::<KioskEvent>(e) {
                Ok(KioskEvent::CardTapped {
                    venue,
                    card,
                    kiosk_time,
                    counter,
                    signature,
                    ..
                }) => Some(CardTapView {
                    position: e.position,
                    kiosk: e
                        .stream_id
                        .strip_prefix("kiosk-")
                        .unwrap_or(&e.stream_id)
                        .to_owned(),
                    venue: venue.as_str().to_owned(),
                    card: match caller.principal {
                        Principal::Administrator => card.as_str().to_owned(),
                        _ => card.masked(),
                    },
                    kiosk_time: lectern_projections::timestamp(kiosk_time),
                    counter,
                    signature,
                    recorded_at: lectern_projections::timestamp(e.recorded_at),
                }),
                _ => None,
            })
            .collect())
    }
}

#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct AppraisalView {
    /// The staff number or unit id appraised.
    pub(crate) subject: String,
    pub(crate) from: NaiveDate,
    pub(crate) until: NaiveDate,
    /// The sum of the lines.
    pub(crate) total: i32,
    pub(crate) lines: Vec<LineView>,
}

impl AppraisalView {
    fn new(a: Appraisal, period: &Period) -> Result<AppraisalView> {
        Ok(AppraisalView {
            subject: a.subject,
            from: period.from,
            until: period.until,
            total: a.total,
            lines: a
                .lines
                .into_iter()
                .map(|l| {
                    Ok(LineView {
                        points: l.points,
                        rule: named("appraisal rule", l.rule)?,
                        rule_version: l.rule_version,
                        date: l.date,
                        subject: l.subject,
                        positions: l.positions,
                    })
                })
                .collect::<Result<_>>()?,
        })
    }
}

/// A payload with every card UID (`uid`, `card`) masked but its last four
/// digits.
pub(crate) fn mask_cards(payload: &str) -> String {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    match v {
                        serde_json::Value::String(uid) if k == "uid" || k == "card" => {
                            if let Ok(c) = lectern_domain::CardUid::parse(uid) {
                                *uid = c.masked();
                            }
                        }
                        other => walk(other),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    match serde_json::from_str::<serde_json::Value>(payload) {
        Ok(mut v) => {
            walk(&mut v);
            v.to_string()
        }
        Err(_) => payload.to_owned(),
    }
}

/// The cut-off `asOf` and `asRecorded` ask for.
pub(crate) fn as_of(
    at: Option<chrono::DateTime<chrono::Utc>>,
    as_recorded: bool,
) -> Result<lectern_audit::replay::AsOf> {
    use lectern_audit::replay::AsOf;
    match (at, as_recorded) {
        (None, true) => Err(ApiError::bad_input(
            "asRecorded needs asOf: the moment to replay",
        )),
        (None, false) => Ok(AsOf::Now),
        (Some(t), false) => Ok(AsOf::Occurred(t)),
        (Some(t), true) => Ok(AsOf::Recorded(t)),
    }
}

pub(crate) fn period(year: i32, month: Option<u32>) -> Result<Period> {
    Ok(match month {
        Some(m) => Period::month(year, m)?,
        None => Period::year(year)?,
    })
}

/// A person's appraisal: the domain's `appraise_entries` over the
/// appraisal stream and the person's ledger entries from the read models
/// (`lectern_projections::person_entries`), which equal the entries the
/// domain's fold over every stream finds (a test checks this).
pub(crate) async fn appraise(api: &Api, person: &StaffNo, period: &Period) -> Result<Appraisal> {
    let appraisal = api
        .appraisal_log
        .read(&api.app.store, api.app.projections.position())
        .await?;
    let entries = person_entries(api.db(), &api.app.campus, person, period).await?;
    Ok(appraise_entries(person, period, &appraisal, &entries)?)
}

#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct RulesView {
    pub(crate) version: u32,
    pub(crate) effective_from: NaiveDate,
    pub(crate) base_points: i32,
    pub(crate) per_absence: i32,
    pub(crate) per_late: i32,
    pub(crate) per_missed_task: i32,
    pub(crate) per_late_report: i32,
    pub(crate) report_due_day: u32,
    /// Points an individual award adds, by level (JSON).
    pub(crate) award_bonus: String,
    /// Points a unit loses per absence of one of its people.
    pub(crate) unit_per_member_absence: i32,
    /// Points a unit loses per study task one of its people missed.
    pub(crate) unit_per_member_missed_task: i32,
    /// Points a unit loses per monthly report never submitted.
    pub(crate) per_missing_report: i32,
    /// Points a collective award adds to its unit, by level (JSON).
    pub(crate) unit_award_bonus: String,
}

/// What closing a year recorded, beside what the log gives now.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct YearEndRecord {
    pub(crate) year: i32,
    /// Whether the year was closed (`closeAppraisalYear`); when not, there
    /// is no record yet and `people` is empty.
    pub(crate) closed: bool,
    pub(crate) people: Vec<YearEndLine>,
    /// The units' recorded and live totals, within the caller's scope
    /// (administrators and auditors: all; a union chair: their subtree;
    /// staff: none), by unit id.
    pub(crate) units: Vec<YearEndLine>,
}

/// One person's (or unit's) recorded total and live total for a closed
/// year.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct YearEndLine {
    /// The staff number, or the unit's id.
    pub(crate) staff_no: String,
    pub(crate) name: String,
    /// The total recorded when the year closed.
    pub(crate) recorded: i32,
    /// The total the log gives now (a dispute's resolution moves it).
    pub(crate) live: i32,
}

#[derive(Default)]
pub(crate) struct AppraisalQuery;

#[Object]
impl AppraisalQuery {
    /// What `closeAppraisalYear` recorded for each person, beside the live
    /// total, within the caller's scope (staff: their own line), by staff
    /// number: where a dispute starts.
    #[graphql(complexity = "crate::page::REPLAY_COST + child_complexity")]
    async fn year_end_record(
        &self,
        ctx: &Context<'_>,
        year: i32,
    ) -> async_graphql::Result<YearEndRecord> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let period = Period::year(year)?;
        let appraisal = api
            .appraisal_log
            .read(&api.app.store, api.app.projections.position())
            .await?;
        let recorded = appraisal.iter().find_map(|p| match &p.event {
            AppraisalEvent::AppraisalPeriodClosed {
                year: y,
                results,
                units,
            } if *y == year => Some((results.clone(), units.clone())),
            _ => None,
        });
        let Some((recorded, recorded_units)) = recorded else {
            return Ok(YearEndRecord {
                year,
                closed: false,
                people: vec![],
                units: vec![],
            });
        };
        // The people the caller may see, with their names.
        let mut filter = crate::page::Where::default();
        crate::people::scope_filter(&mut filter, caller, "read the year-end record")?;
        let rows = api
            .db()
            .fetch(
                &format!("SELECT staff_no, name FROM rm_people{}", filter.sql()),
                &filter.args,
            )
            .await
            .map_err(ApiError::from)?;
        let names: BTreeMap<String, String> = rows
            .iter()
            .map(|r| (r.text("staff_no"), r.text("name")))
            .collect();
        let mut people = Vec::new();
        for (no, total) in &recorded {
            let Some(name) = names.get(no.as_str()) else {
                continue;
            };
            people.push(YearEndLine {
                staff_no: no.as_str().to_owned(),
                name: name.clone(),
                recorded: *total,
                live: appraise(api, no, &period).await?.total,
            });
        }
        // The units the caller may see: their recorded totals beside what
        // the log gives now, on the server's date.
        let today = api.app.campus.date(api.app.clock.now());
        let scope = Scope::of(caller);
        let mut units = Vec::new();
        let _budget = api.replay_budget().await;
        for (unit, total) in &recorded_units {
            let Ok(u) = crate::org::Unit::get(api, unit.as_str()).await else {
                continue;
            };
            if !scope.reaches(&u.path) {
                continue;
            }
            let live = replay_unit(
                &api.app.store,
                api.db(),
                &api.app.campus,
                unit,
                &period,
                AsOf::Now,
                today,
            )
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
            units.push(YearEndLine {
                staff_no: unit.as_str().to_owned(),
                name: u.name.clone(),
                recorded: *total,
                live: live.total,
            });
        }
        Ok(YearEndRecord {
            year,
            closed: true,
            people,
            units,
        })
    }

    /// A person's appraisal for a year (with the base points) or a month
    /// (gains and losses only), one line per point.
    #[graphql(complexity = "crate::page::replay_cost(at.is_some(), child_complexity)")]
    async fn appraisal(
        &self,
        ctx: &Context<'_>,
        staff_no: String,
        year: i32,
        month: Option<u32>,
        #[graphql(
            name = "asOf",
            desc = "Replay the log as it stood at this moment (by the domain's folds over \
                    the streams, not the read models): what was true then, with everything \
                    known now (events that occurred by then)."
        )]
        at: Option<chrono::DateTime<chrono::Utc>>,
        #[graphql(
            default = false,
            desc = "With asOf: what the system showed then instead (events the log had \
                    recorded by then; a later kiosk sync or correction is left out)."
        )]
        as_recorded: bool,
    ) -> async_graphql::Result<AppraisalView> {
        let api = ctx.data_unchecked::<Api>();
        let person = crate::people::PersonView::seen(ctx, &staff_no).await?;
        let no = StaffNo::parse(&person.staff_no)?;
        let period = period(year, month)?;
        let appraisal = match as_of(at, as_recorded)? {
            AsOf::Now => appraise(api, &no, &period).await?,
            cut => {
                let _budget = api.replay_budget().await;
                replay_person(&api.app.store, api.db(), &api.app.campus, &no, &period, cut)
                    .await
                    .map_err(|e| ApiError::internal(e.to_string()))?
            }
        };
        Ok(AppraisalView::new(appraisal, &period)?)
    }

    /// The events of a person's record for a year, in log order: their own
    /// stream (registration, transfers, cards, roles) and, from the streams
    /// their appraisal is folded from, the events about them or about no
    /// one in particular (a session's schedule, the scoring rules). Card
    /// UIDs are masked except for administrators.
    #[graphql(complexity = "crate::page::REPLAY_COST + child_complexity")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        staff_no: String,
        year: i32,
        #[graphql(
            name = "asOf",
            desc = "Replay the log as it stood at this moment (see `appraisal`)."
        )]
        at: Option<chrono::DateTime<chrono::Utc>>,
        #[graphql(
            default = false,
            desc = "With asOf: what the system showed then (events recorded by then)."
        )]
        as_recorded: bool,
    ) -> async_graphql::Result<Vec<crate::ops::LogEvent>> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let person = crate::people::PersonView::seen(ctx, &staff_no).await?;
        let no = StaffNo::parse(&person.staff_no)?;
        let _budget = api.replay_budget().await;
        let events = lectern_audit::replay::replay_history(
            &api.app.store,
            api.db(),
            &api.app.campus,
            &no,
            &Period::year(year)?,
            as_of(at, as_recorded)?,
        )
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
        let admin = matches!(caller.principal, Principal::Administrator);
        Ok(events
            .into_iter()
            .map(|mut e| {
                if !admin {
                    e.payload = mask_cards(&e.payload);
                }
                e.into()
            })
            .collect())
    }

    /// A unit's appraisal (the seed's rule for a 科室): base points, less
    /// each monthly report submitted late or never submitted by a past due
    /// day, less each absence and missed study task of its people (the
    /// unit and the units below it, on the day), plus collective awards;
    /// each line under the scoring rules in force on its date.
    #[graphql(complexity = "crate::page::replay_cost(at.is_some(), child_complexity)")]
    async fn unit_appraisal(
        &self,
        ctx: &Context<'_>,
        unit: String,
        year: i32,
        month: Option<u32>,
        #[graphql(
            name = "asOf",
            desc = "Replay the log as it stood at this moment (see `appraisal`)."
        )]
        at: Option<chrono::DateTime<chrono::Utc>>,
        #[graphql(
            default = false,
            desc = "With asOf: what the system showed then (events recorded by then)."
        )]
        as_recorded: bool,
    ) -> async_graphql::Result<AppraisalView> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let unit = UnitId::parse(&unit)?;
        let u = crate::org::Unit::get(api, unit.as_str()).await?;
        if !Scope::of(caller).reaches(&u.path) {
            return Err(access::denied(caller, &format!("read the appraisal of {unit}")).into());
        }
        let period = period(year, month)?;
        // A unit's appraisal is folded from its monthly streams and its
        // people's appraisals; a report's due day is judged on the
        // server's date (or the moment replayed, if earlier).
        let as_of = as_of(at, as_recorded)?;
        let now = api.app.clock.now();
        let today = api.app.campus.date(at.map_or(now, |t| t.min(now)));
        let _budget = api.replay_budget().await;
        let appraisal = replay_unit(
            &api.app.store,
            api.db(),
            &api.app.campus,
            &unit,
            &period,
            as_of,
            today,
        )
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(AppraisalView::new(appraisal, &period)?)
    }

    /// The scoring rules, every version.
    async fn scoring_rules(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RulesView>> {
        access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let book = load::<RuleBook>(&api.app.store, APPRAISAL_STREAM, u64::MAX)
            .await
            .map_err(ApiError::from)?
            .0;
        Ok(book
            .rules
            .iter()
            .map(|r| RulesView {
                version: r.version,
                effective_from: r.effective_from,
                base_points: r.base_points,
                per_absence: r.per_absence,
                per_late: r.per_late,
                per_missed_task: r.per_missed_task,
                per_late_report: r.per_late_report,
                report_due_day: r.report_due_day,
                award_bonus: name_of(&r.award_bonus),
                unit_per_member_absence: r.unit.per_member_absence,
                unit_per_member_missed_task: r.unit.per_member_missed_task,
                per_missing_report: r.unit.per_missing_report,
                unit_award_bonus: name_of(&r.unit.award_bonus),
            })
            .collect())
    }
}

/// A version of the scoring rules.
#[derive(Debug, InputObject)]
pub(crate) struct ScoringRulesInput {
    pub(crate) version: u32,
    pub(crate) effective_from: NaiveDate,
    pub(crate) base_points: i32,
    pub(crate) per_absence: i32,
    pub(crate) per_late: i32,
    pub(crate) per_missed_task: i32,
    pub(crate) per_late_report: i32,
    pub(crate) report_due_day: u32,
    /// Points an individual award adds at each level.
    pub(crate) award_bonus: Vec<AwardBonusInput>,
    /// Points a unit loses for each absence of one of its people (the unit
    /// and the units below it, on the day).
    #[graphql(default)]
    pub(crate) unit_per_member_absence: i32,
    /// Points a unit loses for each study task one of its people missed.
    #[graphql(default)]
    pub(crate) unit_per_member_missed_task: i32,
    /// Points a unit loses for a monthly report never submitted, once its
    /// due day has passed.
    #[graphql(default)]
    pub(crate) per_missing_report: i32,
    /// Points a collective award adds to its unit at each level.
    #[graphql(default)]
    pub(crate) unit_award_bonus: Vec<AwardBonusInput>,
}

#[derive(Debug, InputObject)]
pub(crate) struct AwardBonusInput {
    pub(crate) level: AwardLevel,
    pub(crate) points: i32,
}

#[derive(Debug, SimpleObject)]
pub(crate) struct AppraisalPayload {
    pub(crate) position: u64,
}

async fn appraisal_decides(
    ctx: &Context<'_>,
    command: AppraisalCommand,
) -> async_graphql::Result<AppraisalPayload> {
    let caller = access::caller(ctx)?;
    let api = ctx.data_unchecked::<Api>();
    let written = api
        .execute::<RuleBook>(caller, APPRAISAL_STREAM, |b| b.decide(&command), |_| vec![])
        .await?;
    Ok(AppraisalPayload {
        position: written.position,
    })
}

#[derive(Default)]
pub(crate) struct AppraisalMutation;

#[Object]
impl AppraisalMutation {
    /// Adopts a new version of the scoring rules, effective from a date.
    async fn adopt_scoring_rules(
        &self,
        ctx: &Context<'_>,
        input: ScoringRulesInput,
    ) -> async_graphql::Result<AppraisalPayload> {
        let bonus = |list: &[AwardBonusInput]| {
            list.iter()
                .map(|b| (b.level.into(), b.points))
                .collect::<BTreeMap<lectern_domain::AwardLevel, _>>()
        };
        let award_bonus = bonus(&input.award_bonus);
        let rules = ScoringRules {
            version: input.version,
            effective_from: input.effective_from,
            base_points: input.base_points,
            per_absence: input.per_absence,
            per_late: input.per_late,
            per_missed_task: input.per_missed_task,
            award_bonus,
            per_late_report: input.per_late_report,
            report_due_day: input.report_due_day,
            unit: lectern_domain::UnitRules {
                per_member_absence: input.unit_per_member_absence,
                per_member_missed_task: input.unit_per_member_missed_task,
                per_missing_report: input.per_missing_report,
                award_bonus: bonus(&input.unit_award_bonus),
            },
        };
        appraisal_decides(ctx, AppraisalCommand::AdoptRules { rules }).await
    }

    /// Adjusts a person's points by hand, with a reason; the adjuster is
    /// the token's person.
    async fn adjust_points(
        &self,
        ctx: &Context<'_>,
        staff_no: String,
        points: i32,
        reason: String,
        on: NaiveDate,
    ) -> async_graphql::Result<AppraisalPayload> {
        let caller = access::caller(ctx)?;
        let command = AppraisalCommand::AdjustPoints {
            person: StaffNo::parse(&staff_no)?,
            points,
            reason,
            adjuster: access::acting_person(caller)?,
            on,
            dispute: None,
        };
        appraisal_decides(ctx, command).await
    }

    /// Closes a year once it has ended on the server's clock: every member
    /// of staff's total and every unit's is recorded.
    async fn close_appraisal_year(
        &self,
        ctx: &Context<'_>,
        year: i32,
    ) -> async_graphql::Result<AppraisalPayload> {
        let api = ctx.data_unchecked::<Api>();
        let rows = api
            .db()
            .fetch("SELECT staff_no FROM rm_people ORDER BY staff_no", &[])
            .await
            .map_err(ApiError::from)?;
        let people = rows
            .iter()
            .map(|r| StaffNo::parse(&r.text("staff_no")))
            .collect::<Result<Vec<_>, _>>()?;
        let appraisal = api
            .appraisal_log
            .read(&api.app.store, api.app.projections.position())
            .await?;
        let everyone =
            lectern_app::year_appraisals(api.db(), &api.app.campus, &appraisal, &people, year)
                .await?;
        let rows = api
            .db()
            .fetch("SELECT id FROM rm_units ORDER BY id", &[])
            .await
            .map_err(ApiError::from)?;
        let units = rows
            .iter()
            .map(|r| UnitId::parse(&r.text("id")))
            .collect::<Result<Vec<_>, _>>()?;
        let today = api.app.campus.date(api.app.clock.now());
        let units = lectern_app::unit_year_totals(
            &api.app.store,
            api.db(),
            &api.app.campus,
            &everyone,
            &units,
            year,
            today,
        )
        .await?;
        let results = everyone.into_iter().map(|(no, a)| (no, a.total)).collect();
        appraisal_decides(
            ctx,
            AppraisalCommand::ClosePeriod {
                year,
                results,
                units,
                today,
            },
        )
        .await
    }
}

/// Refuses `what` when it would change the points of `year` and that
/// appraisal year is closed: once a year's results are recorded, only a
/// dispute's resolution changes them.
pub(crate) async fn year_open(api: &Api, year: i32, what: &str) -> Result<()> {
    let appraisal = api
        .appraisal_log
        .read(&api.app.store, api.app.projections.position())
        .await?;
    let closed = appraisal.iter().any(
        |p| matches!(&p.event, AppraisalEvent::AppraisalPeriodClosed { year: y, .. } if *y == year),
    );
    if closed {
        return Err(ApiError::new(
            Code::Conflict,
            format!(
                "the {year} appraisal year is closed, so {what} would change recorded points: \
                 the person files a dispute (fileDispute) and an auditor resolves it"
            ),
        ));
    }
    Ok(())
}
