-- Heartbeats are taken in the order the kiosk signed them (sqlite): the row
-- keeps the key that signed the last one taken and the kiosk's monotonic
-- reading then (its boot and microseconds), and a heartbeat signed at or
-- before that reading by the same key (a replay, or one overtaken on the
-- way) changes nothing.
ALTER TABLE kiosk_heartbeats ADD COLUMN public_key TEXT;
ALTER TABLE kiosk_heartbeats ADD COLUMN boot INTEGER;
ALTER TABLE kiosk_heartbeats ADD COLUMN mono_us INTEGER;
