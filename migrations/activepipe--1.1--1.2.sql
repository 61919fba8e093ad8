/*
 * activepipe 1.1 -> 1.2: hardening, Citus for real, index-backed matching,
 * and import history with undo.
 *
 * A fresh CREATE EXTENSION activepipe runs 1.0, 1.0--1.1 and then this
 * script, so a fresh 1.2 and an updated 1.1 are the same objects by
 * construction (test/scripts/upgrade.sh checks it).  Where a function must
 * be dropped and created again (a new signature or result), the roles
 * that could run it keep the right: ap_upgrade_grants copies it.
 */
\echo Use "ALTER EXTENSION activepipe UPDATE TO '1.2'" to load this file. \quit

/*
 * A helper of this script only: run stmt (with %s for the grantee) for
 * every role holding privilege on the object of the given kind
 * ('function' or 'table').  Dropped at the end.
 */
CREATE FUNCTION @extschema@.ap_upgrade_grants(kind text, obj text, privilege text, stmt text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
	acl aclitem[];
	owner oid;
	g record;
BEGIN
	IF kind = 'function' THEN
		SELECT p.proacl, p.proowner INTO acl, owner FROM pg_catalog.pg_proc p
		WHERE p.oid = obj::pg_catalog.regprocedure;
	ELSE
		SELECT c.relacl, c.relowner INTO acl, owner FROM pg_catalog.pg_class c
		WHERE c.oid = obj::pg_catalog.regclass;
	END IF;
	FOR g IN SELECT DISTINCT a.grantee FROM pg_catalog.aclexplode(acl) a
		WHERE a.privilege_type = privilege AND a.grantee <> owner
	LOOP
		EXECUTE pg_catalog.format(stmt, CASE WHEN g.grantee = 0 THEN 'PUBLIC'
			ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END);
	END LOOP;
END
$fn$;

/*
 * A helper of this script only: run one ALTER TABLE of a table that a
 * Citus cluster may hold distributed.  Through EXECUTE, because Citus
 * sends such a statement to the shards and the workers as the text it was
 * given, which inside an extension script is the whole script.  With
 * propagate false, Citus does not send it at all: for a statement naming
 * an object this update creates, which the workers do not have yet (each
 * worker runs this script itself, after the coordinator, and so alters its
 * own copy of the table).  Dropped at the end.
 */
CREATE FUNCTION @extschema@.ap_upgrade_alter(stmt text, propagate boolean)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
	citus boolean := EXISTS (SELECT 1 FROM pg_catalog.pg_extension e
	                          WHERE e.extname OPERATOR(pg_catalog.=) 'citus');
	was text;
BEGIN
	IF citus AND NOT propagate THEN
		was := pg_catalog.current_setting('citus.enable_ddl_propagation');
		PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
		EXECUTE stmt;
		PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', was, true);
	ELSE
		EXECUTE stmt;
	END IF;
END
$fn$;

/*
 * Ids unique across the nodes of a Citus cluster, however a call is
 * routed: each node's sequence value, with the node's Citus group in the
 * high bits (0 on a single server, so ids there go on as before).  It only
 * wraps nextval, which checks USAGE on the sequence, and column defaults
 * call it as the inserting role: it stays executable by PUBLIC.
 */
CREATE FUNCTION @extschema@.activepipe_next_id(seq pg_catalog.regclass)
RETURNS bigint
AS 'MODULE_PATHNAME', 'activepipe_next_id'
LANGUAGE C VOLATILE STRICT;

/*
 * Not sent to the shards on Citus (the workers do not have the function
 * yet): defaults are filled in on the node that runs an INSERT, from its
 * own copy of the table, which each node's run of this script alters.
 */
SELECT @extschema@.ap_upgrade_alter('ALTER TABLE @extschema@.contact_integrations ALTER COLUMN id
	SET DEFAULT @extschema@.activepipe_next_id(''@extschema@.contact_integrations_id_seq'')', false);
SELECT @extschema@.ap_upgrade_alter('ALTER TABLE @extschema@.integration_events ALTER COLUMN id
	SET DEFAULT @extschema@.activepipe_next_id(''@extschema@.integration_events_id_seq'')', false);

/*
 * The tenant lock: a row per tenant, locked for the transaction by every
 * call that writes a tenant's data.  Distributed with contacts on Citus,
 * so every node meets the same lock.  Its rows are made on first use and
 * hold nothing worth dumping.  Roles that could write profiles can take it.
 */
CREATE TABLE @extschema@.tenant_locks (
	user_id bigint NOT NULL,
	locked_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT tenant_locks_pkey PRIMARY KEY (user_id)
);
COMMENT ON TABLE @extschema@.tenant_locks IS
'One row per tenant, row-locked by activepipe calls that write the tenant''s data';
REVOKE ALL ON TABLE @extschema@.tenant_locks FROM PUBLIC;
SELECT @extschema@.ap_upgrade_grants('table', '@extschema@.contact_integrations', 'INSERT',
	'GRANT SELECT, INSERT, UPDATE ON TABLE @extschema@.tenant_locks TO %s');

/*
 * Undo events join imports and exports in the log.  On Citus the shards
 * check rows too, so this one is sent to them (one subcommand at a time,
 * as Citus requires).
 */
SELECT @extschema@.ap_upgrade_alter('ALTER TABLE @extschema@.integration_events
	DROP CONSTRAINT integration_events_event_type_check', true);
SELECT @extschema@.ap_upgrade_alter('ALTER TABLE @extschema@.integration_events
	ADD CONSTRAINT integration_events_event_type_check
		CHECK (event_type OPERATOR(pg_catalog.=) ANY (ARRAY[''import'', ''export'', ''undo'']))', true);

/*
 * Match keys: the phone key with an explicit region is IMMUTABLE, so a
 * match index can hold it; the one-argument form reads
 * activepipe.default_region and stays STABLE.  They replace the 1.1
 * function whose region defaulted to NULL (renamed first, so its grants
 * can be copied to both).
 */
ALTER FUNCTION @extschema@.activepipe_phone_key(text, text) RENAME TO ap_upgrade_old_phone_key;

CREATE FUNCTION @extschema@.activepipe_phone_key(phone text)
RETURNS text
AS 'MODULE_PATHNAME', 'activepipe_phone_key'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.activepipe_phone_key(phone text, region text)
RETURNS text
AS 'MODULE_PATHNAME', 'activepipe_phone_key_region'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

REVOKE ALL ON FUNCTION @extschema@.activepipe_phone_key(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.activepipe_phone_key(text, text) FROM PUBLIC;
SELECT @extschema@.ap_upgrade_grants('function', '@extschema@.ap_upgrade_old_phone_key(text, text)',
	'EXECUTE', 'GRANT EXECUTE ON FUNCTION @extschema@.activepipe_phone_key(text), @extschema@.activepipe_phone_key(text, text) TO %s');
DROP FUNCTION @extschema@.ap_upgrade_old_phone_key(text, text);

/*
 * The DDL of the match indexes on the bound contacts table, for the DBA to
 * run (SELECT * FROM activepipe_match_indexes() \gexec).  For DBAs only:
 * granted to nobody.
 */
CREATE FUNCTION @extschema@.activepipe_match_indexes(region text DEFAULT NULL)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'activepipe_match_indexes'
LANGUAGE C STABLE;

REVOKE ALL ON FUNCTION @extschema@.activepipe_match_indexes(text) FROM PUBLIC;

/*
 * The plan names each conflict's values, the changes a row makes, and its
 * reason as a code and field: new columns after the 1.1 ones.
 */
ALTER FUNCTION @extschema@.activepipe_import_plan(bigint, text, boolean)
	RENAME TO ap_upgrade_old_import_plan;

CREATE FUNCTION @extschema@.activepipe_import_plan(
	user_id bigint, csv text, overwrite boolean DEFAULT false)
RETURNS TABLE (line int, action text, contact_id bigint, matched_by text, reason text,
	changes jsonb, conflicts jsonb, reason_code text, field text)
AS 'MODULE_PATHNAME', 'activepipe_import_plan'
LANGUAGE C VOLATILE STRICT ROWS 1000;

REVOKE ALL ON FUNCTION @extschema@.activepipe_import_plan(bigint, text, boolean) FROM PUBLIC;
SELECT @extschema@.ap_upgrade_grants('function',
	'@extschema@.ap_upgrade_old_import_plan(bigint, text, boolean)', 'EXECUTE',
	'GRANT EXECUTE ON FUNCTION @extschema@.activepipe_import_plan(bigint, text, boolean) TO %s');
DROP FUNCTION @extschema@.ap_upgrade_old_import_plan(bigint, text, boolean);

/*
 * The kept report of each import commit.  Every table is keyed by
 * (user_id, ...) so it distributes with the others on Citus, is dumped by
 * pg_dump, and is granted to nobody: roles that could log events get what
 * commits and undos need.
 */
CREATE TABLE @extschema@.import_history (
	user_id bigint NOT NULL,
	event_id bigint NOT NULL,
	header jsonb,				/* the file's header cells as uploaded */
	undone_by bigint,			/* the undo event, once undone */
	undo_pending bigint[],		/* the contacts an undo left (changed since): undoing again retries them */
	pruning boolean NOT NULL DEFAULT false, /* being removed: no longer readable */
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT import_history_pkey PRIMARY KEY (user_id, event_id)
);

/*
 * The report's rows, a chunk of the file at a time (as the commit writes
 * them): element i of each array is one data row.  One row per data row
 * cost the commit a heap and an index insert each, about as much as the
 * rest of its history; a chunk is one tuple, its arrays compressed.
 */
CREATE TABLE @extschema@.import_rows (
	user_id bigint NOT NULL,
	event_id bigint NOT NULL,
	chunk integer NOT NULL,			/* the commit's chunk of the file, in order */
	line integer[] NOT NULL,		/* physical line of each row in the file */
	action text[] NOT NULL,
	contact_id bigint[] NOT NULL,
	matched_by text[] NOT NULL,
	reason_code text[] NOT NULL,
	field text[] NOT NULL,
	reason text[] NOT NULL,
	changes json[] NOT NULL,		/* {field: [old, new]} when the row changed something */
	conflicts jsonb[] NOT NULL,		/* {field: {file, stored}} of a conflict */
	cells jsonb[] NOT NULL,			/* the row's cells as uploaded: conflicts and skips */
	CONSTRAINT import_rows_pkey PRIMARY KEY (user_id, event_id, chunk)
);

/*
 * What undoing a commit puts back, a write batch of the commit at a time:
 * element i of each array is one contact the batch wrote.  A contact that
 * a later batch wrote again is there again, in that batch: undo takes what
 * it was from the first, and what the commit left from the last.
 */
CREATE TABLE @extschema@.import_contacts (
	user_id bigint NOT NULL,
	event_id bigint NOT NULL,
	chunk integer NOT NULL,			/* the commit's write batch, in order */
	contact_id bigint[] NOT NULL,
	created boolean[] NOT NULL,		/* the commit created the contact */
	had_profile boolean[] NOT NULL,
	imported_at timestamptz[] NOT NULL,	/* the profile's last_imported_at before */
	updated_at timestamptz[] NOT NULL,	/* and its updated_at */
	before json[] NOT NULL,			/* {columns: {...}, payload: {...}} it changed, as they were */
	after_hash bigint[] NOT NULL,	/* what the batch left, to tell a later change */
	row_hash bigint[],				/* a contact the commit created: its whole row as the batch left it */
	CONSTRAINT import_contacts_pkey PRIMARY KEY (user_id, event_id, chunk)
);


/* Which contacts each export sent. */
CREATE TABLE @extschema@.export_contacts (
	user_id bigint NOT NULL,
	event_id bigint NOT NULL,
	contact_ids bigint[] NOT NULL,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT export_contacts_pkey PRIMARY KEY (user_id, event_id)
);

/*
 * lz4 where the server has it, on every array of a chunk and on an
 * export's ids: it compresses a chunk 5x at a sixth of pglz's cost (a
 * 100k-row commit: 0.3 s against 1.9 s for 119 MB).  A chunk's tuple is
 * over the toast threshold, so each array is compressed, the integer ones
 * too: left on pglz they cost another 0.2 s of that commit.
 */
DO $lz4$
BEGIN
	ALTER TABLE @extschema@.import_rows
		ALTER COLUMN line SET COMPRESSION lz4,
		ALTER COLUMN action SET COMPRESSION lz4,
		ALTER COLUMN contact_id SET COMPRESSION lz4,
		ALTER COLUMN matched_by SET COMPRESSION lz4,
		ALTER COLUMN reason_code SET COMPRESSION lz4,
		ALTER COLUMN field SET COMPRESSION lz4,
		ALTER COLUMN reason SET COMPRESSION lz4,
		ALTER COLUMN changes SET COMPRESSION lz4,
		ALTER COLUMN conflicts SET COMPRESSION lz4,
		ALTER COLUMN cells SET COMPRESSION lz4;
	ALTER TABLE @extschema@.import_contacts
		ALTER COLUMN contact_id SET COMPRESSION lz4,
		ALTER COLUMN created SET COMPRESSION lz4,
		ALTER COLUMN had_profile SET COMPRESSION lz4,
		ALTER COLUMN imported_at SET COMPRESSION lz4,
		ALTER COLUMN updated_at SET COMPRESSION lz4,
		ALTER COLUMN before SET COMPRESSION lz4,
		ALTER COLUMN after_hash SET COMPRESSION lz4,
		ALTER COLUMN row_hash SET COMPRESSION lz4;
	ALTER TABLE @extschema@.export_contacts
		ALTER COLUMN contact_ids SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
	NULL;						/* built without lz4: pglz */
END
$lz4$;

COMMENT ON TABLE @extschema@.import_history IS 'One row per import commit whose report is kept';
COMMENT ON TABLE @extschema@.import_rows IS 'The kept report of import commits: one row per chunk of data rows, as arrays';
COMMENT ON TABLE @extschema@.import_contacts IS 'What undoing an import commit puts back: one row per write batch, an array element per contact';
COMMENT ON TABLE @extschema@.export_contacts IS 'The contacts each export sent';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.import_history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.import_rows', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.import_contacts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.export_contacts', '');

REVOKE ALL ON TABLE @extschema@.import_history, @extschema@.import_rows,
	@extschema@.import_contacts, @extschema@.export_contacts FROM PUBLIC;
SELECT @extschema@.ap_upgrade_grants('table', '@extschema@.integration_events', 'INSERT',
	'GRANT SELECT, INSERT, UPDATE (undone_by, undo_pending) ON TABLE @extschema@.import_history TO %s');
SELECT @extschema@.ap_upgrade_grants('table', '@extschema@.integration_events', 'INSERT',
	'GRANT SELECT, INSERT ON TABLE @extschema@.import_rows TO %s');
SELECT @extschema@.ap_upgrade_grants('table', '@extschema@.integration_events', 'INSERT',
	'GRANT SELECT, INSERT ON TABLE @extschema@.import_contacts TO %s');
SELECT @extschema@.ap_upgrade_grants('table', '@extschema@.integration_events', 'INSERT',
	'GRANT SELECT, INSERT ON TABLE @extschema@.export_contacts TO %s');

/* Reading the reports, and undoing an import. */
/*
 * The reports and the undo preview read in a fresh snapshot each (after
 * the tenant lock an undo takes, and the writes of a commit made earlier in
 * the same statement): VOLATILE, as they are.
 */
CREATE FUNCTION @extschema@.activepipe_import_report(user_id bigint, event_id bigint)
RETURNS TABLE (line int, action text, contact_id bigint, matched_by text, reason text,
	changes jsonb, conflicts jsonb, reason_code text, field text)
AS 'MODULE_PATHNAME', 'activepipe_import_report'
LANGUAGE C VOLATILE STRICT ROWS 1000;

CREATE FUNCTION @extschema@.activepipe_import_report_csv(user_id bigint, event_id bigint,
	escape_formulas boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'activepipe_import_report_csv'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION @extschema@.activepipe_import_undo(user_id bigint, event_id bigint)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'activepipe_import_undo'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION @extschema@.activepipe_import_undo_preview(user_id bigint, event_id bigint)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'activepipe_import_undo_preview'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION @extschema@.activepipe_export_report(user_id bigint, event_id bigint)
RETURNS SETOF bigint
AS 'MODULE_PATHNAME', 'activepipe_export_report'
LANGUAGE C VOLATILE STRICT ROWS 1000;

REVOKE ALL ON FUNCTION @extschema@.activepipe_import_report(bigint, bigint),
	@extschema@.activepipe_import_report_csv(bigint, bigint, boolean),
	@extschema@.activepipe_import_undo(bigint, bigint),
	@extschema@.activepipe_import_undo_preview(bigint, bigint),
	@extschema@.activepipe_export_report(bigint, bigint) FROM PUBLIC;
SELECT @extschema@.ap_upgrade_grants('function',
	'@extschema@.activepipe_import_commit(bigint, text, boolean, text)', 'EXECUTE',
	'GRANT EXECUTE ON FUNCTION @extschema@.activepipe_import_report(bigint, bigint),
		@extschema@.activepipe_import_report_csv(bigint, bigint, boolean),
		@extschema@.activepipe_import_undo(bigint, bigint),
		@extschema@.activepipe_import_undo_preview(bigint, bigint) TO %s');
SELECT @extschema@.ap_upgrade_grants('function',
	'@extschema@.activepipe_export(bigint, bigint[], text, boolean)', 'EXECUTE',
	'GRANT EXECUTE ON FUNCTION @extschema@.activepipe_export_report(bigint, bigint) TO %s');

/*
 * The hash an undo compares a created contact's row by: each column's
 * stored bytes, computed inside the statements that read the row, so that
 * on Citus the worker storing the row computes it whichever node runs the
 * commit or the undo.  Those statements run as the caller, on every node:
 * like activepipe_next_id it stays executable by PUBLIC (it only hashes a
 * row its caller already reads).
 */
CREATE FUNCTION @extschema@.activepipe_row_image_hash(contact record)
RETURNS bigint
AS 'MODULE_PATHNAME', 'activepipe_row_image_hash'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

/*
 * Granted explicitly, with activepipe_next_id: where the DBA has revoked
 * EXECUTE from PUBLIC in the default privileges, relying on the default
 * would leave both out of reach of the roles that import.
 */
GRANT EXECUTE ON FUNCTION @extschema@.activepipe_row_image_hash(record),
	@extschema@.activepipe_next_id(pg_catalog.regclass) TO PUBLIC;

/*
 * Retention: remove the reports older than activepipe.history_days (0:
 * keep them forever), for one tenant or all.  Safe from cron: one import
 * at a time, marked first (it can no longer be read or undone), then its
 * rows in batches, each batch its own transaction; the mark goes last, so
 * an interrupted run leaves nothing it cannot finish next time.  CALL it
 * outside a transaction block.  Returns how many reports it removed.
 */
CREATE PROCEDURE @extschema@.activepipe_prune_history(user_id bigint DEFAULT NULL,
	INOUT pruned bigint DEFAULT NULL)
LANGUAGE plpgsql AS $fn$
DECLARE
	/* the setting may not be defined yet: the library loads on first use */
	days int := COALESCE(pg_catalog.current_setting('activepipe.history_days', true), '90')::int;
	cutoff timestamptz;
	ev record;
	n bigint;
BEGIN
	pruned := 0;
	IF days = 0 THEN
		RETURN;
	END IF;
	cutoff := pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(days => days);
	LOOP
		SELECT h.user_id, h.event_id INTO ev FROM @extschema@.import_history h
		WHERE (h.created_at OPERATOR(pg_catalog.<) cutoff OR h.pruning)
		  AND (activepipe_prune_history.user_id IS NULL
		       OR h.user_id OPERATOR(pg_catalog.=) activepipe_prune_history.user_id)
		LIMIT 1;
		EXIT WHEN NOT FOUND;
		/*
		 * Under the tenant's lock, so that an undo of this import running
		 * now finishes first, and one starting later finds it being pruned.
		 */
		INSERT INTO @extschema@.tenant_locks AS l (user_id) VALUES (ev.user_id)
			ON CONFLICT ON CONSTRAINT tenant_locks_pkey
			DO UPDATE SET locked_at = EXCLUDED.locked_at WHERE false;
		UPDATE @extschema@.import_history h SET pruning = true
		WHERE h.user_id OPERATOR(pg_catalog.=) ev.user_id
		  AND h.event_id OPERATOR(pg_catalog.=) ev.event_id;
		COMMIT;
		LOOP
			/* ten chunks at a time: about 10,000 rows or contacts */
			DELETE FROM @extschema@.import_rows r
			WHERE r.user_id OPERATOR(pg_catalog.=) ev.user_id
			  AND r.event_id OPERATOR(pg_catalog.=) ev.event_id
			  AND r.chunk OPERATOR(pg_catalog.=) ANY (ARRAY(
				SELECT r2.chunk FROM @extschema@.import_rows r2
				WHERE r2.user_id OPERATOR(pg_catalog.=) ev.user_id
				  AND r2.event_id OPERATOR(pg_catalog.=) ev.event_id
				LIMIT 10));
			GET DIAGNOSTICS n = ROW_COUNT;
			COMMIT;
			EXIT WHEN n OPERATOR(pg_catalog.=) 0;
		END LOOP;
		LOOP
			DELETE FROM @extschema@.import_contacts c
			WHERE c.user_id OPERATOR(pg_catalog.=) ev.user_id
			  AND c.event_id OPERATOR(pg_catalog.=) ev.event_id
			  AND c.chunk OPERATOR(pg_catalog.=) ANY (ARRAY(
				SELECT c2.chunk FROM @extschema@.import_contacts c2
				WHERE c2.user_id OPERATOR(pg_catalog.=) ev.user_id
				  AND c2.event_id OPERATOR(pg_catalog.=) ev.event_id
				LIMIT 10));
			GET DIAGNOSTICS n = ROW_COUNT;
			COMMIT;
			EXIT WHEN n OPERATOR(pg_catalog.=) 0;
		END LOOP;
		DELETE FROM @extschema@.import_history h
		WHERE h.user_id OPERATOR(pg_catalog.=) ev.user_id
		  AND h.event_id OPERATOR(pg_catalog.=) ev.event_id;
		COMMIT;
		pruned := pruned OPERATOR(pg_catalog.+) 1;
	END LOOP;
	LOOP
		FOR ev IN SELECT x.user_id, x.event_id FROM @extschema@.export_contacts x
			WHERE x.created_at OPERATOR(pg_catalog.<) cutoff
			  AND (activepipe_prune_history.user_id IS NULL
			       OR x.user_id OPERATOR(pg_catalog.=) activepipe_prune_history.user_id)
			LIMIT 1000
		LOOP
			DELETE FROM @extschema@.export_contacts x
			WHERE x.user_id OPERATOR(pg_catalog.=) ev.user_id
			  AND x.event_id OPERATOR(pg_catalog.=) ev.event_id;
			pruned := pruned OPERATOR(pg_catalog.+) 1;
		END LOOP;
		EXIT WHEN NOT FOUND;
		COMMIT;
	END LOOP;
END
$fn$;

REVOKE ALL ON PROCEDURE @extschema@.activepipe_prune_history(bigint, bigint) FROM PUBLIC;

DROP FUNCTION @extschema@.ap_upgrade_grants(text, text, text, text);
DROP FUNCTION @extschema@.ap_upgrade_alter(text, boolean);
