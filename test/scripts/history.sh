#!/usr/bin/env bash
# Import history across sessions and tools (issue 15): a cancelled undo
# changes nothing; activepipe_prune_history removes old reports in short
# transactions, and a pruned import says so (55000, naming the setting);
# pg_dump and restore keep the reports, and an undo after the restore puts
# the contacts back byte for byte.
#
#   bash test/scripts/history.sh            (PG* set to a running cluster)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/scripts/reliability_lib.bash

DB=ap_history
DB2=ap_history_restored
ROWS=${HISTORY_ROWS:-20000}
work=$(mktemp -d "${TMPDIR:-/tmp}/ap-history.XXXXXX")
trap 'rm -rf "$work"; dropdb --if-exists $DB >/dev/null 2>&1; dropdb --if-exists $DB2 >/dev/null 2>&1' EXIT
crash_mark

new_db $DB || { ok 1 "set up $DB"; done_testing; exit 1; }
run $DB <<SQL
INSERT INTO users (id) VALUES (1), (2), (3);
INSERT INTO contacts (user_id, first_name, email, city)
	SELECT 1, 'P' || g, 'p' || g || '@x.com', 'Town' || (g % 7) FROM generate_series(1, $ROWS) g;
INSERT INTO contact_integrations (user_id, contact_id, payload_json)
	SELECT 1, id, jsonb_build_object('status', 'old', 'minbeds', id % 5) FROM contacts WHERE id % 2 = 0;
CREATE TABLE files (name text PRIMARY KEY, body text);
INSERT INTO files SELECT 'big', E'email,city,status,minbeds\n'
	|| string_agg('p' || g || '@x.com,New' || g || ',new,' || (g % 3), E'\n') || E'\n' FROM generate_series(1, $ROWS) g;
CREATE FUNCTION rows_md5(uid bigint) RETURNS text LANGUAGE sql AS \$\$
	SELECT md5((SELECT string_agg(c::text, '|' ORDER BY c.id) FROM contacts c WHERE c.user_id = uid)
		|| (SELECT coalesce(string_agg(ci::text, '|' ORDER BY ci.id), '') FROM contact_integrations ci WHERE ci.user_id = uid)) \$\$;
SQL
before=$(q $DB "SELECT rows_md5(1)")
ev=$(q $DB "SELECT activepipe_import_commit(1, body) ->> 'event_id' FROM files WHERE name = 'big'")
[ -n "$ev" ]; ok $? "a $ROWS-row import committed (event $ev)"
after=$(q $DB "SELECT rows_md5(1)")
isnt "$after" "$before" "the import changed the tenant"

# 1. a cancel mid-undo: another session holds a row the undo reaches in a
#    late batch, so the undo has written earlier batches when it is
#    cancelled; nothing of it remains
late=$(q $DB "SELECT contact_id FROM contact_integrations WHERE user_id = 1 ORDER BY contact_id OFFSET $((ROWS * 4 / 10)) LIMIT 1")
(psql -X -q -d $DB -c "BEGIN" -c "SELECT 1 FROM contact_integrations WHERE contact_id = $late FOR UPDATE" -c "SELECT pg_sleep(3)" -c "COMMIT" >/dev/null 2>&1) &
sleep 0.5
out=$(psql -X -q -At -d $DB -c "SET statement_timeout = '1s'" -c "SELECT activepipe_import_undo(1, $ev)" 2>&1)
wait
like "$out" "canceling statement due to statement timeout" "an undo cancelled halfway (blocked on a late batch) raises the cancel"
is "$(q $DB "SELECT rows_md5(1)")" "$after" "a cancelled undo changes nothing"
is "$(q $DB "SELECT count(*) FROM integration_events WHERE event_type = 'undo'")" 0 "... and logs nothing"
is "$(q $DB "SELECT activepipe_import_undo(1, $ev) ->> 'status'")" undone "the undo then runs whole"
is "$(q $DB "SELECT rows_md5(1)")" "$before" "... back to the rows before the import, byte for byte"

# 2. pg_dump and restore keep reports and undo state; contacts an import
#    created, with columns whose stored bytes hold OIDs (an enum, an array
#    of it, a composite holding it, a range of a user range type), are
#    deleted by an undo after the restore, which gives those types new OIDs
run $DB <<'SQL'
CREATE TYPE mood AS ENUM ('ok', 'sad');
CREATE TYPE pair AS (n int, m mood);
CREATE TYPE floatrange AS RANGE (subtype = float8);
CREATE TYPE solo AS (m mood);
ALTER TABLE contacts ADD COLUMN mood mood DEFAULT 'sad', ADD COLUMN moods mood[] DEFAULT '{ok,sad}',
	ADD COLUMN pair pair DEFAULT ROW(1, 'ok'), ADD COLUMN span floatrange DEFAULT '[1.5,2.5)',
	ADD COLUMN solo solo;
SQL
ev3=$(q $DB "SELECT activepipe_import_commit(2, E'email\\nr1@x.com\\nr2@x.com\\n') ->> 'event_id'")
q $DB "SELECT activepipe_export(1, ARRAY[1, 2, 3]::bigint[])" >/dev/null
before2=$(q $DB "SELECT rows_md5(1)")
ev2=$(q $DB "SELECT activepipe_import_commit(1, body) ->> 'event_id' FROM files WHERE name = 'big'")
after2=$(q $DB "SELECT rows_md5(1)")
report=$(q $DB "SELECT md5(string_agg(r::text, '|' ORDER BY r.line)) FROM activepipe_import_report(1, $ev2) r")
"$PGBIN/pg_dump" -Fc -d $DB -f "$work/dump" 2>"$work/dump.err"
ok $? "pg_dump -Fc"
createdb $DB2 && "$PGBIN/pg_restore" -d $DB2 "$work/dump" 2>"$work/restore.err"
ok $? "pg_restore into a new database"
diag "$(head -c 400 "$work/restore.err")"
is "$(q $DB2 "SELECT md5(string_agg(r::text, '|' ORDER BY r.line)) FROM activepipe_import_report(1, $ev2) r")" "$report" \
	"the restored report equals the original"
is "$(q $DB2 "SELECT string_agg(x::text, ',') FROM activepipe_export_report(1, (SELECT max(id) FROM integration_events WHERE event_type = 'export')) x")" "1,2,3" \
	"the restored export report lists the contacts sent"
is "$(q $DB2 "SELECT activepipe_import_undo(1, $ev) ->> 'status'")" "already undone" "the restored first import is still undone"
is "$(q $DB2 "SELECT rows_md5(1)")" "$after2" "the restored contacts and profiles equal the dumped ones"
is "$(q $DB2 "SELECT (activepipe_import_undo(1, $ev2) - 'event_id' - 'undone_event_id')::text")" \
	"{\"rows\": [], \"status\": \"undone\", \"deleted\": 0, \"restored\": $ROWS, \"conflicts\": 0, \"rows_omitted\": 0}" \
	"an undo after the restore restores every contact"
is "$(q $DB2 "SELECT rows_md5(1)")" "$before2" "... back to the rows before the import, byte for byte"
isnt "$(q $DB2 "SELECT 'mood'::regtype::oid")" "$(q $DB "SELECT 'mood'::regtype::oid")" "the restored enum type has another OID"
q $DB2 "UPDATE contacts SET solo = ROW(NULL) WHERE email = 'r2@x.com'" >/dev/null
is "$(q $DB2 "SELECT concat_ws('/', s->>'deleted', s->>'conflicts') FROM activepipe_import_undo(2, $ev3) s")" "1/1" \
	"an undo after the restore deletes the contact the import created whose enum, array, composite and range columns are unchanged, and leaves the one edited since (a NULL composite set to one of NULLs)"
is "$(q $DB2 "SELECT string_agg(email, ',') FROM contacts WHERE user_id = 2")" "r2@x.com" "... the edited one is the one left"
nid=$(q $DB2 "SELECT max(id) FROM integration_events")
is "$(q $DB2 "SELECT activepipe_import_commit(2, E'email\\nnew@x.com\\n') ->> 'event_id'")" "$((nid + 1))" \
	"a new event after the restore continues the restored sequence"

# 3. prune: reports older than activepipe.history_days go, in short transactions
q $DB "UPDATE import_history SET created_at = now() - interval '100 days' WHERE event_id = $ev;
	UPDATE export_contacts SET created_at = now() - interval '100 days'" >/dev/null
n=$(psql -X -q -At -d $DB -c "CALL activepipe_prune_history()" 2>&1)
is "$n" 2 "CALL activepipe_prune_history(): one import report and one export list older than 90 days"
is "$(q $DB "SELECT count(*) FROM import_rows WHERE event_id = $ev") $(q $DB "SELECT count(*) FROM import_contacts WHERE event_id = $ev")" "0 0" \
	"the pruned import's rows are gone"
is "$(q $DB "SELECT count(*) > 0 FROM import_rows WHERE event_id = $ev2")" t "the recent import's report is kept"
err=$(psql -X -q -At -d $DB -c "SELECT * FROM activepipe_import_report(1, $ev)" 2>&1)
like "$err" "ERROR: +the report of import event $ev is no longer kept" "reporting a pruned import: a clear error"
like "$(sqlerr $DB "SELECT activepipe_import_undo(1, $ev)")" "^55000" "undoing a pruned import: 55000"
like "$err" "HINT: +Raise activepipe.history_days" "... with a hint naming activepipe.history_days"
is "$(psql -X -q -At -d $DB -c "SET activepipe.history_days = 0" -c "CALL activepipe_prune_history()" 2>&1 | tail -1)" 0 \
	"history_days = 0 keeps everything"
q $DB "UPDATE import_history SET created_at = now() - interval '100 days' WHERE event_id = $ev2" >/dev/null
log=$(psql -X -q -At -d $DB -c "SET log_statement = 'none'" -c "CALL activepipe_prune_history(2)" 2>&1)
is "$log" 0 "activepipe_prune_history(user_id) prunes that tenant only"
like "$(sqlerr $DB "BEGIN; CALL activepipe_prune_history(); COMMIT;")" "^2D000" \
	"inside a transaction block it refuses (it commits between batches)"

# wait_for APP WHERE WHAT: until a session named APP matches WHERE in
# pg_stat_activity (10 s at most); a TAP line says it did, so a test that
# goes on without the state it needs fails instead of passing vacuously
wait_for() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(q $DB "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$1' AND $2")" = 1 ] && break
		sleep 0.05
	done
	ok $([ "$i" -lt 200 ]; echo $?) "session $1 $3"
}
wait_sleeping() { wait_for "$1" "query LIKE '%pg_sleep%' AND state = 'active'" "is in its pg_sleep"; }

# 4. an application edit that lands while an undo runs is never overwritten:
#    the undo locks the import's contacts before it compares them
q $DB "INSERT INTO contacts (id, user_id, first_name, email, city) VALUES (900001, 3, 'Cat', 'cat@x.com', 'Newtown')" >/dev/null
ev4=$(q $DB "SELECT activepipe_import_commit(3, E'email,city\ncat@x.com,Enmore\n', true) ->> 'event_id'")
(PGAPPNAME=ap_app_edit psql -X -q -d $DB -c "BEGIN" -c "UPDATE contacts SET city = 'Marrickville (app)' WHERE id = 900001" \
	-c "SELECT pg_sleep(2)" -c "COMMIT" >/dev/null 2>&1) &
wait_sleeping ap_app_edit
out=$(q $DB "SELECT activepipe_import_undo(3, $ev4) - 'event_id' - 'undone_event_id' - 'rows'")
wait
is "$out" '{"status": "undone", "deleted": 0, "restored": 0, "conflicts": 1, "rows_omitted": 0}' \
	"an undo that meets an application edit in flight waits for it, then reports the contact changed since"
is "$(q $DB "SELECT city FROM contacts WHERE id = 900001")" "Marrickville (app)" "... and the edit stays"

# 5. pruning waits for an undo of the same tenant in flight (the tenant
#    lock): here the undo has read the import and waits on a contact row
#    (an application session holds it, writing nothing new) when the prune
#    starts; without the lock the prune would remove the report under it,
#    and the undo would restore nothing yet say "undone"
ev5=$(q $DB "SELECT activepipe_import_commit(3, E'email,city\ncat@x.com,Glebe\n', true) ->> 'event_id'")
q $DB "UPDATE import_history SET created_at = now() - interval '100 days' WHERE event_id = $ev5" >/dev/null
(PGAPPNAME=ap_app_hold psql -X -q -d $DB -c "BEGIN" -c "SELECT 1 FROM contacts WHERE id = 900001 FOR UPDATE" \
	-c "SELECT pg_sleep(2)" -c "COMMIT" >/dev/null 2>&1) &
wait_sleeping ap_app_hold
(PGAPPNAME=ap_undo5 psql -X -q -At -d $DB -c "SELECT activepipe_import_undo(3, $ev5) ->> 'restored'" >"$work/undo5.out" 2>&1) &
wait_for ap_undo5 "wait_event_type = 'Lock'" "waits on the held contact row"
t0=$(date +%s%N)
pruned=$(psql -X -q -At -d $DB -c "CALL activepipe_prune_history(3)" 2>&1)
waited=$(( ($(date +%s%N) - t0) / 1000000 ))
wait
is "$(cat "$work/undo5.out") $pruned" "1 1" "the undo restored its contact, and the prune then removed the report"
ok $([ "$waited" -ge 1000 ]; echo $?) "the prune waited for the undo (${waited} ms)"
is "$(q $DB "SELECT city FROM contacts WHERE id = 900001")" "Marrickville (app)" "... which was undone whole"

# 6. the undo's row locks let other tables go on referencing its contacts
#    (NO KEY UPDATE, as an UPDATE takes: a foreign key check is not blocked)
q $DB "CREATE TABLE notes (contact_id bigint REFERENCES contacts (id), body text)" >/dev/null
ev6=$(q $DB "SELECT activepipe_import_commit(3, E'email,city\ncat@x.com,Leichhardt\n', true) ->> 'event_id'")
(PGAPPNAME=ap_undo_hold psql -X -q -d $DB -c "BEGIN" -c "SELECT activepipe_import_undo(3, $ev6) ->> 'restored'" \
	-c "SELECT pg_sleep(2)" -c "COMMIT" >/dev/null 2>&1) &
wait_sleeping ap_undo_hold
out=$(psql -X -q -At -d $DB -c "SET lock_timeout = '1s'" -c "INSERT INTO notes VALUES (900001, 'call back')" 2>&1)
wait
is "$out" "" "while an undo holds its contacts, a row referencing one of them is inserted without waiting"

crash_check
done_testing
