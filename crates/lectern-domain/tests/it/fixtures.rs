//! A small university to decide against.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use lectern_domain::*;

pub fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

pub fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

pub fn staff(s: &str) -> StaffNo {
    StaffNo::parse(s).unwrap()
}

pub fn card(s: &str) -> CardUid {
    CardUid::parse(s).unwrap()
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// An instant given on the campus clock (UTC+8).
pub fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .with_timezone(&Utc)
}

pub fn established(unit: &str, kind: UnitKind, parent: Option<&str>) -> OrgEvent {
    OrgEvent::UnitEstablished {
        unit: slug(unit),
        name: name(&format!("Unit {unit}")),
        kind,
        parent: parent.map(slug),
    }
}

/// university > school-cs > cs-dept, university > union-office
pub fn org_history() -> Vec<OrgEvent> {
    vec![
        established("ustc", UnitKind::University, None),
        established("school-cs", UnitKind::School, Some("ustc")),
        established("cs-dept", UnitKind::Department, Some("school-cs")),
        established("union-office", UnitKind::Office, Some("ustc")),
    ]
}

pub fn org() -> OrgTree {
    OrgTree::fold(&org_history()).unwrap()
}

pub fn registered(no: &str, unit: &str) -> PersonEvent {
    PersonEvent::PersonRegistered(Registration {
        staff_no: staff(no),
        name: name("王小明"),
        unit: slug(unit),
        category: StaffCategory::Teacher,
        birth_date: Some(date(1978, 5, 4)),
        hire_date: date(2004, 9, 1),
    })
}
