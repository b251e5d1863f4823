-- Crash recovery (issue 17, item 6): when the customer answered the attempt
-- (written as soon as the dial is answered, before the script). An attempt
-- a dead process left in progress is settled at the next start by it: an
-- answered one ends the survey (interrupted, no second call); an unanswered
-- one counts and the retry rule applies (docs/survey.md, Crash recovery).
ALTER TABLE survey_attempt ADD COLUMN answered_at timestamptz;
