//! Building read-model queries with optional filters, and cursor pages.

use async_graphql::OutputType;
use async_graphql::connection::{Connection, Edge};
use lectern_projections::{ReadDb, Row, Val};

use crate::error::{ApiError, Result};

/// The largest page a client may ask for.
pub const MAX_PAGE: i32 = 100;
pub const DEFAULT_PAGE: i32 = 20;

/// A `WHERE` clause built from optional filters; `?` in a condition is
/// numbered (`$n`) as it is added.
#[derive(Debug, Default)]
pub(crate) struct Where {
    conditions: Vec<String>,
    pub(crate) args: Vec<Val>,
}

impl Where {
    pub(crate) fn and(&mut self, condition: &str, args: impl IntoIterator<Item = Val>) {
        let mut out = String::new();
        let mut args = args.into_iter();
        for (i, part) in condition.split('?').enumerate() {
            if i > 0 {
                let arg = args.next().expect("one argument per ?");
                self.args.push(arg);
                out.push_str(&format!("${}", self.args.len()));
            }
            out.push_str(part);
        }
        self.conditions.push(out);
    }

    pub(crate) fn sql(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }
}

/// What reading the log costs against the complexity limit
/// ([`crate::schema::MAX_COMPLEXITY`], about a second of server time): a
/// replay of a person's, unit's or month's streams as of a moment (130 ms
/// or so each on a 260,000-event demo campus on two cores), a history of
/// streams, a Merkle proof. A request holds at most seven.
pub(crate) const REPLAY_COST: usize = 250;
/// A field that reads one stream or the appraisal log at the head.
pub(crate) const STREAM_COST: usize = 50;
/// Verifying the whole log: a request of its own.
pub(crate) const VERIFY_COST: usize = crate::schema::MAX_COMPLEXITY;

/// What a field that replays when `as_of` is given costs.
pub(crate) fn replay_cost(replays: bool, child: usize) -> usize {
    if replays { REPLAY_COST } else { STREAM_COST }.saturating_add(child)
}

/// What a page costs against the complexity limit: its items times what
/// each item selects.
pub(crate) fn cost(first: Option<i32>, child: usize) -> usize {
    usize::try_from(first.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)).unwrap_or(1) * child
}

/// The size of a page, checked against the maximum.
pub(crate) fn page_size(first: Option<i32>) -> Result<usize> {
    let n = first.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&n) {
        return Err(ApiError::bad_input(format!(
            "first: {n} is out of range; ask for 1 to {MAX_PAGE} items a page"
        )));
    }
    Ok(n as usize)
}

/// Runs a keyset-paginated query: `select` (a `SELECT ... FROM ...`)
/// gives the rows, ordered by the expression `key`, which is each row's
/// cursor; `after` is the last cursor already seen.
pub(crate) async fn fetch_page<T: OutputType>(
    db: &ReadDb,
    select: &str,
    key: &str,
    mut filter: Where,
    first: Option<i32>,
    after: Option<String>,
    node: impl Fn(&Row) -> Result<T>,
) -> Result<Connection<String, T>> {
    let n = page_size(first)?;
    if let Some(after) = &after {
        filter.and(&format!("{key} > ?"), [Val::from(after.as_str())]);
    }
    let select = select.replacen("SELECT ", &format!("SELECT {key} AS cursor, "), 1);
    let sql = format!("{select}{} ORDER BY {key} LIMIT {}", filter.sql(), n + 1);
    let rows = db.fetch(&sql, &filter.args).await.map_err(ApiError::from)?;
    let mut page = Connection::new(after.is_some(), rows.len() > n);
    for row in rows.iter().take(n) {
        let cursor = row.text("cursor");
        page.edges.push(Edge::new(cursor, node(row)?));
    }
    Ok(page)
}
