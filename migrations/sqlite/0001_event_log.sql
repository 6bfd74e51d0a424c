-- The append-only event log (SQLite). See crates/lectern-store for the rules
-- this table encodes; the PostgreSQL twin is migrations/postgres/0001_event_log.sql.
CREATE TABLE events (
    -- Global position: strictly increasing and gap-free in commit order.
    position        INTEGER PRIMARY KEY CHECK (position > 0),
    stream_id       TEXT    NOT NULL CHECK (length(stream_id) > 0),
    stream_version  INTEGER NOT NULL CHECK (stream_version > 0),
    -- Idempotency key: a UUID's 16 bytes.
    event_id        BLOB    NOT NULL UNIQUE CHECK (length(event_id) = 16),
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL CHECK (schema_version > 0),
    -- JSON text, stored byte for byte as appended (the hash covers these bytes).
    payload         TEXT    NOT NULL,
    metadata        TEXT    NOT NULL,
    -- Microseconds since the Unix epoch, UTC.
    occurred_at     INTEGER NOT NULL,
    recorded_at     INTEGER NOT NULL,
    prev_hash       BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash            BLOB    NOT NULL CHECK (length(hash) = 32),
    UNIQUE (stream_id, stream_version)
) STRICT;

-- The database itself refuses to change or remove an event.
CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'lectern: the event log is append-only; UPDATE of events is refused');
END;

CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'lectern: the event log is append-only; DELETE of events is refused');
END;

-- Keys that must be unique across streams (a staff number, an active card
-- UID), claimed and released in the same transaction as the events that
-- need them.
CREATE TABLE unique_keys (
    scope         TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    owner_stream  TEXT    NOT NULL,
    -- Position of the first event of the append that claimed the key.
    claimed_at    INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) STRICT;
