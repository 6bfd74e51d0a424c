-- Personal data that can be erased without breaking the chain (sqlite; the
-- twin is in migrations/postgres). See crates/lectern-store/src/personal.rs.

-- One key per person whose personal fields the log seals. Never in the log.
-- Erasing a person's personal data overwrites the key with NULL.
CREATE TABLE personal_keys (
    -- The person (a staff number).
    subject     TEXT PRIMARY KEY,
    -- 32 random bytes; NULL once erased.
    key         BLOB,
    -- Server times, RFC 3339.
    created_at  TEXT NOT NULL,
    erased_at   TEXT
);
-- Readers count the erased keys at every read that opens a sealed field
-- (a change makes them forget the keys they hold): an index of those only.
CREATE INDEX personal_keys_erased ON personal_keys (subject) WHERE key IS NULL;

-- Where sealing began: events up to position `since` were written before
-- this migration and keep their personal fields in the clear.
CREATE TABLE personal_protection (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    since  INTEGER NOT NULL
);
INSERT INTO personal_protection (id, since) SELECT 1, COALESCE(MAX(position), 0) FROM events;
