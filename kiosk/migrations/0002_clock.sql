-- The kiosk database, version 2: the kiosk's clock. Each boot of the
-- machine the kiosk runs on is numbered (`boots`); every queued tap names
-- the boot and monotonic reading it was read at; `sync_points` keeps, per
-- boot and ten-minute stretch of its monotonic clock, the latest server
-- time an answer gave (against the midpoint of the exchange), and the
-- wall clock's offset measured then. Taps queued by version 1 have no
-- reading: the server places them by the corrected wall clock.
CREATE TABLE boots (
    seq      INTEGER PRIMARY KEY,
    os_boot  TEXT NOT NULL UNIQUE
);

CREATE TABLE sync_points (
    boot         INTEGER NOT NULL,
    stretch      INTEGER NOT NULL,
    mono_us      INTEGER NOT NULL,
    server_time  TEXT NOT NULL,
    offset_ms    INTEGER NOT NULL,
    PRIMARY KEY (boot, stretch)
);

ALTER TABLE queue ADD COLUMN boot INTEGER;
ALTER TABLE queue ADD COLUMN mono_us INTEGER;
