//! What a projector is: a stable name, a version, its tables, the event
//! types it reads, and an `apply` that turns one event into statements.
//!
//! A projector writes to its own tables only, through `{table}`
//! placeholders that [`Cx`] resolves to the generation being written
//! (`rm_units_g3`); readers use the view of the live generation
//! (`rm_units`). Statements are collected per batch and run in one
//! transaction with the checkpoint, by the runner.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use lectern_store::{RecordedEvent, Store};

use crate::error::Result;
use crate::sql::{Stmt, Val};

/// A read-model table: columns and indexes in the portable dialect of
/// `sql`. Readers query the view `rm_<name>`.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// The column list of `CREATE TABLE`, constraints included.
    pub columns: &'static str,
    /// Column lists, one index each.
    pub indexes: &'static [&'static str],
}

pub trait Projector: Default + Send + 'static {
    /// Stable: the checkpoint is stored under it and `lectern rebuild
    /// --projector NAME` takes it.
    const NAME: &'static str;
    /// Raise it when the tables or what is derived into them change: the
    /// runner then rebuilds this read model from the log on start.
    const VERSION: i64;
    const TABLES: &'static [Table];
    /// The event types `apply` reads; the others are never fetched.
    const EVENT_TYPES: &'static [&'static str];
    /// Whether writers wait for it before they answer (read-your-writes).
    /// An analyzer that works behind the log (`flags`, whose fresh start
    /// reads every tap first) is not awaited, so that it never holds up a
    /// kiosk or a mutation; what needs it waits with `wait_for_all`.
    const AWAITED: bool = true;

    /// Turns one event into statements. State kept between calls (folded
    /// aggregates) is a cache: a fresh projector must give the same rows,
    /// loading what it needs from the store through `cx`.
    /// A fresh projector for runners with these options (the default for
    /// projectors that take none).
    fn configured(opts: &crate::runner::Options) -> Self {
        let _ = opts;
        Self::default()
    }

    fn apply(
        &mut self,
        event: &RecordedEvent,
        cx: &mut Cx<'_>,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The physical names of one generation of a projector's tables.
#[derive(Debug)]
pub(crate) struct Names {
    generation: i64,
    tables: &'static [Table],
    resolved: HashMap<&'static str, Arc<str>>,
}

impl Names {
    pub(crate) fn new(tables: &'static [Table], generation: i64) -> Names {
        Names {
            generation,
            tables,
            resolved: HashMap::new(),
        }
    }

    pub(crate) fn physical(&self, table: &Table) -> String {
        format!("rm_{}_g{}", table.name, self.generation)
    }

    fn resolve(&mut self, template: &'static str) -> Arc<str> {
        if let Some(s) = self.resolved.get(template) {
            return s.clone();
        }
        let mut sql = template.to_owned();
        for t in self.tables {
            sql = sql.replace(&format!("{{{}}}", t.name), &self.physical(t));
        }
        let sql: Arc<str> = Arc::from(sql);
        self.resolved.insert(template, sql.clone());
        sql
    }

    /// `CREATE TABLE` and `CREATE INDEX` for this generation.
    pub(crate) fn create(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in self.tables {
            let name = self.physical(t);
            out.push(format!("CREATE TABLE {name} ({})", t.columns));
            for (i, cols) in t.indexes.iter().enumerate() {
                out.push(format!("CREATE INDEX {name}_i{i} ON {name} ({cols})"));
            }
        }
        out
    }

    /// Points the readers' views at this generation.
    pub(crate) fn swap_views(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in self.tables {
            out.push(format!("DROP VIEW IF EXISTS rm_{}", t.name));
            out.push(format!(
                "CREATE VIEW rm_{} AS SELECT * FROM {}",
                t.name,
                self.physical(t)
            ));
        }
        out
    }

    pub(crate) fn drop_tables(&self) -> Vec<String> {
        self.tables
            .iter()
            .map(|t| format!("DROP TABLE IF EXISTS {}", self.physical(t)))
            .collect()
    }
}

/// What `apply` writes through, and the store it may read from.
pub struct Cx<'a> {
    pub store: &'a Store,
    names: &'a mut Names,
    pub(crate) stmts: Vec<Stmt>,
    keyed: HashMap<String, usize>,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(store: &'a Store, names: &'a mut Names) -> Cx<'a> {
        Cx {
            store,
            names,
            stmts: Vec::new(),
            keyed: HashMap::new(),
        }
    }

    /// Queues a statement; `{table}` names one of the projector's tables.
    pub fn exec(&mut self, sql: &'static str, args: Vec<Val>) {
        let sql = self.names.resolve(sql);
        self.stmts.push(Stmt { sql, args });
    }

    /// Queues a statement that replaces one queued earlier in this batch
    /// under the same `key`: for a whole-row upsert written after every
    /// event of its row (a session's counts), only the last one of a batch
    /// needs to run. The statement must not depend on the order of the
    /// others.
    pub fn exec_keyed(&mut self, key: String, sql: &'static str, args: Vec<Val>) {
        let sql = self.names.resolve(sql);
        match self.keyed.get(&key) {
            Some(&i) => self.stmts[i] = Stmt { sql, args },
            None => {
                self.keyed.insert(key, self.stmts.len());
                self.stmts.push(Stmt { sql, args });
            }
        }
    }
}
