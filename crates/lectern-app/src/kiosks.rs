//! Kiosks: registration for a venue with a one-time enrolment code,
//! enrolment with that code and the kiosk's key, and the roster a kiosk
//! decides taps from while offline.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use lectern_domain::{
    Audience, CardUid, KioskLedger, Session, Slug, StaffNo, kiosk_stream, session_stream,
};
use lectern_kiosk_protocol::{
    EnrolRequest, EnrolResponse, PublicKey, Roster, RosterPerson, RosterSession,
    enrolment_code_hash, new_enrolment_code,
};
use lectern_projections::{ReadDb, Val, load};
use lectern_store::{Metadata, Store};

use crate::App;
use crate::audience::members_of;
use crate::commands::{execute, settle};
use crate::error::{Error, Result};

/// A kiosk registered for a venue, with the code it enrols with (shown
/// once; the log keeps only its hash).
#[derive(Debug, Clone)]
pub struct Registration {
    pub code: String,
    /// The log position of the registration.
    pub position: u64,
}

/// Registers `kiosk` for `venue` at `at` and issues a one-time enrolment
/// code. Registering a kiosk again (a replaced device) issues a new code;
/// its old key is void until it enrols. Does not wait for the read models
/// (the CLI runs none): a server settles the position itself.
pub async fn register(
    store: &Store,
    meta: &Metadata,
    kiosk: &Slug,
    venue: &Slug,
    at: DateTime<Utc>,
) -> Result<Registration> {
    let code = new_enrolment_code().map_err(Error::internal)?;
    let hash = enrolment_code_hash(&code);
    let written = execute::<KioskLedger>(
        store,
        &kiosk_stream(kiosk.as_str()),
        meta,
        |k| k.register(venue, &hash, at),
        |_| vec![],
    )
    .await?;
    Ok(Registration {
        code,
        position: written.position,
    })
}

/// Enrols a kiosk with the code it was registered with and its public key
/// (the code is used up); answers the venue it serves.
pub async fn enrol(app: &App, request: &EnrolRequest) -> Result<EnrolResponse> {
    let key =
        PublicKey::from_hex(&request.public_key).map_err(|e| Error::bad_input(e.to_string()))?;
    let kiosk = request.kiosk.as_str();
    let stream = kiosk_stream(kiosk);
    let hash = enrolment_code_hash(&request.code);
    let meta = Metadata {
        actor: Some(format!("kiosk:{kiosk}")),
        source: Some("kiosk".into()),
        ..Metadata::default()
    };
    let at = app.clock.now();
    let written = execute::<KioskLedger>(
        &app.store,
        &stream,
        &meta,
        |k| k.enrol(kiosk, &hash, &key.to_hex(), &request.version, at),
        |_| vec![],
    )
    .await?;
    settle(&app.projections, written.position).await?;
    let ledger = load::<KioskLedger>(&app.store, &stream, u64::MAX).await?.0;
    tracing::info!(kiosk, position = written.position, "kiosk enrolled");
    Ok(EnrolResponse {
        kiosk: request.kiosk.clone(),
        venue: ledger
            .venue
            .ok_or_else(|| Error::internal(format!("enrolled kiosk {kiosk} has no venue")))?,
        server_time: app.clock.now(),
    })
}

/// Sessions at a venue from this long ago …
const ROSTER_PAST: chrono::Duration = chrono::Duration::days(1);
/// … to this far ahead go to its kiosks.
const ROSTER_AHEAD: chrono::Duration = chrono::Duration::days(3);

/// What the kiosks at `venue` need to decide taps offline: the people (all,
/// or those changed after log position `since`) and the venue's sessions
/// from a day ago to three days ahead with who each expects, read from
/// `db` (the primary's read models or a replica's).
pub async fn roster(app: &App, db: &ReadDb, venue: &Slug, since: Option<u64>) -> Result<Roster> {
    // The position first: a row changed after it is sent now and again
    // next time, never missed.
    let as_of = app.projections.position();
    let rows = match since {
        None => {
            db.fetch(
                "SELECT staff_no, name, card, left_on FROM rm_people ORDER BY staff_no",
                &[],
            )
            .await?
        }
        Some(p) => {
            db.fetch(
                "SELECT staff_no, name, card, left_on FROM rm_people WHERE position > $1 \
                 ORDER BY staff_no",
                &[Val::from(p)],
            )
            .await?
        }
    };
    // The cards each of them held before, revoked.
    let mut revoked: HashMap<String, Vec<CardUid>> = HashMap::new();
    for r in db
        .fetch(
            "SELECT uid, staff_no FROM rm_cards WHERE revoked IS NOT NULL \
             AND staff_no IN (SELECT staff_no FROM rm_people WHERE position > $1) ORDER BY uid",
            &[Val::from(since.unwrap_or(0))],
        )
        .await?
    {
        revoked
            .entry(r.text("staff_no"))
            .or_default()
            .push(CardUid::parse(&r.text("uid"))?);
    }
    let mut people = Vec::with_capacity(rows.len());
    for r in rows {
        let staff_no = r.text("staff_no");
        people.push(RosterPerson {
            revoked_cards: revoked.remove(&staff_no).unwrap_or_default(),
            staff_no: StaffNo::parse(&staff_no)?,
            name: r.text("name"),
            card: r.opt("card").as_deref().map(CardUid::parse).transpose()?,
            active: r.opt("left_on").is_none(),
        });
    }
    let now = app.clock.now();
    let ids = db
        .fetch(
            "SELECT id FROM rm_sessions WHERE venue = $1 AND starts_at >= $2 AND starts_at <= $3 \
             ORDER BY starts_at",
            &[
                Val::from(venue.as_str()),
                Val::from(now - ROSTER_PAST),
                Val::from(now + ROSTER_AHEAD),
            ],
        )
        .await?;
    let mut sessions = Vec::with_capacity(ids.len());
    for r in ids {
        let id = r.text("id");
        let id = uuid::Uuid::parse_str(&id)
            .map_err(|_| Error::internal(format!("rm_sessions holds a bad id {id:?}")))?;
        let session = load::<Session>(&app.store, &session_stream(id), u64::MAX)
            .await?
            .0;
        let Some(s) = &session.schedule else { continue };
        let open = matches!(s.audience, Audience::Open);
        sessions.push(RosterSession {
            id,
            title: s.title.as_str().to_owned(),
            starts_at: s.window.start(),
            ends_at: s.window.end(),
            check_in: s.check_in,
            shut: session.cancelled || session.closed,
            open,
            expected: if open {
                vec![]
            } else {
                let on = app.campus.date(s.window.start());
                members_of(&app.store, db, &s.audience, on).await?
            },
            checked_in: session.attended.keys().cloned().collect(),
        });
    }
    Ok(Roster {
        as_of,
        full: since.is_none(),
        venue: venue.clone(),
        people,
        sessions,
        server_time: app.clock.now(),
        log: None,
    })
}

/// The kiosks at `venue` that may still hold taps of a session that began
/// at `began`: those whose last heartbeat reported taps waiting, and those
/// whose last heartbeat (on the server's clock; a connected kiosk sends one
/// with every roster refresh, every 30 seconds) is older than the start. Closing the session records
/// them, so the chair knows late taps may yet arrive.
pub async fn behind_at(
    db: &ReadDb,
    venue: &Slug,
    began: DateTime<Utc>,
) -> Result<Vec<lectern_domain::KioskBehind>> {
    let rows = db
        .fetch(
            "SELECT k.id, h.seen_at, h.backlog FROM rm_kiosks k \
             LEFT JOIN kiosk_heartbeats h ON h.kiosk = k.id WHERE k.venue = $1 ORDER BY k.id",
            &[Val::from(venue.as_str())],
        )
        .await?;
    let when = |v: Option<String>| {
        v.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let mut out = Vec::new();
    for row in rows {
        let last_heard = when(row.opt("seen_at"));
        let backlog = row.int_opt("backlog").unwrap_or(0).max(0) as u64;
        if backlog > 0 || last_heard.is_none_or(|t| t < began) {
            out.push(lectern_domain::KioskBehind {
                kiosk: row.text("id"),
                backlog,
                last_heard,
            });
        }
    }
    Ok(out)
}
