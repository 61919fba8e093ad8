#!/usr/bin/env bash
# pg_dump / pg_restore at volume (complements pg_dump.sh, which checks the
# mechanics on a handful of rows): three tenants with thousands of
# contacts, integration rows and events, made through the API, dumped in
# custom format and restored with two jobs.  Every row of contacts,
# contact_integrations and integration_events comes back byte-for-byte
# (checksums), the sequences continue past the dumped ids, and the API
# works on the restored copy.
#
#   bash test/scripts/pg_dump_bulk.sh       (PG* set to a running cluster)
#   DUMP_CONTACTS=20000 DUMP_EVENTS=10000 bash test/scripts/pg_dump_bulk.sh
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/scripts/reliability_lib.bash

SRC=ap_dumpbulk_src
DST=ap_dumpbulk_dst
CONTACTS=${DUMP_CONTACTS:-3000}	# per tenant
EVENTS=${DUMP_EVENTS:-2000}		# export events, on top of the imports'
work=$(mktemp -d "${TMPDIR:-/tmp}/ap-dumpbulk.XXXXXX")
trap 'rm -rf "$work"; dropdb --if-exists $SRC >/dev/null 2>&1; dropdb --if-exists $DST >/dev/null 2>&1' EXIT
crash_mark
new_db $SRC || { ok 1 "set up $SRC"; done_testing; exit 1; }

psql -X -q -v ON_ERROR_STOP=1 -d $SRC >/dev/null 2>"$work/src.err" <<SQL
INSERT INTO users (id) VALUES (801), (802), (803);
-- contacts and profiles through import commits, 500 rows a file
DO \$\$
DECLARE
	t bigint;
	k int;
BEGIN
	FOR t IN 801 .. 803 LOOP
		FOR k IN 0 .. ($CONTACTS - 1) / 500 LOOP
			PERFORM activepipe_import_commit(t,
				'email,firstname,lastname,mobile,status,tags,minprice,locations' || E'\n' ||
				(SELECT string_agg(format('p%s@example.com,F%s,"L, %s",04%s,st%s,"a;b%s",%s,"Bondi, ""North""\nline2"',
										  g, g, g, lpad(g::text, 8, '0'), g % 5, g % 7, g * 1000), E'\n' ORDER BY g)
				   FROM generate_series(k * 500 + 1, least((k + 1) * 500, $CONTACTS)) g),
				false, format('t%s-part%s.csv', t, k));
		END LOOP;
	END LOOP;
END \$\$;
-- card edits and exports: every export logs an event and stamps last_exported_at
DO \$\$
DECLARE
	i int;
	t bigint;
	ids bigint[];
BEGIN
	FOR i IN 1 .. $EVENTS LOOP
		t := 801 + i % 3;
		SELECT array_agg(id) INTO ids FROM (SELECT id FROM contacts WHERE user_id = t ORDER BY id OFFSET (i * 7) % $CONTACTS LIMIT 3) s;
		PERFORM activepipe_export(t, ids, 'export-' || i || '.csv', i % 2 = 0);
		IF i % 10 = 0 THEN
			PERFORM activepipe_card_save(t, ids[1], jsonb_build_object('status', 'edited ' || i, 'buyertype', 'Investor'));
		END IF;
	END LOOP;
END \$\$;
SQL
ok $? "source: $((3 * CONTACTS)) contacts, profiles and $((EVENTS)) exports made through the API"
[ -s "$work/src.err" ] && diag "$(head -c 500 "$work/src.err")"

summary="SELECT (SELECT count(*) FROM contacts) || ' ' || (SELECT count(*) FROM contact_integrations) || ' ' || (SELECT count(*) FROM integration_events)"
rows_md5="SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM"
seqs="SELECT last_value || ' ' || is_called FROM"
src_counts=$(q $SRC "$summary")
diag "source rows (contacts, contact_integrations, integration_events): $src_counts"
read -r nc ni ne <<<"$src_counts"
[ "$nc" -ge $((3 * CONTACTS)) ] && [ "$ni" -ge $((3 * CONTACTS)) ] && [ "$ne" -ge "$EVENTS" ]
ok $? "thousands of rows in each table"

start=$(date +%s%N)
pg_dump -Fc -f "$work/db.dump" $SRC 2>"$work/dump.err"
ok $? "pg_dump -Fc"
createdb $DST && pg_restore -j 2 -d $DST "$work/db.dump" 2>"$work/restore.err"
ok $? "pg_restore -j 2 into a new database"
[ -s "$work/restore.err" ] && diag "$(head -c 500 "$work/restore.err")"
diag "dump and restore took $(( ($(date +%s%N) - start) / 1000000 )) ms, dump $(wc -c <"$work/db.dump") bytes"

is "$(q $DST "$summary")" "$src_counts" "restored: the same row counts"
for tbl in contacts contact_integrations integration_events contacts_binding; do
	order=id
	[ $tbl = contacts_binding ] && order=singleton
	is "$(q $DST "SELECT md5(string_agg(t::text, '|' ORDER BY t.$order)) FROM $tbl t")" \
		"$(q $SRC "SELECT md5(string_agg(t::text, '|' ORDER BY t.$order)) FROM $tbl t")" "restored: every row of $tbl byte-for-byte"
done
for s in contacts_id_seq contact_integrations_id_seq integration_events_id_seq; do
	is "$(q $DST "$seqs $s")" "$(q $SRC "$seqs $s")" "restored: $s at the same position"
done
is "$(q $DST "SELECT extversion FROM pg_extension WHERE extname = 'activepipe'")" \
	"$(q $SRC "SELECT extversion FROM pg_extension WHERE extname = 'activepipe'")" "restored: the same extension version"

# the API on the restored copy
max_ev=$(q $DST "SELECT max(id) FROM integration_events")
res=$(q $DST "SELECT (s ->> 'total_rows') || ' ' || (s ->> 'new') || ' ' || (s ->> 'updated') || ' ' || ((s ->> 'event_id')::bigint > $max_ev) FROM activepipe_import_commit(801, E'email,status\np1@example.com,restored\nfresh@example.com,new\n', false, 'after.csv') s" 2>&1)
is "$res" "2 1 1 true" "restored: an import commit matches restored contacts and logs an event past the dumped ids"
res=$(q $DST "SELECT activepipe_card(801, (SELECT id FROM contacts WHERE user_id = 801 AND email = 'p1@example.com')) -> 'fields' ->> 'status'" 2>&1)
is "$res" restored "restored: the card reads the restored profile"
res=$(q $DST "SELECT activepipe_export(802, ARRAY(SELECT id FROM contacts WHERE user_id = 802 ORDER BY id LIMIT 2))" 2>&1 | head -2 | tail -1)
src_res=$(q $SRC "SELECT activepipe_export(802, ARRAY(SELECT id FROM contacts WHERE user_id = 802 ORDER BY id LIMIT 2))" 2>&1 | head -2 | tail -1)
is "$res" "$src_res" "restored: an export gives the source's CSV"
is "$(q $DST "SELECT count(*) FROM (SELECT activepipe_email_key(email) FROM contacts WHERE user_id = 801 GROUP BY 1 HAVING count(*) > 1) d")" 0 \
	"restored: no duplicate contact after importing into the copy"

crash_check
done_testing
