-- Personal data (152-FZ). The opt-out list must keep a person from being
-- called even after their number is erased, so it keeps a salted SHA-256
-- of the number (survey_number_hash) instead of the number. The salt is
-- random per database. Numbers in the survey table are blanked by the
-- retention job and by an erasure (survey.PurgeExpired, survey.EraseNumber).
CREATE TABLE survey_salt (
    salt text NOT NULL
);
INSERT INTO survey_salt VALUES (replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

CREATE FUNCTION survey_number_hash(number text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to((SELECT salt FROM survey_salt) || number, 'UTF8')), 'hex')
$$;

ALTER TABLE survey_optout ADD COLUMN number_hash text;
UPDATE survey_optout SET number_hash = survey_number_hash(number);
ALTER TABLE survey_optout DROP CONSTRAINT survey_optout_pkey;
ALTER TABLE survey_optout DROP COLUMN number;
ALTER TABLE survey_optout ALTER COLUMN number_hash SET NOT NULL;
ALTER TABLE survey_optout ADD PRIMARY KEY (number_hash);
