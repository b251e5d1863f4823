-- The trunk the caller's call came in on: the dialling policy dials back
-- only numbers that arrived through a trunk.
ALTER TABLE callback ADD COLUMN trunk text NOT NULL DEFAULT '';
