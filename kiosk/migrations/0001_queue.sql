-- The kiosk's database, version 1: its identity and key, the tap counter,
-- the queue of taps the server has not answered for, the taps it refused,
-- and the last roster. Kiosk databases made before migrations were
-- versioned hold these tables already, with their queued taps: IF NOT
-- EXISTS keeps them.
CREATE TABLE IF NOT EXISTS identity (
    one     INTEGER PRIMARY KEY CHECK (one = 1),
    kiosk   TEXT NOT NULL,
    venue   TEXT NOT NULL,
    server  TEXT NOT NULL,
    secret  TEXT NOT NULL
);

-- The last tap counter used; never repeats (it is not derived from the
-- queue, whose acknowledged taps are deleted).
CREATE TABLE IF NOT EXISTS counter (
    one   INTEGER PRIMARY KEY CHECK (one = 1),
    last  INTEGER NOT NULL
);
INSERT OR IGNORE INTO counter (one, last) VALUES (1, 0);

CREATE TABLE IF NOT EXISTS queue (
    counter  INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    signed   TEXT NOT NULL,
    local    TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS refused (
    counter  INTEGER PRIMARY KEY,
    signed   TEXT NOT NULL,
    reason   TEXT NOT NULL,
    at       TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS roster (
    one   INTEGER PRIMARY KEY CHECK (one = 1),
    json  TEXT NOT NULL
);
