//! Periods of campus dates: a year (which grants base points) or a month.

use chrono::NaiveDate;

use crate::error::{DomainError, Result};

/// A span of campus dates, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub until: NaiveDate,
    /// Base points are granted for a year, not for a month.
    pub grants_base: bool,
}

impl Period {
    pub fn year(year: i32) -> Result<Period> {
        let d = |m, day| {
            NaiveDate::from_ymd_opt(year, m, day)
                .ok_or_else(|| DomainError::invalid("year", year.to_string(), "is out of range"))
        };
        Ok(Period {
            from: d(1, 1)?,
            until: d(12, 31)?,
            grants_base: true,
        })
    }

    pub fn month(year: i32, month: u32) -> Result<Period> {
        let from = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(|| {
            DomainError::invalid("month", format!("{year}-{month:02}"), "is not a month")
        })?;
        let until = from + chrono::Months::new(1) - chrono::Days::new(1);
        Ok(Period {
            from,
            until,
            grants_base: false,
        })
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.until
    }
}
