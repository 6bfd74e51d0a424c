-- The append-only event log (PostgreSQL). See crates/lectern-store for the
-- rules this table encodes; the SQLite twin is migrations/sqlite/0001_event_log.sql.
CREATE TABLE events (
    -- Global position: strictly increasing and gap-free in commit order. It is
    -- assigned by the writer under an advisory lock, never by a sequence,
    -- whose values become visible out of commit order.
    position        BIGINT      PRIMARY KEY CHECK (position > 0),
    stream_id       TEXT        NOT NULL CHECK (length(stream_id) > 0),
    stream_version  BIGINT      NOT NULL CHECK (stream_version > 0),
    event_id        UUID        NOT NULL UNIQUE,
    event_type      TEXT        NOT NULL,
    schema_version  INTEGER     NOT NULL CHECK (schema_version > 0),
    -- `json`, not `jsonb`: it keeps the appended text byte for byte, and the
    -- hash covers these bytes.
    payload         JSON        NOT NULL,
    metadata        JSON        NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    prev_hash       BYTEA       NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash            BYTEA       NOT NULL CHECK (octet_length(hash) = 32),
    UNIQUE (stream_id, stream_version)
);

-- The database itself refuses to change or remove an event.
CREATE FUNCTION lectern_refuse_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'lectern: the event log is append-only; % of events is refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER events_refuse_update_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION lectern_refuse_event_change();

CREATE TRIGGER events_refuse_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION lectern_refuse_event_change();

-- Keys that must be unique across streams (a staff number, an active card
-- UID), claimed and released in the same transaction as the events that
-- need them.
CREATE TABLE unique_keys (
    scope         TEXT   NOT NULL,
    key           TEXT   NOT NULL,
    owner_stream  TEXT   NOT NULL,
    -- Position of the first event of the append that claimed the key.
    claimed_at    BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
