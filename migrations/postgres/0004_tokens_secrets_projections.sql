-- Tables beside the log that servers share (postgres; the twin is in
-- migrations/sqlite). Databases made before this migration already hold
-- them, made by the servers themselves, hence IF NOT EXISTS.

-- Bearer tokens: only the SHA-256 of each secret is kept.
CREATE TABLE IF NOT EXISTS lectern_tokens (
    id          TEXT PRIMARY KEY,
    hash        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,
    unit        TEXT,
    person      TEXT,
    kiosk       TEXT,
    label       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

-- Secrets every server on the database shares: the download-link key.
CREATE TABLE IF NOT EXISTS lectern_secrets (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Each projector's checkpoint: the generation of its tables serving
-- readers, the last generation made, its version and the log position
-- it has applied.
CREATE TABLE IF NOT EXISTS lectern_projections (
    name             TEXT PRIMARY KEY,
    generation       BIGINT NOT NULL,
    last_generation  BIGINT NOT NULL,
    version          BIGINT NOT NULL,
    position         BIGINT NOT NULL,
    updated_at       TEXT NOT NULL
);
