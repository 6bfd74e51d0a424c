-- Signed checkpoints of the log (sqlite; the twin is in migrations/postgres).
-- A checkpoint signs the log's size, the Merkle root over its chain
-- hashes and its head hash with the server's Ed25519 checkpoint key
-- (crates/lectern-audit/src/checkpoints.rs). Kept beside the log: they
-- are statements about it, not campaign facts.
CREATE TABLE checkpoint_keys (
    -- First 16 hex digits of the SHA-256 of the public key.
    key_id      TEXT PRIMARY KEY,
    -- Ed25519 public key, hex.
    public_key  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    -- Set when the key was rotated; it still verifies what it signed.
    retired_at  TEXT
);

CREATE TABLE checkpoints (
    size        INTEGER PRIMARY KEY CHECK (size > 0),
    root        TEXT NOT NULL,
    head_hash   TEXT NOT NULL,
    signed_at   TEXT NOT NULL,
    key_id      TEXT NOT NULL REFERENCES checkpoint_keys (key_id),
    signature   TEXT NOT NULL
);
