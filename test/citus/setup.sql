-- The Citus setup of docs/scaling.md, step by step, on the coordinator
-- (test/citus/cluster.sh has created the citus extension on every node
-- and registered the workers).  run.sh loads it with psql -f from the
-- repository root, with -v citus=1 on the coordinator and -v citus=0 on
-- the plain node, which gets the same schema, key and extension and no
-- distribution.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

\i test/fixtures/ulysses_schema.sql

-- "Before distributing: contacts must be keyed by (user_id, id)"
CREATE UNIQUE INDEX CONCURRENTLY contacts_user_id_id_key ON public.contacts (user_id, id);
BEGIN;
ALTER TABLE public.contacts DROP CONSTRAINT contacts_pkey;
ALTER TABLE public.contacts ADD CONSTRAINT contacts_pkey
      PRIMARY KEY USING INDEX contacts_user_id_id_key;
DROP INDEX IF EXISTS public.contacts_user_id_idx;  -- the new key already leads with user_id
COMMIT;

\if :citus
-- "The calls"
CREATE EXTENSION IF NOT EXISTS citus;
CREATE EXTENSION IF NOT EXISTS activepipe;     -- Citus creates it on every worker too

-- tables: the referenced table first, then the tenant tables, colocated
SELECT create_reference_table('public.users');
SELECT create_distributed_table('public.contacts', 'user_id');
-- every table of the extension keyed by the tenant, colocated with
-- contacts (the catalog query docs/scaling.md gives); contacts_binding,
-- the one configuration row, is a reference table
SELECT format('SELECT create_distributed_table(%L, %L, colocate_with := %L)',
              c.oid::regclass, 'user_id', 'contacts')
FROM pg_class c
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'activepipe')
  AND c.relkind = 'r'
  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_id')
ORDER BY c.relname \gexec
SELECT create_reference_table('contacts_binding');

-- functions: every function of the extension whose first argument is
-- user_id, from the catalog, so a new version's functions are never missed
SELECT format('SELECT create_distributed_function(%L, %L, colocate_with := %L)',
              p.oid::regprocedure, 'user_id', 'contacts')
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'activepipe')
  AND p.proargnames[1] = 'user_id'
ORDER BY 1 \gexec
\else
CREATE EXTENSION activepipe;
\endif
