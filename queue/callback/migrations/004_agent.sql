-- Callbacks an agent scheduled from the desk (source 'agent', issue 18):
-- who scheduled it, the call it was scheduled from, and when it is due
-- (its joined_at and requested_at are the due time: its place in line and
-- its own wait count from then). The agent's list reads agent.
ALTER TABLE callback ADD COLUMN agent text NOT NULL DEFAULT '';
ALTER TABLE callback ADD COLUMN of_call text NOT NULL DEFAULT '';
ALTER TABLE callback ADD COLUMN due_at timestamptz;
CREATE INDEX callback_agent_idx ON callback (agent, due_at) WHERE agent <> '';
