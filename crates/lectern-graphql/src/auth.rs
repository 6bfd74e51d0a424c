//! Who is calling, and bearer tokens.
//!
//! A token is `lct_` and 64 hex digits of randomness, printed once when it
//! is created; only its SHA-256 is stored (table `lectern_tokens`, beside
//! the read models). Tokens are credentials, not campaign facts, so they
//! are kept out of the event log. A server trusts a token it has checked
//! for `TOKEN_TTL` before it looks again, so a revocation takes effect
//! within that time everywhere (at once on the server that revoked it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lectern_domain::{StaffNo, UnitId};
use lectern_projections::{ReadDb, Stmt, Val};
use sha2::{Digest, Sha256};

use lectern_app::{Code, Error, Result};

/// What a caller may do, by role (see docs/api.md, "Who may do what").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Everything.
    Administrator,
    /// Their unit's subtree.
    UnionChair { unit: UnitId },
    /// Reads everything; writes only dispute resolutions.
    Auditor,
    /// Their own records; requests leave, files disputes, votes.
    Staff { person: StaffNo },
    /// The kiosk endpoints only.
    Kiosk { kiosk: String },
}

impl Principal {
    pub fn role(&self) -> &'static str {
        match self {
            Principal::Administrator => "administrator",
            Principal::UnionChair { .. } => "union-chair",
            Principal::Auditor => "auditor",
            Principal::Staff { .. } => "staff",
            Principal::Kiosk { .. } => "kiosk",
        }
    }

    /// The `actor` recorded in the metadata of the events a caller causes.
    pub fn actor(&self, token: &str) -> String {
        match self {
            Principal::Staff { person } => format!("person:{person}"),
            Principal::Kiosk { kiosk } => format!("kiosk:{kiosk}"),
            Principal::Administrator | Principal::UnionChair { .. } | Principal::Auditor => {
                format!("token:{token}")
            }
        }
    }
}

/// An authenticated caller: request data of every GraphQL request that
/// carried a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    /// The person the token belongs to: always for staff, optionally for
    /// the other roles (a chair who marks attendance by hand is one).
    pub person: Option<StaffNo>,
    pub token_id: String,
}

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    pub role: String,
    pub unit: Option<String>,
    pub person: Option<String>,
    pub kiosk: Option<String>,
    pub label: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// How long a server trusts a token it has checked before it looks again.
pub const TOKEN_TTL: Duration = Duration::from_secs(5);

/// Tokens checked recently, by hash; cleared when it grows past this.
const CACHE_MAX: usize = 10_000;

/// The token register. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Tokens {
    db: Arc<ReadDb>,
    checked: Arc<Mutex<HashMap<String, (Caller, Instant)>>>,
    ttl: Duration,
}

fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Tokens {
    /// The register in `db`, a migrated database (its tables
    /// `lectern_tokens` and `lectern_secrets` are made by a migration).
    pub fn new(db: ReadDb) -> Tokens {
        Tokens {
            db: Arc::new(db),
            checked: Arc::default(),
            ttl: TOKEN_TTL,
        }
    }

    /// The same register trusting a checked token for `ttl` instead of
    /// `TOKEN_TTL` (zero: look every time).
    pub fn with_ttl(mut self, ttl: Duration) -> Tokens {
        self.ttl = ttl;
        self
    }

    /// The key that signs report download links, the same for every server
    /// on this database (so a link made by one is honoured by another);
    /// made by the first server that asks. Deleting its row in
    /// `lectern_secrets` replaces it at the next start, and links made
    /// before stop working.
    pub async fn link_key(&self) -> Result<[u8; 32]> {
        let fresh = crate::exports::link_key();
        let hex: String = fresh.iter().map(|b| format!("{b:02x}")).collect();
        let insert = Stmt {
            sql: Arc::from(
                "INSERT INTO lectern_secrets (name, value) VALUES ('link_key', $1) \
                 ON CONFLICT (name) DO NOTHING",
            ),
            args: vec![Val::from(hex.as_str())],
        };
        self.db
            .transact(None, &[insert])
            .await
            .map_err(Error::internal)?;
        let rows = self
            .db
            .fetch(
                "SELECT value FROM lectern_secrets WHERE name = 'link_key'",
                &[],
            )
            .await
            .map_err(Error::internal)?;
        let stored = rows
            .first()
            .and_then(|r| r.opt("value"))
            .unwrap_or_default();
        let mut key = [0u8; 32];
        if stored.len() != 64 || !stored.is_ascii() {
            return Err(Error::internal(format!(
                "lectern_secrets holds a link key of {} characters, not 64 hexadecimal digits",
                stored.len()
            )));
        }
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&stored[2 * i..2 * i + 2], 16).map_err(|_| {
                Error::internal("lectern_secrets holds a link key that is not hexadecimal")
            })?;
        }
        Ok(key)
    }

    /// Creates a token for `principal` and returns it with its secret,
    /// which is not stored and cannot be shown again.
    pub async fn create(
        &self,
        principal: &Principal,
        person: Option<&StaffNo>,
        label: &str,
    ) -> Result<(TokenInfo, String)> {
        let secret = format!(
            "lct_{}",
            crate::exports::random_bytes::<32>()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        // Time-ordered (the v7 timestamp's milliseconds) and random (two
        // tokens made in the same millisecond must not share an id).
        let id = format!(
            "{}{}",
            &uuid::Uuid::now_v7().simple().to_string()[..10],
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        );
        let person = person.map(|p| p.as_str().to_owned());
        let (unit, person, kiosk) = match principal {
            Principal::UnionChair { unit } => (Some(unit.as_str().to_owned()), person, None),
            Principal::Staff { person } => (None, Some(person.as_str().to_owned()), None),
            Principal::Kiosk { kiosk } => (None, None, Some(kiosk.clone())),
            Principal::Administrator | Principal::Auditor => (None, person, None),
        };
        let created_at = lectern_projections::timestamp(Utc::now());
        let insert = Stmt {
            sql: Arc::from(
                "INSERT INTO lectern_tokens (id, hash, role, unit, person, kiosk, label, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            ),
            args: vec![
                Val::from(id.as_str()),
                Val::from(hash(&secret)),
                Val::from(principal.role()),
                Val::from(unit.clone()),
                Val::from(person.clone()),
                Val::from(kiosk.clone()),
                Val::from(label),
                Val::from(created_at.as_str()),
            ],
        };
        self.db
            .transact(None, &[insert])
            .await
            .map_err(Error::internal)?;
        let info = TokenInfo {
            id,
            role: principal.role().to_owned(),
            unit,
            person,
            kiosk,
            label: label.to_owned(),
            created_at,
            revoked_at: None,
        };
        Ok((info, secret))
    }

    /// The caller a bearer secret stands for, if it is valid and not revoked.
    pub async fn authenticate(&self, secret: &str) -> Result<Caller> {
        let hash = hash(secret.trim());
        if let Some((caller, at)) = self.checked.lock().expect("not poisoned").get(&hash)
            && at.elapsed() < self.ttl
        {
            return Ok(caller.clone());
        }
        let caller = self.look_up(&hash).await?;
        let mut checked = self.checked.lock().expect("not poisoned");
        if checked.len() >= CACHE_MAX {
            checked.clear();
        }
        checked.insert(hash, (caller.clone(), Instant::now()));
        Ok(caller)
    }

    /// The caller a token id stands for, if the token is not revoked (for
    /// a signed download link, which names the token by its id).
    pub async fn caller_by_id(&self, id: &str) -> Result<Caller> {
        self.look_up_where("id", id).await
    }

    async fn look_up(&self, hash: &str) -> Result<Caller> {
        self.look_up_where("hash", hash).await
    }

    async fn look_up_where(&self, column: &str, value: &str) -> Result<Caller> {
        let rows = self
            .db
            .fetch(
                &format!(
                    "SELECT id, role, unit, person, kiosk FROM lectern_tokens \
                     WHERE {column} = $1 AND revoked_at IS NULL"
                ),
                &[Val::from(value)],
            )
            .await
            .map_err(Error::internal)?;
        let Some(row) = rows.first() else {
            return Err(Error::new(
                Code::Unauthenticated,
                "the bearer token is not valid (unknown or revoked)",
            ));
        };
        let (unit, person, kiosk) = (row.opt("unit"), row.opt("person"), row.opt("kiosk"));
        let principal = parse_principal(
            &row.text("role"),
            unit.as_deref(),
            person.as_deref(),
            kiosk.as_deref(),
        )?;
        Ok(Caller {
            principal,
            person: person.as_deref().map(StaffNo::parse).transpose()?,
            token_id: row.text("id"),
        })
    }

    pub async fn list(&self) -> Result<Vec<TokenInfo>> {
        let rows = self
            .db
            .fetch(
                "SELECT id, role, unit, person, kiosk, label, created_at, revoked_at \
                 FROM lectern_tokens ORDER BY created_at, id",
                &[],
            )
            .await
            .map_err(Error::internal)?;
        Ok(rows
            .iter()
            .map(|r| TokenInfo {
                id: r.text("id"),
                role: r.text("role"),
                unit: r.opt("unit"),
                person: r.opt("person"),
                kiosk: r.opt("kiosk"),
                label: r.text("label"),
                created_at: r.text("created_at"),
                revoked_at: r.opt("revoked_at"),
            })
            .collect())
    }

    /// Revokes a token by id; revoking twice is refused with NOT_FOUND.
    pub async fn revoke(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        let revoke = Stmt {
            sql: Arc::from(
                "UPDATE lectern_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            ),
            args: vec![Val::from(at), Val::from(id)],
        };
        let done = self
            .db
            .transact(Some(&revoke), &[])
            .await
            .map_err(Error::internal)?;
        if done {
            self.checked
                .lock()
                .expect("not poisoned")
                .retain(|_, (caller, _)| caller.token_id != id);
            Ok(())
        } else {
            Err(Error::not_found(format!(
                "no active token has the id {id:?}"
            )))
        }
    }
}

/// A principal from a role name and the scope it needs.
pub fn parse_principal(
    role: &str,
    unit: Option<&str>,
    person: Option<&str>,
    kiosk: Option<&str>,
) -> Result<Principal> {
    let need = |what: &str, v: Option<&str>| {
        v.map(str::to_owned)
            .ok_or_else(|| Error::bad_input(format!("the role {role:?} needs a {what}")))
    };
    Ok(match role {
        "administrator" => Principal::Administrator,
        "auditor" => Principal::Auditor,
        "union-chair" => Principal::UnionChair {
            unit: UnitId::parse(&need("unit", unit)?)?,
        },
        "staff" => Principal::Staff {
            person: StaffNo::parse(&need("person (staff number)", person)?)?,
        },
        "kiosk" => Principal::Kiosk {
            kiosk: need("kiosk id", kiosk)?,
        },
        other => {
            return Err(Error::bad_input(format!(
                "unknown role {other:?}; the roles are administrator, union-chair, auditor, \
                 staff and kiosk"
            )));
        }
    })
}
