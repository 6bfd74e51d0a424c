-- Checkpoints as C2SP signed notes, and the witnesses' cosignatures (postgres;
-- the twin is in migrations/sqlite).
-- A checkpoint's note is what is published outside the database and what
-- kiosks and outside witnesses check and cosign
-- (crates/lectern-tlog/src/note.rs). NULL for checkpoints signed before.
ALTER TABLE checkpoints ADD COLUMN note TEXT;

-- Cosignatures of checkpoints (c2sp.org/tlog-cosignature): by kiosks, which
-- witness every roster, and by outside witnesses. One row per witness: the
-- latest checkpoint it cosigned, as the whole note it saw with its
-- cosignature line, so that another witness can be shown it.
CREATE TABLE checkpoint_cosignatures (
    -- The witness's key name (a kiosk: kiosk/<id>).
    witness      TEXT PRIMARY KEY,
    size         BIGINT NOT NULL,
    -- The checkpoint note with the log's and the witness's signature lines.
    note         TEXT NOT NULL,
    -- Server time it was recorded, RFC 3339.
    recorded_at  TEXT NOT NULL
);

-- A kiosk's witness alarm: the server showed it a log that does not extend
-- the one it saw before (NULL: none).
ALTER TABLE kiosk_heartbeats ADD COLUMN witness_alarm TEXT;
