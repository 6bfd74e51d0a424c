-- What each kiosk last reported in a heartbeat (SQLite). Operational state,
-- not campaign facts: kept beside the log, one row per kiosk, overwritten.
-- The PostgreSQL twin is migrations/postgres/0002_kiosk_heartbeats.sql.
CREATE TABLE kiosk_heartbeats (
    kiosk           TEXT    PRIMARY KEY,
    -- Server time when it arrived, RFC 3339.
    seen_at         TEXT    NOT NULL,
    -- The kiosk's clock when it sent it (the signed time header).
    kiosk_time      TEXT    NOT NULL,
    -- Server clock minus kiosk clock, measured at arrival, milliseconds.
    clock_offset_ms INTEGER NOT NULL,
    version         TEXT    NOT NULL,
    -- Taps waiting in the kiosk's queue.
    backlog         INTEGER NOT NULL,
    last_tap        TEXT
);
