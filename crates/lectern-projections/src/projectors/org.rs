//! `org`: the unit tree, one row per unit with its path from the root, so
//! a subtree is one `LIKE '%/unit/%'` away. Head counts are counted from
//! `rm_people` when asked.

use lectern_domain::{ORG_STREAM, OrgTree};
use lectern_store::RecordedEvent;

use super::{States, text};
use crate::error::Result;
use crate::projector::{Cx, Projector, Table};

#[derive(Debug, Default)]
pub struct OrgProjector {
    tree: States<OrgTree>,
}

impl Projector for OrgProjector {
    const NAME: &'static str = "org";
    const VERSION: i64 = 1;
    const TABLES: &'static [Table] = &[Table {
        name: "units",
        columns: "id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, parent TEXT, \
                  dissolved BIGINT NOT NULL, path TEXT NOT NULL, depth BIGINT NOT NULL",
        indexes: &["parent", "path"],
    }];
    const EVENT_TYPES: &'static [&'static str] = &[
        "UnitEstablished",
        "UnitRenamed",
        "UnitMoved",
        "UnitDissolved",
    ];

    async fn apply(&mut self, event: &RecordedEvent, cx: &mut Cx<'_>) -> Result<()> {
        if event.stream_id != ORG_STREAM {
            return Ok(());
        }
        let (tree, _) = self.tree.apply(event, cx).await?;
        // The tree is small (tens of units): rewrite every row, so moves
        // and renames reach the paths of the whole subtree.
        let rows: Vec<_> = tree
            .units()
            .map(|u| {
                let ancestors = tree.ancestors(&u.id);
                let mut path = String::from("/");
                for a in ancestors.iter().rev() {
                    path.push_str(a.id.as_str());
                    path.push('/');
                }
                path.push_str(u.id.as_str());
                path.push('/');
                vec![
                    u.id.as_str().into(),
                    u.name.as_str().into(),
                    text(&u.kind).into(),
                    u.parent.as_ref().map(|p| p.as_str()).into(),
                    u.dissolved.into(),
                    path.into(),
                    (ancestors.len() as i64).into(),
                ]
            })
            .collect();
        for args in rows {
            cx.exec(
                "INSERT INTO {units} (id, name, kind, parent, dissolved, path, depth) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
                 name = excluded.name, kind = excluded.kind, parent = excluded.parent, \
                 dissolved = excluded.dissolved, path = excluded.path, depth = excluded.depth",
                args,
            );
        }
        Ok(())
    }
}
