/*
 * activepipe 1.0 -> 1.1 (Ulysses Phase 8C): the integration event log,
 * bulk export with cap, summary and COPY-friendly rows, and import with
 * preview, plan and commit.
 *
 * A fresh CREATE EXTENSION activepipe runs 1.0 and then this script, so
 * a fresh 1.1 and an upgraded 1.0 are the same objects by construction
 * (test/scripts/upgrade.sh checks it).
 */
\echo Use "ALTER EXTENSION activepipe UPDATE TO '1.1'" to load this file. \quit

CREATE TABLE @extschema@.integration_events (
	id bigserial NOT NULL,
	user_id bigint NOT NULL,
	integration_key text NOT NULL DEFAULT 'activepipe'
		CHECK (integration_key OPERATOR(pg_catalog.<>) ''),
	event_type text NOT NULL
		CHECK (event_type OPERATOR(pg_catalog.=) ANY (ARRAY['import', 'export'])),
	filename text,
	total_rows bigint NOT NULL DEFAULT 0,
	new_count bigint NOT NULL DEFAULT 0,
	updated_count bigint NOT NULL DEFAULT 0,
	conflict_count bigint NOT NULL DEFAULT 0,
	skipped_count bigint NOT NULL DEFAULT 0,
	/* small and bounded: counts and options, never row data */
	summary jsonb NOT NULL DEFAULT '{}'
		CHECK (pg_catalog.pg_column_size(summary) OPERATOR(pg_catalog.<=) 8192),
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT integration_events_pkey PRIMARY KEY (user_id, id)
);

COMMENT ON TABLE @extschema@.integration_events IS
'One row per successful ActivePipe export and per import commit';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.integration_events', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.integration_events_id_seq', '');
REVOKE ALL ON TABLE @extschema@.integration_events FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.integration_events_id_seq FROM PUBLIC;

/*
 * Bulk export replaces the 1.0 two-argument function: the new defaults
 * keep activepipe_export(user_id, contact_ids) calls working (a second
 * two-argument overload would make them ambiguous).
 */
DROP FUNCTION @extschema@.activepipe_export(bigint, bigint[]);

CREATE FUNCTION @extschema@.activepipe_export(
	user_id bigint, contact_ids bigint[],
	filename text DEFAULT NULL, escape_formulas boolean DEFAULT false)
RETURNS text
AS 'MODULE_PATHNAME', 'activepipe_export'
LANGUAGE C VOLATILE;

CREATE FUNCTION @extschema@.activepipe_export_summary(user_id bigint, contact_ids bigint[])
RETURNS jsonb
AS 'MODULE_PATHNAME', 'activepipe_export_summary'
LANGUAGE C STABLE STRICT;

CREATE FUNCTION @extschema@.activepipe_export_rows(user_id bigint, contact_ids bigint[])
RETURNS TABLE (
	firstname text, lastname text, email text, phone text, mobile text,
	streetaddress text, city text, state text, postcode text, country text,
	status text, sms_status text, subscribed_at text, unsubscribed_at text,
	unsubscribed_reason text, source text, modified_at text,
	latest_interaction text, buyertype text, locations text,
	propertytype text, category text, minbeds text, maxbeds text,
	minbaths text, maxbaths text, minprice text, maxprice text,
	minparking text, maxparking text, minlandsize text, maxlandsize text,
	minbuildingsize text, maxbuildingsize text, listingtype text, tags text)
AS 'MODULE_PATHNAME', 'activepipe_export_rows'
LANGUAGE C VOLATILE STRICT ROWS 1000;

REVOKE ALL ON FUNCTION @extschema@.activepipe_export(bigint, bigint[], text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.activepipe_export_summary(bigint, bigint[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.activepipe_export_rows(bigint, bigint[]) FROM PUBLIC;

/* Import: preview and plan write nothing; commit applies and logs. */
CREATE FUNCTION @extschema@.activepipe_import_preview(
	user_id bigint, csv text, overwrite boolean DEFAULT false)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'activepipe_import_preview'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION @extschema@.activepipe_import_plan(
	user_id bigint, csv text, overwrite boolean DEFAULT false)
RETURNS TABLE (line int, action text, contact_id bigint, matched_by text, reason text)
AS 'MODULE_PATHNAME', 'activepipe_import_plan'
LANGUAGE C VOLATILE STRICT ROWS 1000;

CREATE FUNCTION @extschema@.activepipe_import_commit(
	user_id bigint, csv text, overwrite boolean DEFAULT false,
	filename text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'activepipe_import_commit'
LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION @extschema@.activepipe_import_preview(bigint, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.activepipe_import_plan(bigint, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.activepipe_import_commit(bigint, text, boolean, text) FROM PUBLIC;

/*
 * Raw uploads: UTF-8 with or without BOM, UTF-16 with BOM, else
 * Windows-1252; the summary's "encoding" says which was used.
 */
CREATE FUNCTION @extschema@.activepipe_import_preview(
	user_id bigint, csv bytea, overwrite boolean DEFAULT false)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'activepipe_import_preview_bytea'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION @extschema@.activepipe_import_commit(
	user_id bigint, csv bytea, overwrite boolean DEFAULT false,
	filename text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'activepipe_import_commit_bytea'
LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION @extschema@.activepipe_import_preview(bigint, bytea, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.activepipe_import_commit(bigint, bytea, boolean, text) FROM PUBLIC;

/* Every SQL statement the extension sends through SPI, for review and tests. */
CREATE FUNCTION @extschema@.activepipe_statements(OUT name text, OUT statement text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'activepipe_statements'
LANGUAGE C STABLE STRICT;

REVOKE ALL ON FUNCTION @extschema@.activepipe_statements() FROM PUBLIC;
