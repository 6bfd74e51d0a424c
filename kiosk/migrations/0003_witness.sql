-- The kiosk as a witness of the server's log: the key it trusts, the latest
-- checkpoint it accepted, that checkpoint with its own cosignature, and the
-- alarm it raised when shown a log that does not extend it. One row.
CREATE TABLE witness (
    one       INTEGER PRIMARY KEY CHECK (one = 1),
    log_key   TEXT,
    note      TEXT,
    cosigned  TEXT,
    alarm     TEXT
) STRICT;
