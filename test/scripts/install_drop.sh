#!/usr/bin/env bash
# Install and drop (issue 2): CREATE EXTENSION activepipe succeeds in a
# database without the application's contacts/users tables (pg_restore
# creates extensions first); a wrong or missing contacts binding gives
# clear errors (42P01 / 42703) naming the table or column; DROP
# EXTENSION removes every object it created and nothing of the app's.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/lib/tap.sh

plan 32
suffix=$$
db=ap_install_$suffix
tmp=$(mktemp -d)
trap 'dropdb_quiet "$db"; rm -rf "$tmp"' EXIT

# what a database holds outside the system schemas: relations, functions, types
snapshot="SELECT string_agg(x, ' ' ORDER BY x) FROM (
	SELECT 'rel:' || n.nspname || '.' || c.relname AS x FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
	UNION ALL
	SELECT 'fn:' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
	UNION ALL
	SELECT 'type:' || t.oid::regtype::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
	WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
	UNION ALL
	SELECT 'ext:' || extname FROM pg_extension) s"
members="SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'activepipe'"

# 1. a database with no contacts or users table
newdb "$db"
ok $? "createdb $db (no application tables)"
before=$(q "$db" "$snapshot")
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION activepipe" >/dev/null 2>"$tmp/create.err"
ok $? "CREATE EXTENSION activepipe without contacts/users tables"
diag "$(cat "$tmp/create.err")"
is "$(q "$db" "SELECT to_regclass('public.contact_integrations') IS NOT NULL AND to_regclass('public.integration_events') IS NOT NULL AND to_regclass('public.contacts') IS NULL AND to_regclass('public.users') IS NULL")" \
	"t" "the extension's tables exist; it created no contacts or users table"
isnt "$(q "$db" "$snapshot")" "$before" "the snapshot sees the extension's objects (so the drop check below can fail)"
nmembers=$(q "$db" "$members")
[ "$nmembers" -gt 10 ] 2>/dev/null
ok $? "the extension owns its objects ($nmembers members)"

# 2. no contacts table yet: clear errors naming it
err=$(sqlerr "$db" "SELECT activepipe_card(1, 1)")
like "$err" '^42P01: .*public\.contacts' "card without a contacts table: 42P01 naming public.contacts ($err)"
err=$(sqlerr "$db" "SELECT activepipe_export(1, ARRAY[1])")
like "$err" '^42P01: .*public\.contacts' "export without a contacts table: 42P01"
err=$(sqlerr "$db" "SELECT activepipe_export_summary(1, ARRAY[1])")
like "$err" '^42P01: ' "export_summary without a contacts table: 42P01"
err=$(sqlerr "$db" "SELECT activepipe_card_save(1, 1, '{}')")
like "$err" '^42P01: ' "card_save without a contacts table: 42P01"
is "$(sqlerr "$db" "SELECT activepipe_phone_key('0412 345 678')")" "no error" "functions that need no contacts still work"

# 3. the application arrives later, in its own shape
run "$db" <<'SQL'
CREATE SCHEMA crm;
CREATE TABLE crm.people (
	person_id bigint PRIMARY KEY, account_id bigint NOT NULL,
	given text, family text, mail text, tel text, cell text
);
INSERT INTO crm.people VALUES (1, 10, 'Ann', 'Lee', 'ann@example.com', '0412 345 678', NULL),
	(2, 20, 'Bob', 'Ng', 'bob@example.com', NULL, NULL);
SQL
ok $? "an application table crm.people"
run "$db" <<'SQL'
INSERT INTO contacts_binding (table_schema, table_name, id_column, user_id_column)
	VALUES ('crm', 'persons', 'person_id', 'account_id');
SQL
err=$(sqlerr "$db" "SELECT activepipe_card(10, 1)")
like "$err" '^42P01: .*crm\.persons' "binding to a missing table: 42P01 naming crm.persons ($err)"
q "$db" "UPDATE contacts_binding SET table_name = 'people'" >/dev/null
err=$(sqlerr "$db" "SELECT activepipe_card(10, 1)")
like "$err" '^42703: .*first_name.*crm\.people' "binding with a missing default column: 42703 naming first_name and the table ($err)"
q "$db" "UPDATE contacts_binding SET firstname = 'given', lastname = 'family', email = 'mail', phone = 'tel', mobile = 'cell',
	streetaddress = 'street', city = NULL, state = NULL, postcode = NULL, country = NULL" >/dev/null
err=$(sqlerr "$db" "SELECT activepipe_export(10, ARRAY[1])")
like "$err" '^42703: .*"street"' "binding to a missing column: 42703 naming it ($err)"
q "$db" "UPDATE contacts_binding SET streetaddress = NULL, user_id_column = 'owner_id'" >/dev/null
err=$(sqlerr "$db" "SELECT activepipe_card_save(10, 1, '{\"status\": \"x\"}')")
like "$err" '^42703: .*owner_id' "binding to a missing tenant column: 42703 naming it ($err)"
is "$(q "$db" "SELECT count(*) FROM contact_integrations")" "0" "no call with a wrong binding wrote anything"
q "$db" "UPDATE contacts_binding SET user_id_column = 'account_id'" >/dev/null
is "$(q "$db" "SELECT activepipe_card_save(10, 1, '{\"status\": \"lead\", \"city\": \"Sydney\"}')->'fields'->>'city'")" "Sydney" \
	"a correct binding works; an unbound field (city) is kept in the payload"
is "$(q "$db" "SELECT split_part(activepipe_export(10, ARRAY[1]), E'\r\n', 2)")" \
	"Ann,Lee,ann@example.com,0412 345 678,0412 345 678,,Sydney,,,,lead,,,,,,,,,,,,,,,,,,,,,,,,," \
	"export through the binding"
err=$(sqlerr "$db" "SELECT activepipe_card(20, 1)")
like "$err" '^P0002: ' "the bound tenant column scopes the calls ($err)"

# 4. drop: everything of the extension goes, the application's data stays
app_before=$(q "$db" "SELECT string_agg(p::text, ' ' ORDER BY person_id) FROM crm.people p")
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -c "DROP EXTENSION activepipe" >/dev/null 2>"$tmp/drop.err"
ok $? "DROP EXTENSION activepipe"
diag "$(cat "$tmp/drop.err")"
q "$db" "DROP TABLE crm.people; DROP SCHEMA crm" >/dev/null
is "$(q "$db" "$snapshot")" "$before" "after DROP EXTENSION the database holds exactly what it held before CREATE EXTENSION"
is "$(q "$db" "SELECT count(*) FROM pg_proc WHERE proname LIKE 'activepipe%'") $(q "$db" "SELECT count(*) FROM pg_class WHERE relname IN ('contact_integrations', 'integration_events', 'contacts_binding', 'contact_integrations_id_seq', 'integration_events_id_seq')")" \
	"0 0" "no activepipe function, table or sequence is left"

# 5. reinstall after drop, with the reference schema present; drop keeps it
run "$db" < test/fixtures/ulysses_schema.sql
q "$db" "INSERT INTO users (id) VALUES (1); INSERT INTO contacts (id, user_id, first_name) VALUES (1, 1, 'Ann')" >/dev/null
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION activepipe" >/dev/null 2>&1
ok $? "CREATE EXTENSION again after DROP"
is "$(q "$db" "$members")" "$nmembers" "the reinstall has the same number of objects"
is "$(q "$db" "SELECT activepipe_card_save(1, 1, '{\"status\": \"x\"}')->'fields'->>'firstname'")" "Ann" \
	"with no binding row the reference schema is used"
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -c "DROP EXTENSION activepipe" >/dev/null 2>&1
ok $? "DROP EXTENSION with profile rows present"
is "$(q "$db" "SELECT count(*) FROM contacts")|$(q "$db" "SELECT to_regclass('public.contact_integrations') IS NULL")" "1|t" \
	"drop removes the profiles table and keeps the application's contacts"

# 6. another schema: @extschema@ everywhere, not relocatable
q "$db" "CREATE SCHEMA ap" >/dev/null
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION activepipe SCHEMA ap" >/dev/null 2>"$tmp/schema.err"
ok $? "CREATE EXTENSION activepipe SCHEMA ap"
diag "$(cat "$tmp/schema.err")"
is "$(q "$db" "SELECT ap.activepipe_card_save(1, 1, '{\"status\": \"in ap\"}')->'fields'->>'status'") $(q "$db" "SELECT count(*) FROM ap.contact_integrations")" \
	"in ap 1" "installed in schema ap, the functions use ap's tables"
is "$(q "$db" "SELECT to_regclass('public.contact_integrations') IS NULL")" "t" "nothing was created in public"
err=$(sqlerr "$db" "ALTER EXTENSION activepipe SET SCHEMA public")
like "$err" '^0A000: ' "the extension is not relocatable ($err)"
q "$db" "DROP EXTENSION activepipe; DROP SCHEMA ap" >/dev/null
ok $? "drop from schema ap"

done_testing
