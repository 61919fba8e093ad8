#!/usr/bin/env bash
# Security of the extension's API:
#
#  A. search_path: a schema placed before pg_catalog and public holds
#     look-alike tables (contacts, users, contact_integrations,
#     integration_events, contacts_binding), functions (now, lower, upper,
#     btrim, unnest, hashint8, jsonb_typeof, count, pg_advisory_xact_lock)
#     and operators (= and <> on text, bigint, timestamptz, jsonb) that
#     shout when called.  The same sequence of every API call runs in two
#     identical databases, one with that search_path: outputs and final
#     data must be the same, the look-alikes untouched, nothing evil called.
#  B. Privileges: a role with no grants gets 42501 from every table,
#     sequence and function of the extension; a role holding exactly the
#     grants of docs/activepipe_bridge.md section 9 can make every API call;
#     revoking any one of them makes some call fail with 42501.
#  C. No function of the extension is SECURITY DEFINER.
#  D. Errors never tell another tenant's contact from a missing one, and
#     never carry another tenant's data.
#
#   bash test/scripts/security.sh           (PG* set to a running cluster)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/scripts/reliability_lib.bash

CLEAN=ap_sec_clean
EVIL=ap_sec_evil
PRIV=ap_sec_priv
work=$(mktemp -d "${TMPDIR:-/tmp}/ap-security.XXXXXX")
cleanup() {
	rm -rf "$work"
	for d in $CLEAN $EVIL $PRIV; do dropdb --if-exists "$d" >/dev/null 2>&1; done
	psql -X -q -d postgres -c "DROP ROLE IF EXISTS ap_sec_app" -c "DROP ROLE IF EXISTS ap_sec_nobody" >/dev/null 2>&1
}
trap cleanup EXIT
cleanup_roles_first() { psql -X -q -d postgres -c "DROP ROLE IF EXISTS ap_sec_app" -c "DROP ROLE IF EXISTS ap_sec_nobody" >/dev/null 2>&1; }

crash_mark

# Two tenants sharing an email and a mobile; tenant 602 holds "secret" data
# that must never reach tenant 601.
seed() {
	psql -X -q -v ON_ERROR_STOP=1 -d "$1" >/dev/null <<'SQL'
INSERT INTO users (id, email) VALUES (601, 'a@agency.example'), (602, 'b@agency.example');
INSERT INTO contacts (id, user_id, first_name, last_name, email, phone, mobile, city) VALUES
	(1, 601, 'Ann', 'Lee', 'ann@example.com', NULL, '0412 345 678', 'Perth'),
	(2, 601, 'Bob', 'Stone', 'bob@example.com', '(02) 9876 5432', NULL, NULL),
	(3, 602, 'Secretia', 'Hiddenhaus', 'ann@example.com', NULL, '0412 345 678', 'Secretville'),
	(4, 602, 'Bea', 'Confidential', 'bea.private@example.com', '(02) 9876 5432', NULL, NULL);
SELECT setval('contacts_id_seq', 100);
SELECT activepipe_card_save(601, 1, '{"status": "subscribed", "tags": ["vip"]}');
SELECT activepipe_card_save(602, 3, '{"status": "secret-status", "tags": ["secret-tag"], "source": "secret-source"}');
SELECT activepipe_card_save(602, 4, '{"status": "unsubscribed"}');
-- a kept import and export of tenant 601, for the report, undo and export
-- report calls
SELECT activepipe_import_commit(601, E'email,city,status\nann@example.com,Fremantle,seeded\nzoe@example.com,Perth,\n', false, 'seed.csv');
SELECT activepipe_export(601, ARRAY[1, 2]::bigint[], 'seed.csv');
-- a contact deleted while an import runs (reltest.vanish set for the
-- statement): the import must report its rows as skipped (and so rewrite
-- them in its kept report), never give it a profile again
CREATE FUNCTION reltest.vanish() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
	IF current_setting('reltest.vanish', true) = 'on' THEN
		DELETE FROM public.contact_integrations WHERE user_id = 601 AND contact_id = 2;
		DELETE FROM public.contacts WHERE user_id = 601 AND id = 2;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER vanish AFTER INSERT ON public.import_history
	FOR EACH ROW EXECUTE FUNCTION reltest.vanish();
SQL
}

# The app's calls, in order, one per line: label<TAB>SQL.  Outputs are
# printed as "label|output".
cat >"$work/calls.tsv" <<'EOF'
contract	SELECT pg_catalog.count(*)::text FROM public.activepipe_contract()
email_key	SELECT public.activepipe_email_key(' Ann@Example.COM ')
phone_key	SELECT public.activepipe_phone_key('0412 345 678')
card	SELECT public.activepipe_card(601, 1)::text
card_save	SELECT public.activepipe_card_save(601, 1, '{"status": "saved", "tags": ["a", "b", "A"], "minprice": "$1,000", "maxprice": "900"}')::text
card_clear	SELECT public.activepipe_card_clear(601, 2)::text
card_after	SELECT public.activepipe_card(601, 2)::text
export	SELECT public.activepipe_export(601, ARRAY[2, 1]::bigint[], 'x.csv', true)
export_summary	SELECT public.activepipe_export_summary(601, ARRAY[1, 2, 3, 999]::bigint[])::text
export_rows	SELECT string_agg(r::text, ' ; ') FROM public.activepipe_export_rows(601, ARRAY[1, 2]::bigint[]) r
preview	SELECT public.activepipe_import_preview(601, E'email,firstname,mobile,status,tags\nANN@example.com,Ann,,imported,x;y\nbea.private@example.com,Bea,,new,\n,Zed,+61 412 345 678,,\nnew@example.com,New,,,\n')::text
plan	SELECT string_agg(p::text, ' ; ') FROM public.activepipe_import_plan(601, E'email,firstname,mobile,status,tags\nANN@example.com,Ann,,imported,x;y\nbea.private@example.com,Bea,,new,\n,Zed,+61 412 345 678,,\nnew@example.com,New,,,\n') p
commit	SELECT public.activepipe_import_commit(601, E'email,firstname,mobile,status,tags\nANN@example.com,Ann,,imported,x;y\nbea.private@example.com,Bea,,new,\n,Zed,+61 412 345 678,,\nnew@example.com,New,,,\n', false, 'sp.csv')::text
preview_bytea	SELECT public.activepipe_import_preview(601, convert_to(E'\uFEFFemail,lastname,phone,city\nbob@example.com,Stone,02 9876 5432,Sydney\nnew2@example.com,N2,,\n', 'UTF8'))::text
commit_bytea	SELECT public.activepipe_import_commit(601, convert_to(E'\uFEFFemail,lastname,phone,city\nbob@example.com,Stone,02 9876 5432,Sydney\nnew2@example.com,N2,,\n', 'UTF8'), true, 'sp2.csv')::text
card_final	SELECT public.activepipe_card(601, 1)::text
export_final	SELECT public.activepipe_export(601, ARRAY(SELECT id FROM public.contacts WHERE user_id OPERATOR(pg_catalog.=) 601::bigint ORDER BY id), NULL, false)
phone_key_region	SELECT public.activepipe_phone_key('0412 345 678', 'AU')
report	SELECT string_agg(r::text, ' ; ') FROM public.activepipe_import_report(601, (SELECT min(e.id) FROM public.integration_events e WHERE e.user_id OPERATOR(pg_catalog.=) 601::bigint AND e.event_type OPERATOR(pg_catalog.=) 'import')) r
report_csv	SELECT public.activepipe_import_report_csv(601, (SELECT min(e.id) FROM public.integration_events e WHERE e.user_id OPERATOR(pg_catalog.=) 601::bigint AND e.event_type OPERATOR(pg_catalog.=) 'import'), true)
export_report	SELECT string_agg(x::text, ',') FROM public.activepipe_export_report(601, (SELECT min(e.id) FROM public.integration_events e WHERE e.user_id OPERATOR(pg_catalog.=) 601::bigint AND e.event_type OPERATOR(pg_catalog.=) 'export')) x
undo_preview	SELECT public.activepipe_import_undo_preview(601, (SELECT min(e.id) FROM public.integration_events e WHERE e.user_id OPERATOR(pg_catalog.=) 601::bigint AND e.event_type OPERATOR(pg_catalog.=) 'import'))::text
undo	SELECT public.activepipe_import_undo(601, (SELECT max(e.id) FROM public.integration_events e WHERE e.user_id OPERATOR(pg_catalog.=) 601::bigint AND e.event_type OPERATOR(pg_catalog.=) 'import'))::text
commit_vanish	SELECT public.activepipe_import_commit(601, E'email,status\nbob@example.com,vanished\n', false, 'v.csv')::text FROM (SELECT pg_catalog.set_config('reltest.vanish', 'on', true)) s
EOF

# run_calls DB SEARCH_PATH OUT: the calls in one fresh session
run_calls() {
	{
		printf '\\set VERBOSITY verbose\n'
		printf 'SET search_path = %s;\n' "$2"
		while IFS=$'\t' read -r label sql; do
			printf "SELECT '%s|' || coalesce((%s), '<null>');\n" "$label" "$sql"
		done <"$work/calls.tsv"
	} >"$work/calls.sql"
	psql -X -q -At -d "$1" -f "$work/calls.sql" >"$3" 2>"$3.err"
}
# timestamps differ between the two runs
normalise() { sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[-+][0-9:]+/<ts>/g' "$1"; }

# ---- A. search_path -----------------------------------------------------
for d in $CLEAN $EVIL; do
	new_db "$d" && seed "$d" || { ok 1 "set up $d"; done_testing; exit 1; }
done
psql -X -q -v ON_ERROR_STOP=1 -d $EVIL >/dev/null 2>"$work/evil.err" <<'SQL'
CREATE SCHEMA evil;
CREATE TABLE evil.calls (what text);
CREATE FUNCTION evil.shout(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE WARNING 'EVIL % called', what;
	INSERT INTO evil.calls VALUES (what);
END $$;
-- look-alike tables, holding look-alike rows (same ids, other data)
CREATE TABLE evil.users (LIKE public.users INCLUDING DEFAULTS);
CREATE TABLE evil.contacts (LIKE public.contacts INCLUDING DEFAULTS);
CREATE TABLE evil.contact_integrations (LIKE public.contact_integrations INCLUDING DEFAULTS INCLUDING INDEXES);
CREATE TABLE evil.integration_events (LIKE public.integration_events INCLUDING DEFAULTS);
CREATE TABLE evil.contacts_binding (LIKE public.contacts_binding INCLUDING DEFAULTS);
INSERT INTO evil.users VALUES (601, 'evil'), (602, 'evil');
INSERT INTO evil.contacts (id, user_id, first_name, last_name, email, mobile, created_at, updated_at)
	SELECT g, u, 'EVIL', 'EVIL', 'evil' || g || '@evil.example', '0400 000 00' || g, NULL, NULL
	FROM generate_series(1, 8) g, (VALUES (601), (602)) v(u);
INSERT INTO evil.contact_integrations (id, user_id, contact_id, integration_key, payload_json, created_at, updated_at)
	VALUES (1, 601, 1, 'activepipe', '{"status": "EVIL"}', now(), now());
INSERT INTO evil.integration_events (id, user_id, integration_key, event_type, summary, created_at)
	VALUES (1, 601, 'activepipe', 'import', '{}', now());
INSERT INTO evil.contacts_binding (singleton, table_schema, table_name, id_column, user_id_column)
	VALUES (true, 'evil', 'contacts', 'id', 'user_id');
-- look-alike functions
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('now()'); RETURN '2000-01-01'; END $$;
CREATE FUNCTION evil.lower(text) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('lower()'); RETURN 'evil'; END $$;
CREATE FUNCTION evil.upper(text) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('upper()'); RETURN 'EVIL'; END $$;
CREATE FUNCTION evil.btrim(text) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('btrim()'); RETURN 'evil'; END $$;
CREATE FUNCTION evil.unnest(anyarray) RETURNS SETOF anyelement LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('unnest()'); RETURN; END $$;
CREATE FUNCTION evil.hashint8(bigint) RETURNS integer LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('hashint8()'); RETURN 0; END $$;
CREATE FUNCTION evil.pg_advisory_xact_lock(integer, integer) RETURNS void LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('pg_advisory_xact_lock()'); END $$;
CREATE FUNCTION evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('jsonb_typeof()'); RETURN 'object'; END $$;
CREATE FUNCTION evil.count_sfunc(bigint) RETURNS bigint LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('count()'); RETURN 41; END $$;
CREATE AGGREGATE evil.count(*) (SFUNC = evil.count_sfunc, STYPE = bigint, INITCOND = '0');
-- look-alike operators: "equal" is always true, "different" always false
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('text = text'); RETURN true; END $$;
CREATE FUNCTION evil.text_ne(text, text) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('text <> text'); RETURN false; END $$;
CREATE FUNCTION evil.int8_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('bigint = bigint'); RETURN true; END $$;
CREATE FUNCTION evil.int8_ne(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('bigint <> bigint'); RETURN false; END $$;
CREATE FUNCTION evil.ts_ne(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('timestamptz <> timestamptz'); RETURN false; END $$;
CREATE FUNCTION evil.jsonb_eq(jsonb, jsonb) RETURNS boolean LANGUAGE plpgsql AS
	$$ BEGIN PERFORM evil.shout('jsonb = jsonb'); RETURN true; END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE OPERATOR evil.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_ne);
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8_eq);
CREATE OPERATOR evil.<> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8_ne);
CREATE OPERATOR evil.<> (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.ts_ne);
CREATE OPERATOR evil.= (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = evil.jsonb_eq);
CREATE FUNCTION evil.state() RETURNS text LANGUAGE sql SET search_path = pg_catalog AS $$
	SELECT md5(concat_ws('|',
		(SELECT string_agg(t::text, ',' ORDER BY t::text) FROM evil.users t),
		(SELECT string_agg(t::text, ',' ORDER BY t::text) FROM evil.contacts t),
		(SELECT string_agg(t::text, ',' ORDER BY t::text) FROM evil.contact_integrations t),
		(SELECT string_agg(t::text, ',' ORDER BY t::text) FROM evil.integration_events t),
		(SELECT string_agg(t::text, ',' ORDER BY t::text) FROM evil.contacts_binding t),
		(SELECT count(*) FROM evil.calls)::text)) $$;
SQL
[ -s "$work/evil.err" ] && diag "$(head -c 600 "$work/evil.err")"
# the control: the look-alikes really are reached by unqualified SQL
ctl=$(psql -X -q -At -d $EVIL -c "SET search_path = evil, pg_catalog, public" \
	-c "SELECT count(*) FROM contacts WHERE first_name = 'nobody'" 2>&1 | tr '\n' ' ')
case "$ctl" in
*"EVIL"*) ok 0 "control: unqualified SQL on that search_path reaches the look-alikes" ;;
*) ok 1 "control: unqualified SQL on that search_path reaches the look-alikes"; diag "$ctl" ;;
esac
psql -X -q -d $EVIL -c "TRUNCATE evil.calls" >/dev/null
evil_before=$(q $EVIL "SELECT evil.state()")

t602() { q "$1" "SELECT reltest.contacts_md5(602) || reltest.integrations_md5(602) || reltest.events_count(602)"; }
clean602=$(t602 $CLEAN)
evil602=$(t602 $EVIL)
run_calls $CLEAN "public" "$work/clean.out"
run_calls $EVIL "evil, pg_catalog, public" "$work/evil.out"

while IFS=$'\t' read -r label _; do
	c=$(grep "^$label|" "$work/clean.out" | normalise /dev/stdin)
	e=$(grep "^$label|" "$work/evil.out" | normalise /dev/stdin)
	if [ -n "$c" ] && [ "$c" = "$e" ]; then
		ok 0 "search_path with look-alikes first: $label gives the same result"
	else
		ok 1 "search_path with look-alikes first: $label gives the same result"
		diag "clean: $(printf '%s' "$c" | head -c 300)" "evil:  $(printf '%s' "$e" | head -c 300)"
	fi
done <"$work/calls.tsv"
if grep -q 'EVIL' "$work/evil.out.err"; then
	ok 1 "no look-alike function or operator was called"
	diag "$(grep -m5 EVIL "$work/evil.out.err")"
else
	ok 0 "no look-alike function or operator was called"
fi
is "$(grep -v '^$' "$work/evil.out.err" | grep -vc 'EVIL')" 0 "the calls raised no error or warning on that search_path"
[ -n "$evil_before" ] && [ "$(q $EVIL "SELECT evil.state()")" = "$evil_before" ]
ok $? "look-alike tables unchanged and evil.calls empty (checksum)"
is "$(q $EVIL "SELECT count(*) FROM evil.calls")" 0 "evil.calls is empty"
is "$(q $EVIL "SELECT (SELECT count(*) FROM evil.contacts) || ' ' || (SELECT count(*) FROM evil.contact_integrations) || ' ' || (SELECT count(*) FROM evil.integration_events) || ' ' || (SELECT count(*) FROM evil.users) || ' ' || (SELECT count(*) FROM evil.contacts_binding)")" \
	"16 1 1 2 1" "look-alike tables hold exactly their own rows"
is "$(q $EVIL "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM evil.contacts t")" \
	"$(q $EVIL "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM (SELECT g::bigint AS id, u::bigint AS user_id, 'EVIL'::text, 'EVIL'::text, 'evil' || g || '@evil.example', NULL::text, '0400 000 00' || g, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::timestamptz, NULL::timestamptz FROM generate_series(1, 8) g, (VALUES (601), (602)) v(u)) t")" \
	"look-alike contacts unchanged"
is "$(q $EVIL "SELECT payload_json::text FROM evil.contact_integrations")" '{"status": "EVIL"}' "look-alike contact_integrations unchanged"
for d in $CLEAN $EVIL; do
	eval "st_$d=\"\$(q $d \"SELECT reltest.values_md5(601) || ' ' || reltest.values_md5(602) || ' ' || reltest.events_count(601) || ' ' || (SELECT count(*) FROM contact_integrations)\")\""
done
is "$(eval echo "\$st_$EVIL")" "$(eval echo "\$st_$CLEAN")" "both databases end with the same contacts, profiles and events"
[ "$(t602 $CLEAN)" = "$clean602" ] && [ "$(t602 $EVIL)" = "$evil602" ]
ok $? "tenant 602 is untouched by tenant 601's calls in both databases"

# ---- B. privileges --------------------------------------------------------
cleanup_roles_first
new_db $PRIV && seed $PRIV || { ok 1 "set up $PRIV"; done_testing; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -d $PRIV >/dev/null 2>"$work/priv.err" <<'SQL'
CREATE ROLE ap_sec_nobody NOLOGIN;
CREATE ROLE ap_sec_app NOLOGIN;
CREATE TABLE reltest.calls (n int, label text, sql text);
-- Run sql as role r, rolled back; '00000' or the SQLSTATE and message.
CREATE FUNCTION reltest.try_as(r text, sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		EXECUTE format('SET LOCAL ROLE %I', r);
		EXECUTE sql;
		RAISE EXCEPTION 'done' USING ERRCODE = 'P0099';
	EXCEPTION WHEN OTHERS THEN
		IF SQLSTATE = 'P0099' THEN
			RETURN '00000';
		END IF;
		RETURN SQLSTATE || ' ' || SQLERRM;
	END;
END $$;
-- every member object of the extension
CREATE VIEW reltest.ext_objects AS
	SELECT d.classid::regclass::text AS kind, d.objid
	FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	WHERE e.extname = 'activepipe' AND d.deptype = 'e';
-- a call of each function with arguments of its types
CREATE VIEW reltest.fn_calls AS
	SELECT p.oid::regprocedure::text AS fn,
		   format(CASE p.prokind WHEN 'p' THEN 'CALL %I.%I(%s)' ELSE 'SELECT %I.%I(%s)' END, n.nspname, p.proname,
				  (SELECT string_agg(CASE t WHEN 'bigint'::regtype THEN '1::bigint'
											 WHEN 'bigint[]'::regtype THEN '''{1}''::bigint[]'
											 WHEN 'text'::regtype THEN '''x''::text'
											 WHEN 'jsonb'::regtype THEN '''{}''::jsonb'
											 WHEN 'boolean'::regtype THEN 'false'
											 WHEN 'bytea'::regtype THEN '''\x41''::bytea'
											 ELSE 'NULL' END, ', ' ORDER BY o)
				   FROM unnest(p.proargtypes::regtype[]) WITH ORDINALITY a(t, o))) AS sql
	FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
	WHERE p.oid IN (SELECT objid FROM reltest.ext_objects WHERE kind = 'pg_proc');
SQL
[ -s "$work/priv.err" ] && diag "$(head -c 600 "$work/priv.err")"

# B1. no grants: every table, sequence and function refuses with 42501
res=$(q $PRIV "SELECT string_agg(c.relname || ': ' || r, '; ') FROM reltest.ext_objects o JOIN pg_class c ON c.oid = o.objid,
	LATERAL reltest.try_as('ap_sec_nobody', CASE c.relkind WHEN 'S' THEN format('SELECT nextval(%L)', c.oid::regclass) ELSE format('SELECT * FROM %I.%I LIMIT 1', c.relnamespace::regnamespace, c.relname) END) r
	WHERE o.kind = 'pg_class' AND c.relkind IN ('r', 'S') AND r NOT LIKE '42501 %'")
is "${res:-}" "" "a role without grants gets 42501 from every table and sequence of the extension"
n=$(q $PRIV "SELECT count(*) FROM reltest.ext_objects o JOIN pg_class c ON c.oid = o.objid WHERE c.relkind IN ('r', 'S')")
[ "$n" -ge 5 ]; ok $? "the extension owns $n tables and sequences (at least 5)"
res=$(q $PRIV "SELECT string_agg(fn || ': ' || r, '; ') FROM reltest.fn_calls, LATERAL reltest.try_as('ap_sec_nobody', sql) r WHERE r NOT LIKE '42501 %' AND fn NOT IN ('activepipe_next_id(regclass)', 'activepipe_row_image_hash(record)')")
is "${res:-}" "" "a role without grants gets 42501 from every function of the extension but activepipe_next_id and activepipe_row_image_hash"
res=$(q $PRIV "SELECT reltest.try_as('ap_sec_nobody', 'SELECT public.activepipe_next_id(''public.contact_integrations_id_seq'')')")
is "${res%% *}" 42501 "activepipe_next_id, PUBLIC's, still checks USAGE on the sequence"
nf=$(q $PRIV "SELECT count(*) FROM reltest.fn_calls")
[ "$nf" -ge 14 ]; ok $? "the extension has $nf functions (at least 14)"
res=$(q $PRIV "SELECT reltest.try_as('ap_sec_nobody', 'SELECT count(*) FROM public.contacts')")
is "${res%% *}" 42501 "a role without grants cannot read the contacts table either"

# B2. the documented grants (docs/activepipe_bridge.md, section 9); USAGE
# on public is taken from PUBLIC so that it is something the role holds
q $PRIV "REVOKE USAGE ON SCHEMA public FROM PUBLIC" >/dev/null
cat >"$work/grants.tsv" <<'EOF'
USAGE ON SCHEMA public
SELECT ON contact_integrations
INSERT ON contact_integrations
UPDATE ON contact_integrations
SELECT ON integration_events
INSERT ON integration_events
USAGE ON SEQUENCE contact_integrations_id_seq
USAGE ON SEQUENCE integration_events_id_seq
SELECT ON contacts_binding
SELECT ON tenant_locks
INSERT ON tenant_locks
UPDATE ON tenant_locks
SELECT ON import_history
INSERT ON import_history
UPDATE (undone_by, undo_pending) ON import_history
SELECT ON import_rows
INSERT ON import_rows
SELECT ON import_contacts
INSERT ON import_contacts
SELECT ON export_contacts
INSERT ON export_contacts
DELETE ON contact_integrations
SELECT ON public.contacts
INSERT ON public.contacts
UPDATE ON public.contacts
DELETE ON public.contacts
USAGE ON SEQUENCE public.contacts_id_seq
EOF
fns="activepipe_card(bigint, bigint), activepipe_card_save(bigint, bigint, jsonb), activepipe_card_clear(bigint, bigint), activepipe_export(bigint, bigint[], text, boolean), activepipe_export_summary(bigint, bigint[]), activepipe_export_rows(bigint, bigint[]), activepipe_import_preview(bigint, text, boolean), activepipe_import_preview(bigint, bytea, boolean), activepipe_import_plan(bigint, text, boolean), activepipe_import_commit(bigint, text, boolean, text), activepipe_import_commit(bigint, bytea, boolean, text), activepipe_contract(), activepipe_phone_key(text), activepipe_phone_key(text, text), activepipe_email_key(text), activepipe_import_report(bigint, bigint), activepipe_import_report_csv(bigint, bigint, boolean), activepipe_import_undo(bigint, bigint), activepipe_import_undo_preview(bigint, bigint), activepipe_export_report(bigint, bigint)"
{
	while read -r g; do echo "GRANT $g TO ap_sec_app;"; done <"$work/grants.tsv"
	echo "GRANT EXECUTE ON FUNCTION $fns TO ap_sec_app;"
	n=0
	while IFS=$'\t' read -r label sql; do
		n=$((n + 1))
		printf "INSERT INTO reltest.calls VALUES (%d, '%s', \$q\$%s\$q\$);\n" "$n" "$label" "$sql"
	done <"$work/calls.tsv"
} | psql -X -q -v ON_ERROR_STOP=1 -d $PRIV >/dev/null 2>"$work/grant.err"
[ -s "$work/grant.err" ] && diag "$(head -c 600 "$work/grant.err")"

# every app call, as the app role (each rolled back)
all_calls() { q $PRIV "SELECT n || ' ' || label || ': ' || reltest.try_as('ap_sec_app', sql) FROM reltest.calls ORDER BY n"; }
all_calls >"$work/app.out"
while read -r n label rest; do
	[ "$rest" = 00000 ]
	ok $? "the app role with the documented grants can call ${label%:}"
	[ "$rest" = 00000 ] || diag "$rest"
done <"$work/app.out"

# each documented grant is needed: revoke it, some call fails with 42501
while read -r g; do
	q $PRIV "REVOKE $g FROM ap_sec_app" >/dev/null
	failing=$(all_calls | grep ' 42501 ' | head -1)
	q $PRIV "GRANT $g TO ap_sec_app" >/dev/null
	[ -n "$failing" ]
	ok $? "without $g some call fails with 42501 (${failing:-none fails})"
done <"$work/grants.tsv"
# ... and the role can execute exactly the documented functions
res=$(q $PRIV "SELECT string_agg(fn, ', ') FROM reltest.fn_calls f WHERE has_function_privilege('ap_sec_app', fn, 'EXECUTE') AND fn NOT IN (SELECT unnest(string_to_array('$(echo "$fns" | sed "s/), /)|/g")', '|'))::regprocedure::text) AND fn NOT IN ('activepipe_next_id(regclass)', 'activepipe_row_image_hash(record)')")
is "${res:-}" "" "the app role can execute exactly the documented functions (no extra, e.g. activepipe_statements)"
# ... and nothing more than they give: the event log and the kept reports
# cannot be rewritten or removed
res=$(q $PRIV "SELECT reltest.try_as('ap_sec_app', 'UPDATE integration_events SET summary = ''{}''') || ' / ' || reltest.try_as('ap_sec_app', 'DELETE FROM integration_events') || ' / ' || reltest.try_as('ap_sec_app', 'DELETE FROM import_rows') || ' / ' || reltest.try_as('ap_sec_app', 'CALL activepipe_prune_history()') || ' / ' || reltest.try_as('ap_sec_app', 'UPDATE import_history SET pruning = true') || ' / ' || reltest.try_as('ap_sec_app', 'UPDATE import_contacts SET chunk = 0')")
case "$res" in
"42501 "*" / 42501 "*" / 42501 "*" / 42501 "*" / 42501 "*" / 42501 "*) ok 0 "the app role cannot rewrite events, delete reports, prune them or rewrite what undo reads" ;;
*) ok 1 "the app role cannot rewrite events, delete reports, prune them or rewrite what undo reads"; diag "$res" ;;
esac

# ---- C. nothing is SECURITY DEFINER ---------------------------------------
res=$(q $PRIV "SELECT coalesce(string_agg(p.oid::regprocedure::text, ', '), '') FROM pg_proc p WHERE p.oid IN (SELECT objid FROM reltest.ext_objects WHERE kind = 'pg_proc') AND p.prosecdef")
is "$res" "" "no function of the extension is SECURITY DEFINER"

# ---- D. errors reveal nothing about other tenants ---------------------------
# verbose error text of a call by tenant 601, with the id in it masked
err_text() {
	psql -X -q -At -d $PRIV -v VERBOSITY=verbose -c "\\set VERBOSITY verbose" -c "$1" 2>&1 >/dev/null |
		sed -E "s/\\b$2\\b/<id>/g; s/^psql:[^ ]* //"
}
for call in \
	"card|SELECT activepipe_card(601, %s)" \
	"card_save|SELECT activepipe_card_save(601, %s, '{\"status\": \"x\"}')" \
	"card_save with bad fields|SELECT activepipe_card_save(601, %s, '{\"bogus\": 1, \"minbeds\": \"many\"}')" \
	"card_clear|SELECT activepipe_card_clear(601, %s)" \
	"export|SELECT activepipe_export(601, ARRAY[%s]::bigint[])" \
	"export with an own id|SELECT activepipe_export(601, ARRAY[1, %s]::bigint[], 'f.csv', true)" \
	"export_rows|SELECT * FROM activepipe_export_rows(601, ARRAY[2, %s]::bigint[])"; do
	label=${call%%|*}
	tmpl=${call#*|}
	# shellcheck disable=SC2059
	other=$(err_text "$(printf "$tmpl" 3)" 3)
	# shellcheck disable=SC2059
	missing=$(err_text "$(printf "$tmpl" 999999)" 999999)
	if [ -n "$other" ] && [ "$other" = "$missing" ]; then
		ok 0 "$label: another tenant's contact id and a missing id give the same error"
	else
		ok 1 "$label: another tenant's contact id and a missing id give the same error"
		diag "other tenant's: $other" "missing:        $missing"
	fi
done
a=$(q $PRIV "SELECT activepipe_export_summary(601, ARRAY[1, 3]::bigint[])::text")
b=$(q $PRIV "SELECT activepipe_export_summary(601, ARRAY[1, 999999]::bigint[])::text")
is "$a" "$b" "export_summary: another tenant's id counts exactly like a missing one"

# imports of tenant 601 naming tenant 602's people never show 602's data
secrets='Secretia|Hiddenhaus|Secretville|secret-status|secret-tag|secret-source|Confidential'
csv="email,firstname,lastname,mobile,phone\nann@example.com,Annette,Lee,,\nbea.private@example.com,Bee,,,\n,Someone,,0412 345 678,\n,Other,,,(02) 9876 5432\n"
out=$(psql -X -q -At -d $PRIV 2>&1 <<SQL
\\set VERBOSITY verbose
SELECT activepipe_import_preview(601, E'$csv');
SELECT string_agg(p::text, ' ') FROM activepipe_import_plan(601, E'$csv') p;
BEGIN;
SELECT activepipe_import_commit(601, E'$csv', true);
SELECT activepipe_card(601, c.id) FROM contacts c WHERE c.user_id = 601;
SELECT activepipe_export(601, ARRAY(SELECT id FROM contacts WHERE user_id = 601));
ROLLBACK;
SELECT activepipe_import_preview(601, E'email,firstname\nbea.private@example.com,"Bee\n');
SELECT activepipe_import_commit(601, E'email,firstname\nann@example.com,Ann\nbea.private@example.com,Bee,extra\n');
SQL
)
if grep -qE "$secrets" <<<"$out"; then
	ok 1 "imports, plans, cards and exports of tenant 601 never show tenant 602's data"
	diag "$(printf '%s' "$out" | grep -E "$secrets" | head -3 | cut -c1-300)"
else
	ok 0 "imports, plans, cards and exports of tenant 601 never show tenant 602's data"
fi
grep -q '22P04' <<<"$out" && grep -q 'conflict' <<<"$out"
ok $? "(those calls did run: conflicts and 22P04 errors were reported)"
out=$(q $PRIV "SELECT string_agg(p.contact_id::text, ',') FROM activepipe_import_plan(601, E'$csv') p WHERE p.contact_id IN (3, 4)")
is "${out:-}" "" "tenant 601's import plan never names tenant 602's contacts (shared email, mobile and phone)"

crash_check
done_testing
