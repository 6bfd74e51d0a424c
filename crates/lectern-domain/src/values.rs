//! Validated values at the edge. Each type can only hold a valid value; the
//! parsers say what was wrong with the input and name it.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, Result};

/// A staff number: 4 to 12 ASCII letters or digits, stored upper-case
/// (`2005001`, `T0312`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StaffNo(String);

impl StaffNo {
    pub fn parse(input: &str) -> Result<StaffNo> {
        let s = input.trim();
        let invalid = |reason: &str| DomainError::invalid("staff number", input, reason);
        if !(4..=12).contains(&s.len()) {
            return Err(invalid("must have 4 to 12 characters"));
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(invalid("may contain only letters and digits"));
        }
        Ok(StaffNo(s.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A campus card's UID: the card's 4, 7 or 10 bytes (ISO/IEC 14443-A), held
/// as upper-case hex (`04A1B2C3`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CardUid(String);

/// How a keyboard-wedge reader types a UID as a decimal number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WedgeFormat {
    /// Bytes in the UID the reader reads (4 for most campus cards).
    pub uid_bytes: u8,
    pub byte_order: ByteOrder,
}

/// Which end of the UID a wedge reader's number starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ByteOrder {
    /// The number is the UID's bytes in the order the card sends them.
    MsbFirst,
    /// The number is the UID's bytes reversed (common in cheap readers).
    LsbFirst,
}

impl CardUid {
    /// Parses hex, with or without `:`, `-` or space between bytes, any case.
    pub fn parse(input: &str) -> Result<CardUid> {
        let hex: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | ' '))
            .collect();
        let invalid = |reason: &str| DomainError::invalid("card UID", input, reason);
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(invalid("must be hexadecimal"));
        }
        if !matches!(hex.len(), 8 | 14 | 20) {
            return Err(invalid("must be 4, 7 or 10 bytes (8, 14 or 20 hex digits)"));
        }
        Ok(CardUid(hex.to_ascii_uppercase()))
    }

    /// Converts what a keyboard-wedge reader types (a decimal number) into
    /// the card's bytes, given the reader's declared format.
    pub fn from_decimal(input: &str, format: WedgeFormat) -> Result<CardUid> {
        let digits = input.trim();
        let invalid = |reason: String| DomainError::invalid("card number", input, reason);
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid("must be decimal digits".into()));
        }
        let n = digits.len();
        if !matches!(format.uid_bytes, 4 | 7 | 10) {
            return Err(invalid(format!(
                "the reader's UID length {} is not 4, 7 or 10 bytes",
                format.uid_bytes
            )));
        }
        let value: u128 = digits
            .parse()
            .map_err(|_| invalid(format!("{n} digits is too long for a card")))?;
        let width = usize::from(format.uid_bytes);
        if width < 16 && value >> (8 * width) != 0 {
            return Err(invalid(format!("does not fit in {width} bytes")));
        }
        let be = value.to_be_bytes();
        let mut bytes = be[16 - width..].to_vec();
        if format.byte_order == ByteOrder::LsbFirst {
            bytes.reverse();
        }
        Ok(CardUid(bytes.iter().map(|b| format!("{b:02X}")).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The UID with all but the last four hex digits hidden (`****C3D4`),
    /// for everyone but administrators.
    pub fn masked(&self) -> String {
        let keep = &self.0[self.0.len() - 4..];
        format!("{}{keep}", "*".repeat(self.0.len() - 4))
    }
}

/// A name of a person, unit, venue or document: trimmed, 1 to 100
/// characters, no control characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    /// The name of someone whose personal data was erased.
    pub fn erased() -> Name {
        Name(crate::personal::ERASED.to_owned())
    }

    pub fn parse(input: &str) -> Result<Name> {
        let s = input.trim();
        let invalid = |reason: &str| DomainError::invalid("name", input, reason);
        if s.is_empty() {
            return Err(invalid("must not be empty"));
        }
        if s.chars().count() > 100 {
            return Err(invalid("must have at most 100 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(invalid("must not contain control characters"));
        }
        Ok(Name(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An identifier chosen by an administrator for a unit, venue or programme:
/// 1 to 40 lower-case letters, digits and `-` (`cs-dept`, `hall-3`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    pub fn parse(input: &str) -> Result<Slug> {
        let s = input.trim();
        let invalid = |reason: &str| DomainError::invalid("identifier", input, reason);
        if s.is_empty() || s.len() > 40 {
            return Err(invalid("must have 1 to 40 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid("may contain only a-z, 0-9 and -"));
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(invalid("must not start or end with -"));
        }
        Ok(Slug(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A span of time: `start` strictly before `end`, at most 24 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawWindow", into = "RawWindow")]
pub struct TimeWindow {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct RawWindow {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl TimeWindow {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<TimeWindow> {
        let value = || format!("{} .. {}", start.to_rfc3339(), end.to_rfc3339());
        if end <= start {
            return Err(DomainError::invalid(
                "time window",
                value(),
                "must end after it starts",
            ));
        }
        if end - start > Duration::hours(24) {
            return Err(DomainError::invalid(
                "time window",
                value(),
                "must not be longer than 24 hours",
            ));
        }
        Ok(TimeWindow { start, end })
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    pub fn overlaps(&self, other: &TimeWindow) -> bool {
        self.start < other.end && other.start < self.end
    }
}

macro_rules! string_newtype_impls {
    ($($t:ident),*) => {$(
        /// Shown as the bare string, so messages read `unit "cs-dept"`.
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
        impl TryFrom<String> for $t {
            type Error = DomainError;
            fn try_from(s: String) -> Result<$t> {
                $t::parse(&s)
            }
        }
    )*};
}

string_newtype_impls!(StaffNo, CardUid, Name, Slug);

impl From<TimeWindow> for RawWindow {
    fn from(w: TimeWindow) -> RawWindow {
        RawWindow {
            start: w.start,
            end: w.end,
        }
    }
}

impl TryFrom<RawWindow> for TimeWindow {
    type Error = DomainError;
    fn try_from(r: RawWindow) -> Result<TimeWindow> {
        TimeWindow::new(r.start, r.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_numbers_are_normalised_and_named_when_wrong() {
        assert_eq!(StaffNo::parse(" t0312 ").unwrap().as_str(), "T0312");
        let err = StaffNo::parse("20/05").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid staff number \"20/05\": may contain only letters and digits"
        );
        assert!(StaffNo::parse("123").is_err());
        assert!(StaffNo::parse("1234567890123").is_err());
    }

    #[test]
    fn card_uids_are_upper_case_hex_of_4_7_or_10_bytes() {
        assert_eq!(CardUid::parse("04:a1:b2:c3").unwrap().as_str(), "04A1B2C3");
        assert_eq!(
            CardUid::parse("04 A1 B2 C3 D4 E5 F6").unwrap().as_str(),
            "04A1B2C3D4E5F6"
        );
        let err = CardUid::parse("04A1B2").unwrap_err();
        assert!(err.to_string().contains("\"04A1B2\""), "{err}");
        assert!(CardUid::parse("04A1B2CG").is_err());
        assert_eq!(CardUid::parse("04a1b2c3").unwrap().masked(), "****B2C3");
    }

    #[test]
    fn wedge_decimal_is_converted_by_declared_byte_order() {
        let msb = WedgeFormat {
            uid_bytes: 4,
            byte_order: ByteOrder::MsbFirst,
        };
        let lsb = WedgeFormat {
            uid_bytes: 4,
            byte_order: ByteOrder::LsbFirst,
        };
        // 0x04A1B2C3 = 77705923
        assert_eq!(
            CardUid::from_decimal("77705923", msb).unwrap().as_str(),
            "04A1B2C3"
        );
        assert_eq!(
            CardUid::from_decimal("77705923", lsb).unwrap().as_str(),
            "C3B2A104"
        );
        // Leading zero bytes are kept.
        assert_eq!(
            CardUid::from_decimal("255", msb).unwrap().as_str(),
            "000000FF"
        );
        let err = CardUid::from_decimal("4294967296", msb).unwrap_err();
        assert!(err.to_string().contains("does not fit in 4 bytes"), "{err}");
        assert!(CardUid::from_decimal("12ab", msb).is_err());
    }

    #[test]
    fn names_slugs_and_windows() {
        assert_eq!(Name::parse("  王小明 ").unwrap().as_str(), "王小明");
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse("a\u{7}b").is_err());
        assert_eq!(Slug::parse("cs-dept").unwrap().as_str(), "cs-dept");
        assert!(Slug::parse("CS").is_err());
        let t = |h: u32| chrono::TimeZone::with_ymd_and_hms(&Utc, 2008, 9, 2, h, 0, 0).unwrap();
        assert!(TimeWindow::new(t(6), t(9)).is_ok());
        let err = TimeWindow::new(t(9), t(6)).unwrap_err();
        assert!(
            err.to_string().contains("must end after it starts"),
            "{err}"
        );
    }

    #[test]
    fn serialized_values_are_validated_on_the_way_in() {
        let ok: StaffNo = serde_json::from_str("\"t0312\"").unwrap();
        assert_eq!(ok.as_str(), "T0312");
        assert!(serde_json::from_str::<CardUid>("\"xyz\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"T0312\"");
    }
}
