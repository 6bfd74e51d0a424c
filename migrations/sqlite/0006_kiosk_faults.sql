-- What a kiosk's heartbeat says is wrong with its card reader and the disk
-- its queue is on (sqlite; NULL: nothing, or a kiosk too old to say).
ALTER TABLE kiosk_heartbeats ADD COLUMN reader_fault TEXT;
ALTER TABLE kiosk_heartbeats ADD COLUMN disk_fault TEXT;
