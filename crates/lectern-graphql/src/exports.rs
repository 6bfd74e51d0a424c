//! Download links for reports: `exportLink` gives a URL that downloads a
//! report as CSV or XLSX without a bearer header (so a browser can follow
//! it), valid for `LINK_TTL`. The link names the report, its parameters,
//! the caller's token id and its expiry, signed with the database's link
//! key (HMAC-SHA256; `Tokens::link_key`, shared by every server on it): a
//! server (`/export/…`) checks the signature, that the
//! token is still valid, and runs the report for that token's caller, with
//! the same access rules as the API.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, Duration, Utc};
use sha2::Sha256;
use uuid::Uuid;

use crate::access;
use crate::api::Api;
use crate::enums::Format;
use crate::error::ApiError;

/// How long a download link is valid.
pub(crate) const LINK_TTL: Duration = Duration::minutes(15);

/// The reports there are, with the parameters each needs and may take.
pub const REPORTS: &[(&str, &[&str], &[&str])] = &[
    ("programme", &["programme"], &[]),
    ("unit-month", &["unit", "year", "month"], &[]),
    ("appraisal", &["person", "year"], &[]),
    ("unit-appraisal", &["unit", "year"], &[]),
    ("leadership", &[], &[]),
    ("awards", &[], &["year", "level"]),
    ("session", &["id"], &[]),
    ("year-end", &["year"], &[]),
];

/// A report that downloads as a file (its name in the link: `unit-month`).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(rename_items = "snake_case")]
pub(crate) enum Report {
    Programme,
    UnitMonth,
    Appraisal,
    UnitAppraisal,
    Leadership,
    Awards,
    Session,
    YearEnd,
}

impl Report {
    /// The report's name in a download link.
    fn name(self) -> &'static str {
        match self {
            Report::Programme => "programme",
            Report::UnitMonth => "unit-month",
            Report::Appraisal => "appraisal",
            Report::UnitAppraisal => "unit-appraisal",
            Report::Leadership => "leadership",
            Report::Awards => "awards",
            Report::Session => "session",
            Report::YearEnd => "year-end",
        }
    }
}

/// The formats a report downloads as.
pub const FORMATS: &[&str] = &["csv", "xlsx"];

type HmacSha256 = ::hmac::Hmac<Sha256>;

/// HMAC-SHA256 (RFC 2104, RustCrypto's `hmac`) of `message` under `key`.
fn mac(key: &[u8; 32], message: &str) -> HmacSha256 {
    use ::hmac::Mac;
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message.as_bytes());
    mac
}

fn hmac(key: &[u8; 32], message: &str) -> [u8; 32] {
    use ::hmac::Mac;
    mac(key, message).finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// `N` bytes from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source answers");
    bytes
}

/// A random key for signing links (what `Tokens::link_key` stores).
pub(crate) fn link_key() -> [u8; 32] {
    random_bytes()
}

/// What is signed: the report, format and parameters (sorted by name),
/// the token id and the expiry.
fn canonical(
    report: &str,
    format: &str,
    params: &[(String, String)],
    token: &str,
    expires: i64,
) -> String {
    let mut params = params.to_vec();
    params.sort();
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{report}.{format}?{}&token={token}&expires={expires}",
        query.join("&")
    )
}

/// Percent-encodes a query value (unreserved characters kept).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Checks a link's parts: a known report and format, the parameters it
/// needs and no others, not expired, and signed with `key`. Returns the
/// token id to run the report as.
pub fn check_link(
    key: &[u8; 32],
    report: &str,
    format: &str,
    query: &[(String, String)],
    now: DateTime<Utc>,
) -> lectern_app::Result<String> {
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (Some(token), Some(expires), Some(sig)) = (get("token"), get("expires"), get("sig")) else {
        return Err(lectern_app::Error::bad_input(
            "this is not a download link from exportLink (token, expires or sig is missing)",
        ));
    };
    let expires: i64 = expires
        .parse()
        .map_err(|_| lectern_app::Error::bad_input(format!("invalid expiry {expires:?}")))?;
    let params: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "token" | "expires" | "sig"))
        .cloned()
        .collect();
    // Compared in constant time (`verify_slice`), so a forger learns
    // nothing from how long a refusal takes.
    let signed = unhex(sig).is_some_and(|sig| {
        use ::hmac::Mac;
        mac(key, &canonical(report, format, &params, token, expires))
            .verify_slice(&sig)
            .is_ok()
    });
    if !signed {
        return Err(lectern_app::Error::forbidden(
            "the download link's signature does not match: it was altered, or it was made by \
             another server process; ask exportLink for a new one",
        ));
    }
    if now.timestamp() > expires {
        return Err(lectern_app::Error::forbidden(format!(
            "the download link expired at {}; ask exportLink for a new one",
            DateTime::from_timestamp(expires, 0)
                .unwrap_or_default()
                .to_rfc3339()
        )));
    }
    Ok(token.to_owned())
}

/// The parameters of a report (those it does not take are refused).
#[derive(Debug, Default, InputObject)]
pub(crate) struct ExportParams {
    pub(crate) programme: Option<String>,
    pub(crate) unit: Option<String>,
    pub(crate) person: Option<String>,
    pub(crate) year: Option<i32>,
    pub(crate) month: Option<u32>,
    pub(crate) level: Option<String>,
    pub(crate) id: Option<Uuid>,
}

impl ExportParams {
    fn pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push((k.to_owned(), v));
            }
        };
        put("programme", self.programme.clone());
        put("unit", self.unit.clone());
        put("person", self.person.clone());
        put("year", self.year.map(|y| y.to_string()));
        put("month", self.month.map(|m| m.to_string()));
        put("level", self.level.clone());
        put("id", self.id.map(|i| i.to_string()));
        out
    }
}

/// A download link and when it stops working.
#[derive(Debug, SimpleObject)]
pub(crate) struct ExportLink {
    /// The path to GET on this server (no bearer header needed).
    pub(crate) url: String,
    pub(crate) expires_at: DateTime<Utc>,
}

#[derive(Default)]
pub(crate) struct ExportQuery;

#[Object]
impl ExportQuery {
    /// A link that downloads a report as CSV or XLSX for the caller, valid
    /// for 15 minutes: programme (programme), unit-month (unit, year,
    /// month), appraisal (person, year), unit-appraisal (unit, year),
    /// leadership, awards ([year], [level]), session (id). The report is
    /// run when the link is followed, with the caller's access.
    #[graphql(complexity = "crate::page::STREAM_COST + child_complexity")]
    async fn export_link(
        &self,
        ctx: &Context<'_>,
        report: Report,
        format: Format,
        #[graphql(default)] params: ExportParams,
    ) -> async_graphql::Result<ExportLink> {
        let caller = access::caller(ctx)?;
        let api = ctx.data_unchecked::<Api>();
        let (report, format) = (report.name(), format.name());
        let (_, needs, may) = REPORTS
            .iter()
            .find(|(r, _, _)| *r == report)
            .expect("every report is in REPORTS");
        let pairs = params.pairs();
        if let Some(missing) = needs.iter().find(|n| !pairs.iter().any(|(k, _)| k == *n)) {
            return Err(
                ApiError::bad_input(format!("the {report} report needs params.{missing}")).into(),
            );
        }
        if let Some((extra, _)) = pairs
            .iter()
            .find(|(k, _)| !needs.contains(&k.as_str()) && !may.contains(&k.as_str()))
        {
            return Err(ApiError::bad_input(format!(
                "the {report} report takes no params.{extra}"
            ))
            .into());
        }
        let expires_at = api.app.clock.now() + LINK_TTL;
        let expires = expires_at.timestamp();
        let token = &caller.token_id;
        let sig = hex(&hmac(
            &api.link_key,
            &canonical(report, format, &pairs, token, expires),
        ));
        let mut query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        query.push(format!("token={}", encode(token)));
        query.push(format!("expires={expires}"));
        query.push(format!("sig={sig}"));
        Ok(ExportLink {
            url: format!("/export/{report}.{format}?{}", query.join("&")),
            expires_at: DateTime::from_timestamp(expires, 0).unwrap_or(expires_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{REPORTS, Report, canonical, check_link, hex, hmac};
    use async_graphql::resolver_utils::EnumType;
    use chrono::{TimeZone, Utc};

    #[test]
    fn every_report_of_the_api_is_served() {
        let named: Vec<&str> = Report::items().iter().map(|i| i.value.name()).collect();
        let served: Vec<&str> = REPORTS.iter().map(|r| r.0).collect();
        assert_eq!(named, served);
    }

    #[test]
    fn links_are_checked() {
        let key = [7u8; 32];
        let params = vec![("year".to_owned(), "2007".to_owned())];
        let sig = hex(&hmac(
            &key,
            &canonical("awards", "csv", &params, "tok", 1000),
        ));
        let query = |expires: &str, sig: &str| {
            let mut q = params.clone();
            q.push(("token".into(), "tok".into()));
            q.push(("expires".into(), expires.into()));
            q.push(("sig".into(), sig.into()));
            q
        };
        let before = Utc.timestamp_opt(999, 0).unwrap();
        let after = Utc.timestamp_opt(1001, 0).unwrap();
        assert_eq!(
            check_link(&key, "awards", "csv", &query("1000", &sig), before).unwrap(),
            "tok"
        );
        let expired = check_link(&key, "awards", "csv", &query("1000", &sig), after).unwrap_err();
        assert!(
            expired.message.contains("expired at"),
            "{}",
            expired.message
        );
        for (report, format, q) in [
            ("awards", "xlsx", query("1000", &sig)),
            ("leadership", "csv", query("1000", &sig)),
            ("awards", "csv", query("2000", &sig)),
            ("awards", "csv", query("1000", &"0".repeat(64))),
        ] {
            let e = check_link(&key, report, format, &q, before).unwrap_err();
            assert!(
                e.message.contains("signature does not match"),
                "{}",
                e.message
            );
        }
        let e = check_link(&key, "awards", "csv", &params, before).unwrap_err();
        assert!(e.message.contains("is missing"), "{}", e.message);
        let other = [8u8; 32];
        assert!(check_link(&other, "awards", "csv", &query("1000", &sig), before).is_err());
    }

    #[test]
    fn hmac_matches_an_independent_implementation() {
        // Our keys are 32 bytes; the expected value is Python's hmac module
        // on the same key and message:
        // python3 -c "import hmac,hashlib;print(hmac.new(bytes(range(32)),
        //   b'lectern',hashlib.sha256).hexdigest())"
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let mac: String = hmac(&key, "lectern")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(mac, EXPECTED);
    }

    const EXPECTED: &str = "cc4c09013daec07b9dd93ce6d6805c9c310895ecfa247d63b0cbd6c94cf09487";
}
