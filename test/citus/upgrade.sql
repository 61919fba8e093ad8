-- An update of activepipe on a Citus cluster, as docs/scaling.md
-- ("Updating the extension on a cluster") says, after 1.1 was distributed
-- as 1.1's documentation said.  test/citus/upgrade.sh loads it on the
-- coordinator with psql -f from the repository root, in three parts:
-- -v part=install, then part=update (the update), then part=place (the
-- tables and functions it created placed).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

\if :{?part}
\else
\set part install
\endif
SELECT :'part' = 'install' AS install, :'part' = 'update' AS update, :'part' = 'place' AS place \gset

\if :install
\i test/fixtures/ulysses_schema.sql
CREATE UNIQUE INDEX contacts_user_id_id_key ON public.contacts (user_id, id);
ALTER TABLE public.contacts DROP CONSTRAINT contacts_pkey;
ALTER TABLE public.contacts ADD CONSTRAINT contacts_pkey PRIMARY KEY USING INDEX contacts_user_id_id_key;
DROP INDEX IF EXISTS public.contacts_user_id_idx;

CREATE EXTENSION activepipe VERSION '1.1';
SELECT create_reference_table('public.users');
SELECT create_distributed_table('public.contacts', 'user_id');
SELECT create_distributed_table('contact_integrations', 'user_id', colocate_with := 'contacts');
SELECT create_distributed_table('integration_events', 'user_id', colocate_with := 'contacts');
SELECT create_reference_table('contacts_binding');
SELECT format('SELECT create_distributed_function(%L, %L, colocate_with := %L)',
              p.oid::regprocedure, 'user_id', 'contacts')
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'activepipe')
  AND p.proargnames[1] = 'user_id'
ORDER BY 1 \gexec

-- 1.1's rows: twenty tenants (so both workers hold some), two contacts
-- each, a profile and an event written as 1.1 wrote them
INSERT INTO public.users (id, email)
SELECT u, 'agent' || u || '@example.com' FROM generate_series(1, 20) u;
INSERT INTO public.contacts (id, user_id, first_name, last_name, email, mobile)
SELECT u * 100 + n, u, 'C' || n, 'T' || u, 'c' || n || '@example.com', '0412 000 00' || n
FROM generate_series(1, 20) u, generate_series(1, 2) n;
INSERT INTO contact_integrations (user_id, contact_id, payload_json)
SELECT u, u * 100 + 1, '{"status": "subscribed"}' FROM generate_series(1, 20) u;
INSERT INTO integration_events (user_id, event_type, total_rows)
SELECT u, 'import', 2 FROM generate_series(1, 20) u;
\endif

\if :update
-- docs/scaling.md, "Updating the extension on a cluster"
ALTER EXTENSION activepipe UPDATE;
\endif

\if :place

-- the tables the update created, colocated with contacts
SELECT format('SELECT create_distributed_table(%L, %L, colocate_with := %L)',
              c.oid::regclass, 'user_id', 'contacts')
FROM pg_class c
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'activepipe')
  AND c.relkind = 'r'
  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_id')
  AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = c.oid)
ORDER BY c.relname \gexec

-- the functions it created or replaced (registering one again is harmless)
SELECT format('SELECT create_distributed_function(%L, %L, colocate_with := %L)',
              p.oid::regprocedure, 'user_id', 'contacts')
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'activepipe')
  AND p.proargnames[1] = 'user_id'
ORDER BY 1 \gexec
\endif
