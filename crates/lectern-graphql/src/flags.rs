//! Proxy-tap flags over GraphQL: what the analyzer found in the raw taps
//! (the `flags` read model) with the taps behind each flag, for
//! administrators, auditors and the chairs of the units the flagged people
//! belong or belonged to; a review (dismiss or confirm, with a reason) by
//! such a chair or an administrator; a subscription for new flags. A flag
//! costs nobody a point: a confirmed one is corrected through the
//! correction or dispute paths.

use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use lectern_domain::{Flag, UnitId, flag_stream};
use lectern_projections::{Row, Val, subtree_pattern, subtree_people};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{self, Scope};
use crate::api::Api;
use crate::auth::{Caller, Principal};
use crate::enums::{FlagRule, FlagVerdict, name_of, stored};
use crate::error::{ApiError, Result};
use crate::page::Where;

/// Where a flag stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[graphql(rename_items = "snake_case")]
#[serde(rename_all = "snake_case")]
pub(crate) enum FlagStatus {
    /// Not reviewed yet.
    Open,
    Dismissed,
    Confirmed,
}

/// A flag the analyzer raised on taps that look like a lent card or one
/// person tapping for others.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub(crate) struct ProxyFlag {
    /// Its key: the rule and what it is about (stream `flag-<key>`).
    pub(crate) key: String,
    pub(crate) rule: FlagRule,
    pub(crate) rule_version: i64,
    /// The people the flag is about (staff numbers).
    pub(crate) people: Vec<String>,
    /// The log position of the event that raised it.
    pub(crate) position: i64,
    pub(crate) raised_at: String,
    pub(crate) status: FlagStatus,
    pub(crate) reviewer: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) reviewed_at: Option<String>,
    /// Auditors see card UIDs masked.
    #[graphql(skip)]
    pub(crate) masked: bool,
    /// Shown as the log held it then (stored timestamp form).
    #[graphql(skip)]
    pub(crate) as_of: Option<String>,
}

/// A tap behind a flag, as the analyzer saw it.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct FlagTap {
    /// The `CardTapped` event's log position.
    pub(crate) position: i64,
    pub(crate) tap: String,
    pub(crate) kiosk: String,
    pub(crate) venue: String,
    /// The card (masked for auditors).
    pub(crate) card: String,
    pub(crate) staff_no: Option<String>,
    /// When it was read, in server time.
    pub(crate) read_at: String,
    pub(crate) session: Option<String>,
}

#[ComplexObject]
impl ProxyFlag {
    /// The taps behind the flag, in the order they were read (with
    /// `asOf`, those the log held as the flag's then).
    async fn taps(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<FlagTap>> {
        let api = ctx.data_unchecked::<Api>();
        let mut args = vec![Val::from(self.key.as_str())];
        let mut then = "";
        if let Some(t) = &self.as_of {
            args.push(Val::from(t.as_str()));
            then = " AND added_at <= $2";
        }
        let rows = api
            .db()
            .fetch(
                &format!(
                    "SELECT position, tap, kiosk, venue, card, staff_no, read_at, session_id \
                     FROM rm_flag_evidence WHERE key = $1{then} ORDER BY read_at, position"
                ),
                &args,
            )
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .iter()
            .map(|r| {
                let card = r.text("card");
                FlagTap {
                    position: r.int("position"),
                    tap: r.text("tap"),
                    kiosk: r.text("kiosk"),
                    venue: r.text("venue"),
                    card: match lectern_domain::CardUid::parse(&card) {
                        Ok(c) if self.masked => c.masked(),
                        _ => card,
                    },
                    staff_no: r.opt("staff_no"),
                    read_at: r.text("read_at"),
                    session: r.opt("session_id"),
                }
            })
            .collect())
    }
}

const FLAGS: &str = "SELECT f.key, f.rule, f.rule_version, f.people, f.position, f.raised_at, \
     f.status, f.reviewer, f.reason, f.reviewed_at, f.review_logged_at FROM rm_flags f";

/// A flag's row as shown, `as_of` a moment (stored timestamp form): a
/// review the log did not hold then is not shown.
fn flag(r: &Row, masked: bool, as_of: Option<&str>) -> Result<ProxyFlag> {
    let logged: Option<String> = r.opt("review_logged_at");
    let reviewed = match (as_of, &logged) {
        (Some(t), Some(l)) => l.as_str() <= t,
        (Some(_), None) => false,
        (None, _) => true,
    };
    let review = |column: &str| if reviewed { r.opt(column) } else { None };
    Ok(ProxyFlag {
        key: r.text("key"),
        rule: stored("flag rule", r.get("rule"))?,
        rule_version: r.int("rule_version"),
        people: serde_json::from_str(&r.text("people")).unwrap_or_default(),
        position: r.int("position"),
        raised_at: r.text("raised_at"),
        status: if reviewed {
            stored("flag status", r.get("status"))?
        } else {
            FlagStatus::Open
        },
        reviewer: review("reviewer"),
        reason: review("reason"),
        reviewed_at: review("reviewed_at"),
        masked,
        as_of: as_of.map(str::to_owned),
    })
}

/// Limits `filter` to the flags about someone who ever belonged to `unit`
/// or a unit below it.
fn about_subtree(filter: &mut Where, unit: &UnitId) {
    filter.and(
        &format!(
            "EXISTS (SELECT 1 FROM rm_flag_people fp WHERE fp.key = f.key AND fp.staff_no IN ({}))",
            subtree_people("?")
        ),
        [subtree_pattern(unit)],
    );
}

/// The caller's reach over flags: all, or a chair's subtree.
fn reach(caller: &Caller, filter: &mut Where) {
    if let Scope::Subtree(unit) = Scope::of(caller) {
        about_subtree(filter, &unit);
    }
}

/// The flag `key`, if the caller reaches it.
async fn get(api: &Api, caller: &Caller, key: &str) -> Result<ProxyFlag> {
    let mut filter = Where::default();
    filter.and("f.key = ?", [Val::from(key)]);
    let rows = api
        .db()
        .fetch(&format!("{FLAGS}{}", filter.sql()), &filter.args)
        .await?;
    if rows.is_empty() {
        return Err(ApiError::not_found(format!("flag {key:?} does not exist")));
    }
    reach(caller, &mut filter);
    let rows = api
        .db()
        .fetch(&format!("{FLAGS}{}", filter.sql()), &filter.args)
        .await?;
    let row = rows.first().ok_or_else(|| {
        access::denied(
            caller,
            &format!("flag {key:?} (it is about nobody of the chair's units)"),
        )
    })?;
    flag(row, is_auditor(caller), None)
}

fn is_auditor(caller: &Caller) -> bool {
    matches!(caller.principal, Principal::Auditor)
}

/// Most flags one request lists.
const MOST: i32 = 500;

#[derive(Default)]
pub(crate) struct FlagQuery;

#[Object]
impl FlagQuery {
    /// Flags on taps, newest first: about the people of `unit` (and the
    /// units below it), at a `session`, about a `person`, of a `rule`, in a
    /// `status`. Administrators and auditors see all; a chair those about
    /// people who belong or belonged to their units. With `asOf`, as the
    /// log held them at that moment: the flags raised by then, with the
    /// taps and reviews recorded by then.
    #[allow(clippy::too_many_arguments)]
    async fn proxy_flags(
        &self,
        ctx: &Context<'_>,
        unit: Option<String>,
        session: Option<Uuid>,
        person: Option<String>,
        rule: Option<FlagRule>,
        status: Option<FlagStatus>,
        #[graphql(default = 50)] first: i32,
        #[graphql(desc = "Show the flags as the log held them at this moment.")] as_of: Option<
            DateTime<Utc>,
        >,
    ) -> async_graphql::Result<Vec<ProxyFlag>> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        if !(1..=MOST).contains(&first) {
            return Err(ApiError::bad_input(format!(
                "first must be between 1 and {MOST}, not {first}"
            ))
            .into());
        }
        let mut filter = Where::default();
        reach(caller, &mut filter);
        if let Some(u) = unit {
            let u = UnitId::parse(&u)?;
            crate::monthly::check_unit(api, caller, &u, "read the unit's flags").await?;
            about_subtree(&mut filter, &u);
        }
        if let Some(s) = session {
            filter.and(
                "EXISTS (SELECT 1 FROM rm_flag_evidence fe WHERE fe.key = f.key \
                 AND fe.session_id = ?)",
                [Val::from(s.to_string())],
            );
        }
        if let Some(p) = person {
            let p = lectern_domain::StaffNo::parse(&p)?;
            filter.and(
                "EXISTS (SELECT 1 FROM rm_flag_people fp WHERE fp.key = f.key \
                 AND fp.staff_no = ?)",
                [Val::from(p.as_str())],
            );
        }
        if let Some(r) = rule {
            filter.and("f.rule = ?", [Val::from(name_of(&r))]);
        }
        let as_of = as_of.map(lectern_projections::timestamp);
        if let Some(t) = &as_of {
            filter.and("f.raised_at <= ?", [Val::from(t.as_str())]);
        }
        match (status, &as_of) {
            (Some(s), None) => filter.and("f.status = ?", [Val::from(name_of(&s))]),
            (Some(s), Some(t)) => filter.and(
                "(CASE WHEN f.review_logged_at <= ? THEN f.status ELSE 'open' END) = ?",
                [Val::from(t.as_str()), Val::from(name_of(&s))],
            ),
            (None, _) => {}
        }
        let sql = format!(
            "{FLAGS}{} ORDER BY f.position DESC LIMIT {first}",
            filter.sql()
        );
        let rows = api
            .db()
            .fetch(&sql, &filter.args)
            .await
            .map_err(ApiError::from)?;
        let masked = is_auditor(caller);
        Ok(rows
            .iter()
            .map(|r| flag(r, masked, as_of.as_deref()))
            .collect::<Result<_>>()?)
    }
}

#[derive(Default)]
pub(crate) struct FlagMutation;

#[Object]
impl FlagMutation {
    /// Dismisses or confirms a flag, once, with a reason: an administrator,
    /// or the chair of a unit a flagged person belongs or belonged to. A
    /// confirmed flag changes no figure; correct the attendance, or let the
    /// person dispute, as for any other error.
    async fn review_proxy_flag(
        &self,
        ctx: &Context<'_>,
        key: String,
        verdict: FlagVerdict,
        reason: String,
    ) -> async_graphql::Result<ProxyFlag> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let reviewer = access::acting_person(caller)?;
        get(api, caller, &key).await?;
        let now = api.app.clock.now();
        let written = api
            .execute::<Flag>(
                caller,
                &flag_stream(&key),
                |f| f.review(&key, verdict.into(), &reason, &reviewer, now),
                |_| vec![],
            )
            .await?;
        // The flags read model is not awaited by writers: wait for it here.
        api.app
            .projections
            .wait_for_all(written.position, lectern_app::WRITE_WAIT)
            .await
            .map_err(ApiError::from)?;
        Ok(get(api, caller, &key).await?)
    }
}

#[derive(Default)]
pub(crate) struct FlagSubscription;

#[Subscription]
impl FlagSubscription {
    /// Each flag as it is raised, within the caller's reach (as
    /// `proxyFlags`): from now on, or after a log position.
    async fn proxy_flag_raised(
        &self,
        ctx: &Context<'_>,
        after: Option<u64>,
    ) -> async_graphql::Result<impl Stream<Item = ProxyFlag> + use<>> {
        let caller = access::caller(ctx)?.clone();
        let api = ctx.data_unchecked::<Api>().clone();
        let head = api.app.store.head().await.map_err(ApiError::from)?;
        if let Some(p) = after
            && p > head
        {
            return Err(ApiError::bad_input(format!(
                "after {p} is past the end of the log (position {head})"
            ))
            .into());
        }
        let head = after.unwrap_or(head);
        let sub = api
            .app
            .store
            .subscribe(head, Some(vec!["FlagRaised".to_owned()]));
        Ok(futures_util::stream::unfold(
            (sub, api, caller),
            move |(mut sub, api, caller)| async move {
                loop {
                    let event = sub.next().await.ok()?;
                    let key = event.stream_id.strip_prefix("flag-")?.to_owned();
                    lectern_app::settle(&api.app.projections, event.position)
                        .await
                        .ok()?;
                    // Out of reach (a chair's): skipped.
                    if let Ok(f) = get(&api, &caller, &key).await {
                        return Some((f, (sub, api, caller)));
                    }
                }
            },
        ))
    }
}
