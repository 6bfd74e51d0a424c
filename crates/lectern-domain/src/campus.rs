//! The campus clock. Storage is UTC; every business rule (Tuesday afternoon,
//! late after the start plus grace, September, Teachers' Day) is read in the
//! campus time zone.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{DomainError, Result};

/// The campus time zone (default `Asia/Shanghai`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Campus {
    tz: Tz,
}

impl Default for Campus {
    fn default() -> Self {
        Campus {
            tz: chrono_tz::Asia::Shanghai,
        }
    }
}

impl Campus {
    /// A campus in the IANA zone `name` (`Asia/Shanghai`, `Europe/Berlin`).
    pub fn new(name: &str) -> Result<Campus> {
        let tz = name.parse::<Tz>().map_err(|_| {
            DomainError::invalid("time zone", name, "is not an IANA time zone name")
        })?;
        Ok(Campus { tz })
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// `t` on the campus clock.
    pub fn local(&self, t: DateTime<Utc>) -> DateTime<Tz> {
        t.with_timezone(&self.tz)
    }

    /// The campus date of `t`.
    pub fn date(&self, t: DateTime<Utc>) -> NaiveDate {
        self.local(t).date_naive()
    }

    /// The instant the campus clock shows `time` on `date`. A time skipped by
    /// a daylight-saving change is an error; a repeated one is its first
    /// occurrence.
    pub fn at(&self, date: NaiveDate, time: NaiveTime) -> Result<DateTime<Utc>> {
        self.tz
            .from_local_datetime(&date.and_time(time))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| {
                DomainError::invalid(
                    "local time",
                    format!("{date} {time}"),
                    format!("does not exist in {}", self.tz.name()),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_is_eight_hours_ahead() {
        let c = Campus::default();
        let d = NaiveDate::from_ymd_opt(2008, 9, 2).unwrap();
        let t = c
            .at(d, NaiveTime::from_hms_opt(14, 30, 0).unwrap())
            .unwrap();
        assert_eq!(t.to_rfc3339(), "2008-09-02T06:30:00+00:00");
        assert_eq!(c.date(t), d);
        // 23:30 UTC on 1 September is already 2 September on campus.
        let late = Utc.with_ymd_and_hms(2008, 9, 1, 23, 30, 0).unwrap();
        assert_eq!(c.date(late), d);
    }

    #[test]
    fn zones_are_configurable_and_checked() {
        let berlin = Campus::new("Europe/Berlin").unwrap();
        let skipped = berlin.at(
            NaiveDate::from_ymd_opt(2008, 3, 30).unwrap(),
            NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
        );
        assert!(
            skipped
                .unwrap_err()
                .to_string()
                .contains("does not exist in Europe/Berlin")
        );
        let err = Campus::new("Mars/Olympus").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid time zone \"Mars/Olympus\": is not an IANA time zone name"
        );
    }
}
