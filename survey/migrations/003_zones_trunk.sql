-- The numbering plan and the dialling policy (issues 15 and 17).
-- zone: every zone the number could be in, comma-separated (one when known).
-- zone_status: known | ambiguous | unknown ('' for rows decided before).
-- trunk: the trunk the surveyed call came in on (call.arrived); the dialling
-- policy refuses to dial a number that did not arrive through a trunk, so
-- rows scheduled before this migration (trunk '') are refused at their
-- dial (not-inbound) and end as failed, dial-refused.
ALTER TABLE survey ADD COLUMN zone_status text NOT NULL DEFAULT '';
ALTER TABLE survey ADD COLUMN trunk text NOT NULL DEFAULT '';
