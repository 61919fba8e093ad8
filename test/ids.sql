-- Ids of the extension's tables are unique across the nodes of a Citus
-- cluster however a call is routed (issue 13): activepipe_next_id puts the
-- node's Citus group (pg_dist_local_group) above its own sequence value,
-- and is the sequence itself on a server without Citus.  A stand-in
-- pg_dist_local_group shows the rule here; test/citus/ shows it on a real
-- cluster.  (First in its transaction: the group is read once per
-- transaction.)
BEGIN;
SELECT plan(4);

SET LOCAL allow_system_table_mods = on;
CREATE TABLE pg_catalog.pg_dist_local_group (groupid int);
INSERT INTO pg_catalog.pg_dist_local_group VALUES (3);
SELECT is(activepipe_next_id('public.integration_events_id_seq') >> 48, 3::bigint,
	'a node of group 3 draws ids with 3 in the high bits');
SELECT is(activepipe_next_id('public.integration_events_id_seq') & ((1::bigint << 48) - 1),
	currval('public.integration_events_id_seq'), '... and its own sequence value in the low 48');
SELECT is(activepipe_next_id('public.contact_integrations_id_seq') >> 48, 3::bigint,
	'... for profiles too');
SELECT throws_ok($$SELECT activepipe_next_id('pg_catalog.pg_class')$$, '42809', NULL,
	'something that is not a sequence is refused');
DROP TABLE pg_catalog.pg_dist_local_group;

SELECT * FROM finish();
ROLLBACK;
