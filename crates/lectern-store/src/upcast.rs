//! Schema evolution: old payloads are turned into the current shape on read.
//!
//! A stored event is never rewritten (the hash covers its bytes); instead an
//! upcaster registered for `(event_type, from_version)` maps a payload of
//! that version to `from_version + 1`, and reads apply them in a chain until
//! no upcaster matches.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::RecordedEvent;

type UpcastFn = dyn Fn(Value) -> std::result::Result<Value, String> + Send + Sync;

/// The registered upcasters of a store.
#[derive(Clone, Default)]
pub struct Upcasters {
    by_type: HashMap<String, HashMap<u32, Arc<UpcastFn>>>,
}

impl std::fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<_> = self
            .by_type
            .iter()
            .flat_map(|(t, m)| m.keys().map(move |v| format!("{t} v{v}")))
            .collect();
        keys.sort();
        f.debug_struct("Upcasters").field("from", &keys).finish()
    }
}

impl Upcasters {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `f` to turn `event_type` payloads of `from_version` into
    /// `from_version + 1`.
    pub fn register<F>(mut self, event_type: &str, from_version: u32, f: F) -> Self
    where
        F: Fn(Value) -> std::result::Result<Value, String> + Send + Sync + 'static,
    {
        self.by_type
            .entry(event_type.to_owned())
            .or_default()
            .insert(from_version, Arc::new(f));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty()
    }

    /// Brings `e` to the newest version its type has upcasters for.
    pub(crate) fn apply(&self, mut e: RecordedEvent) -> Result<RecordedEvent> {
        let Some(chain) = self.by_type.get(&e.event_type) else {
            return Ok(e);
        };
        if !chain.contains_key(&e.schema_version) {
            return Ok(e);
        }
        let mut value = e.payload_json()?;
        while let Some(f) = chain.get(&e.schema_version) {
            value = f(value).map_err(|reason| Error::Upcast {
                position: e.position,
                event_type: e.event_type.clone(),
                schema_version: e.schema_version,
                reason,
            })?;
            e.schema_version += 1;
        }
        e.payload = value.to_string();
        Ok(e)
    }
}
