-- A registration's Path (RFC 3327): the proxy in front (deploy/kamailio)
-- that the node ringing the phone must route through, comma-separated,
-- top first; '' when the phone registered directly.
ALTER TABLE sip_bindings ADD COLUMN path text NOT NULL DEFAULT '';
