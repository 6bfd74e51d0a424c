//! How domain events are stored: the event type is `DomainEvent::event_type`
//! and the payload is the event's own tagged JSON (the shape pinned by the
//! domain's `shapes` tests), so a payload alone says what it is.

use lectern_domain::{Aggregate, DomainEvent, KeyChange, Positioned};
use lectern_store::{
    AppendRequest, Appended, ExpectedVersion, Metadata, NewEvent, PersonalFields, RecordedEvent,
    Store, StoreOptions, UniqueKey,
};

use crate::error::{Error, Result};

/// The domain's personal fields (`lectern_domain::personal`) as the store
/// seals them.
pub fn personal_fields() -> PersonalFields {
    use lectern_domain::personal::{ErasedAs, PERSONAL_FIELDS, Whose};
    use lectern_store::personal::{Erased, Subject};
    PERSONAL_FIELDS
        .iter()
        .fold(PersonalFields::new(), |fields, f| {
            fields.declare(
                f.event_type,
                f.field,
                match f.whose {
                    Whose::Field(name) => Subject::Field(name),
                    Whose::PersonStream => Subject::Stream("person-"),
                },
                match f.erased {
                    ErasedAs::Text => Erased::Text,
                    ErasedAs::Nothing => Erased::Null,
                },
            )
        })
}

/// The options of a store that holds the campaign's events: the defaults,
/// with the domain's personal fields sealed.
pub fn store_options() -> StoreOptions {
    StoreOptions {
        personal: personal_fields(),
        ..StoreOptions::default()
    }
}

/// The store's form of a domain event.
pub fn encode<E: DomainEvent>(event: &E) -> NewEvent {
    let payload = serde_json::to_string(event).expect("domain events serialize");
    NewEvent::from_json(event.event_type(), payload)
        .expect("a domain event has a type and a JSON payload")
        .with_schema_version(event.schema_version())
}

/// A stored event read back as a domain event.
pub fn decode<E: DomainEvent>(event: &RecordedEvent) -> Result<E> {
    serde_json::from_str(&event.payload).map_err(|e| Error::event(event, e))
}

/// Visits a stream's events with positions before `before`, in order;
/// returns the stream version of the last one visited.
async fn visit(
    store: &Store,
    stream: &str,
    before: u64,
    mut f: impl FnMut(&RecordedEvent) -> Result<()>,
) -> Result<u64> {
    let mut version = 0;
    loop {
        let page = store.read_stream(stream, version + 1, 1000).await?;
        let n = page.len();
        for e in &page {
            if e.position >= before {
                return Ok(version);
            }
            f(e)?;
            version = e.stream_version;
        }
        if n < 1000 {
            return Ok(version);
        }
    }
}

/// A stream's events with positions before `before` (all of them with
/// `u64::MAX`), decoded, and the stream version of the last one.
pub async fn history<E: DomainEvent>(
    store: &Store,
    stream: &str,
    before: u64,
) -> Result<(Vec<E>, u64)> {
    let mut events = Vec::new();
    let version = visit(store, stream, before, |e| {
        events.push(decode(e)?);
        Ok(())
    })
    .await?;
    Ok((events, version))
}

/// A stream's events before `before` with their positions and occurrence
/// times, as the appraisal folds take them.
pub async fn positioned<E: DomainEvent>(
    store: &Store,
    stream: &str,
    before: u64,
) -> Result<Vec<Positioned<E>>> {
    let mut out = Vec::new();
    visit(store, stream, before, |e| {
        out.push(Positioned {
            position: e.position,
            occurred_at: e.occurred_at,
            event: decode(e)?,
        });
        Ok(())
    })
    .await?;
    Ok(out)
}

/// Folds a stream's events with positions before `before` (all of them
/// with `u64::MAX`); also returns the stream's version that was folded.
pub async fn load<A: Aggregate>(store: &Store, stream: &str, before: u64) -> Result<(A, u64)> {
    let (events, version) = history::<A::Event>(store, stream, before).await?;
    let state = A::fold(&events).map_err(|err| Error::Event {
        position: before.min(u64::MAX - 1),
        event_type: format!("stream {stream}"),
        reason: err.to_string(),
    })?;
    Ok((state, version))
}

/// Appends a decision's events to `stream`, expecting it at `version` (the
/// version `load` returned), with the unique keys the decision names and
/// who decided (`meta`).
pub async fn commit<E: DomainEvent>(
    store: &Store,
    stream: &str,
    version: u64,
    events: &[E],
    keys: &[KeyChange],
    meta: &Metadata,
) -> Result<Appended> {
    Ok(store
        .submit(append_request(stream, version, events, keys, meta))
        .await?)
}

/// The request `commit` submits: for decisions that append to several
/// streams in one transaction (`Store::submit_all`).
pub fn append_request<E: DomainEvent>(
    stream: &str,
    version: u64,
    events: &[E],
    keys: &[KeyChange],
    meta: &Metadata,
) -> AppendRequest {
    let expected = if version == 0 {
        ExpectedVersion::NoStream
    } else {
        ExpectedVersion::Exact(version)
    };
    let events = events
        .iter()
        .map(|e| encode(e).with_metadata(meta))
        .collect();
    let mut request = AppendRequest::new(stream, expected, events);
    for k in keys {
        request = match k {
            KeyChange::Claim { scope, key } => request.claim(UniqueKey::new(*scope, key.clone())),
            KeyChange::Release { scope, key } => {
                request.release(UniqueKey::new(*scope, key.clone()))
            }
        };
    }
    request
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_store_reads_an_erased_text_as_the_domain_writes_it() {
        assert_eq!(
            lectern_store::personal::ERASED_TEXT,
            lectern_domain::personal::ERASED
        );
    }
}
