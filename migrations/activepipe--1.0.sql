/*
 * activepipe 1.0 (Ulysses Phase 8B): integration storage, the contacts
 * binding, the ActivePipe card API and single-contact export.
 *
 * Every object reference is schema-qualified (@extschema@, pg_catalog) so
 * that no search_path can redirect it.  Nothing here references the
 * application's contacts or users tables: pg_restore creates extensions
 * before application tables.
 */
\echo Use "CREATE EXTENSION activepipe" to load this file. \quit

/*
 * Which application table holds contacts and which column carries each
 * ActivePipe identity/address field.  No row means the reference Ulysses
 * schema (public.contacts, first_name, ...); a row overrides it, and a NULL
 * field column keeps that field in the integration payload instead.
 */
CREATE TABLE @extschema@.contacts_binding (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	table_schema text NOT NULL DEFAULT 'public',
	table_name text NOT NULL DEFAULT 'contacts',
	id_column text NOT NULL DEFAULT 'id',
	user_id_column text NOT NULL DEFAULT 'user_id',
	firstname text DEFAULT 'first_name',
	lastname text DEFAULT 'last_name',
	email text DEFAULT 'email',
	phone text DEFAULT 'phone',
	mobile text DEFAULT 'mobile',
	streetaddress text DEFAULT 'street_address',
	city text DEFAULT 'city',
	state text DEFAULT 'state',
	postcode text DEFAULT 'postcode',
	country text DEFAULT 'country'
);

COMMENT ON TABLE @extschema@.contacts_binding IS
'Where activepipe finds contacts: no row means public.contacts of the reference Ulysses schema; one row overrides table and columns (NULL column: field kept in the payload)';

/*
 * One row per contact and integration.  Every unique constraint includes
 * user_id (the tenant), so the table can be distributed by user_id.
 * fillfactor leaves room on each page for HOT updates of the timestamp
 * columns that every export and import writes.
 */
CREATE TABLE @extschema@.contact_integrations (
	id bigserial NOT NULL,
	user_id bigint NOT NULL,
	contact_id bigint NOT NULL,
	integration_key text NOT NULL DEFAULT 'activepipe'
		CHECK (integration_key OPERATOR(pg_catalog.<>) ''),
	external_id text,
	payload_json jsonb NOT NULL DEFAULT '{}'
		CHECK (pg_catalog.jsonb_typeof(payload_json) OPERATOR(pg_catalog.=) 'object'),
	last_exported_at timestamptz,
	last_imported_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT contact_integrations_pkey PRIMARY KEY (user_id, id),
	CONSTRAINT contact_integrations_contact_key
		UNIQUE (user_id, contact_id, integration_key)
) WITH (fillfactor = 80);

/* A tenant's profiles of one integration: import's payload preload. */
CREATE INDEX contact_integrations_user_key_idx
	ON @extschema@.contact_integrations (user_id, integration_key);

/* Reserved: lookups by the integration's own id, once one is stored. */
CREATE INDEX contact_integrations_external_idx
	ON @extschema@.contact_integrations (user_id, integration_key, external_id)
	WHERE external_id IS NOT NULL;

COMMENT ON TABLE @extschema@.contact_integrations IS
'Per-contact integration profiles (payload_json); ActivePipe fields live here, never as contact columns';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.contacts_binding', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.contact_integrations', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.contact_integrations_id_seq', '');

REVOKE ALL ON TABLE @extschema@.contacts_binding FROM PUBLIC;
REVOKE ALL ON TABLE @extschema@.contact_integrations FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.contact_integrations_id_seq FROM PUBLIC;

/* The contract, for documentation and for applications that render it. */
CREATE FUNCTION @extschema@.activepipe_contract(
	OUT ordinal int, OUT header text, OUT kind text, OUT contact_column text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'activepipe_contract'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

/* Match keys, as import compares them. */
CREATE FUNCTION @extschema@.activepipe_phone_key(phone text, region text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'activepipe_phone_key'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.activepipe_email_key(email text)
RETURNS text
AS 'MODULE_PATHNAME', 'activepipe_email_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.activepipe_card(user_id bigint, contact_id bigint)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'activepipe_card'
LANGUAGE C STABLE STRICT;

CREATE FUNCTION @extschema@.activepipe_card_save(user_id bigint, contact_id bigint, fields jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'activepipe_card_save'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION @extschema@.activepipe_card_clear(user_id bigint, contact_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'activepipe_card_clear'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION @extschema@.activepipe_export(user_id bigint, contact_ids bigint[])
RETURNS text
AS 'MODULE_PATHNAME', 'activepipe_export'
LANGUAGE C VOLATILE STRICT;

/* Functions are granted explicitly: see docs/activepipe_bridge.md, "Privileges". */
REVOKE ALL ON FUNCTION @extschema@.activepipe_contract() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.activepipe_phone_key(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.activepipe_email_key(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.activepipe_card(bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.activepipe_card_save(bigint, bigint, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.activepipe_card_clear(bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.activepipe_export(bigint, bigint[]) FROM PUBLIC;
