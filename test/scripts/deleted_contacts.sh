#!/usr/bin/env bash
# Deleting a contact leaves no integration row that the card, the export
# or the import can see or trip over (docs/activepipe_bridge.md, section
# 10), in the three ways an application may delete:
#   1. the contact alone, leaving an orphan profile row;
#   2. profile and contact in one transaction (the documented DELETEs);
#   3. a foreign key ON DELETE CASCADE (the documented ALTER TABLEs).
#
#   bash test/scripts/deleted_contacts.sh   (PG* set to a running cluster)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/scripts/reliability_lib.bash

DB=ap_deleted
trap 'dropdb --if-exists "$DB" >/dev/null 2>&1' EXIT
crash_mark
new_db "$DB" || { ok 1 "set up database $DB"; done_testing; exit 1; }

# errq SQL: the SQLSTATE and message of SQL's error, or "no error"
errq() {
	psql -X -q -At -d "$DB" -c '\set VERBOSITY verbose' -c "$1" 2>&1 >/dev/null |
		sed -nE 's/.*ERROR:  ([0-9A-Z]{5}): (.*)/\1 \2/p' | head -1 | grep . || echo "no error"
}

psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<'SQL'
INSERT INTO users (id) VALUES (701), (702), (703);
INSERT INTO contacts (id, user_id, first_name, last_name, email, mobile) VALUES
	(1, 701, 'Gone', 'Soon', 'gone@example.com', '0411 111 111'),
	(2, 701, 'Stay', 'Here', 'stay@example.com', NULL),
	(3, 702, 'Gone', 'Soon', 'gone2@example.com', '0422 222 222'),
	(4, 703, 'Gone', 'Soon', 'gone3@example.com', '0433 333 333'),
	(5, 703, 'Stay', 'Here', 'stay3@example.com', NULL);
SELECT setval('contacts_id_seq', 100);
SELECT activepipe_card_save(701, 1, '{"status": "orphan-status", "tags": ["orphan-tag"]}');
SELECT activepipe_card_save(701, 2, '{"status": "kept"}');
SELECT activepipe_card_save(702, 3, '{"status": "orphan-status"}');
SELECT activepipe_card_save(703, 4, '{"status": "orphan-status"}');
SELECT activepipe_export(701, ARRAY[1, 2]::bigint[]);
SQL

# ---- 1. the contact alone: the profile row stays, unseen -----------------
q "$DB" "DELETE FROM contacts WHERE id = 1" >/dev/null
is "$(q "$DB" "SELECT count(*) FROM contact_integrations WHERE user_id = 701 AND contact_id = 1")" 1 \
	"contact deleted alone: its profile row is left behind (the case to survive)"
is "$(errq "SELECT activepipe_card(701, 1)")" "$(errq "SELECT activepipe_card(701, 999)" | sed 's/999/1/')" \
	"the card of the deleted contact says what it says of a missing id"
is "$(errq "SELECT activepipe_card_save(701, 1, '{\"status\": \"x\"}')")" "P0002 contact 1 not found" "card_save refuses the deleted contact"
is "$(errq "SELECT activepipe_card_clear(701, 1)")" "P0002 contact 1 not found" "card_clear refuses the deleted contact"
is "$(errq "SELECT activepipe_export(701, ARRAY[1, 2]::bigint[])")" "P0002 contact 1 not found" "export of the deleted contact fails as for a missing id"
is "$(q "$DB" "SELECT activepipe_export_summary(701, ARRAY[1, 2]::bigint[]) ->> 'not_found'")" 1 "export_summary counts it not found"
out=$(q "$DB" "SELECT activepipe_export(701, ARRAY[2]::bigint[])")
case "$out" in *orphan*) ok 1 "an export of the other contacts shows nothing of the orphan profile" ;; *kept*) ok 0 "an export of the other contacts shows nothing of the orphan profile" ;; *) ok 1 "an export of the other contacts works"; diag "$out" ;; esac
# the import must not match or revive the orphan: the person comes back new
res=$(q "$DB" "SELECT (s ->> 'new') || ' ' || (s ->> 'matched') FROM activepipe_import_commit(701, E'email,firstname,mobile\ngone@example.com,Gone,0411 111 111\nstay@example.com,Stay,\n') s")
is "$res" "1 1" "import: the deleted person is new again, the other contact matched"
newid=$(q "$DB" "SELECT id FROM contacts WHERE user_id = 701 AND email = 'gone@example.com'")
[ -n "$newid" ] && [ "$newid" != 1 ]; ok $? "the re-imported person is a new contact ($newid)"
card=$(q "$DB" "SELECT activepipe_card(701, $newid)::text")
case "$card" in *orphan*) ok 1 "the new contact does not inherit the orphan profile"; diag "$card" ;; *) ok 0 "the new contact does not inherit the orphan profile" ;; esac
is "$(q "$DB" "SELECT payload_json::text FROM contact_integrations WHERE user_id = 701 AND contact_id = 1")" \
	'{"tags": ["orphan-tag"], "status": "orphan-status"}' "the orphan row itself is left as it was (only takes space)"
res=$(q "$DB" "SELECT (activepipe_import_preview(701, E'email,status\ngone@example.com,again\n') ->> 'matched')")
is "$res" 1 "a later import matches the new contact, not the orphan"

# ---- 2. profile and contact deleted together (the documented DELETEs) -----
q "$DB" "BEGIN; DELETE FROM contacts WHERE user_id = 702 AND id = 3; DELETE FROM contact_integrations WHERE user_id = 702 AND contact_id = 3; COMMIT" >/dev/null
is "$(q "$DB" "SELECT count(*) FROM contact_integrations WHERE user_id = 702")" 0 "documented DELETEs: no profile row left"
is "$(errq "SELECT activepipe_card(702, 3)")" "P0002 contact 3 not found" "documented DELETEs: the card says not found"
res=$(q "$DB" "SELECT (s ->> 'new') FROM activepipe_import_commit(702, E'email,mobile\ngone2@example.com,0422 222 222\n') s")
is "$res" 1 "documented DELETEs: the person imports as new"

# ---- 3. a cascading foreign key (the documented ALTER TABLEs) -------------
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null 2>"/tmp/ap-deleted.$$" <<'SQL'
DELETE FROM contact_integrations ci WHERE NOT EXISTS
	(SELECT 1 FROM contacts c WHERE c.user_id = ci.user_id AND c.id = ci.contact_id);
ALTER TABLE public.contacts ADD CONSTRAINT contacts_user_id_id_key UNIQUE (user_id, id);
ALTER TABLE public.contact_integrations
	ADD CONSTRAINT contact_integrations_contact_fkey
	FOREIGN KEY (user_id, contact_id) REFERENCES public.contacts (user_id, id)
	ON DELETE CASCADE;
SQL
ok $? "the documented foreign key can be added (after removing orphans)"
[ -s "/tmp/ap-deleted.$$" ] && diag "$(cat "/tmp/ap-deleted.$$")"
rm -f "/tmp/ap-deleted.$$"
q "$DB" "DELETE FROM contacts WHERE user_id = 703 AND id = 4" >/dev/null
is "$(q "$DB" "SELECT count(*) FROM contact_integrations WHERE user_id = 703 AND contact_id = 4")" 0 "cascade: deleting the contact deletes its profile"
is "$(errq "SELECT activepipe_card(703, 4)")" "P0002 contact 4 not found" "cascade: the card says not found"
res=$(q "$DB" "SELECT (s ->> 'new') || ' ' || (s ->> 'total_rows') FROM activepipe_import_commit(703, E'email,mobile,status\ngone3@example.com,0433 333 333,back\nstay3@example.com,,st\nbrand@example.com,,new\n') s" 2>&1)
is "$res" "2 3" "cascade: an import commit creating contacts and profiles works with the foreign key"
res=$(q "$DB" "SELECT activepipe_card_save(703, 5, '{\"status\": \"fk\"}') -> 'fields' ->> 'status'" 2>&1)
is "$res" fk "cascade: card_save works with the foreign key"
res=$(q "$DB" "SELECT length(activepipe_export(703, ARRAY(SELECT id FROM contacts WHERE user_id = 703))) > 0" 2>&1)
is "$res" t "cascade: export (which stamps last_exported_at) works with the foreign key"
res=$(errq "INSERT INTO contact_integrations (user_id, contact_id) VALUES (703, 424242)")
is "${res%% *}" 23503 "cascade: a profile for a missing contact is refused"

# ---- 4. deleted by another session while an import runs ------------------
# A chunk's profile write locks each contact it writes (FOR KEY SHARE, in
# the same statement): a delete that commits while the commit waits for
# that lock makes the contact's rows skipped, "contact deleted", and no
# profile is made for it (the cascading foreign key of section 3 would
# refuse one); a delete that comes later waits for the commit, even for a
# contact it only gave a profile.  Scan and probe alike.
work=$(mktemp -d "${TMPDIR:-/tmp}/ap-deleted.XXXXXX")
trap 'rm -rf "$work"; dropdb --if-exists "$DB" >/dev/null 2>&1' EXIT
# session NAME DELAY SQL: SQL in its own session after DELAY seconds, in
# the background; its output, errors with SQLSTATE, in $work/NAME
session() {
	(sleep "$2"; psql -X -q -At -d "$DB" -c '\set VERBOSITY verbose' -c "$3" >"$work/$1" 2>&1) &
}
sqlstate() { sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\):.*/\1/p' "$work/$1" | head -1; }
psql -X -q -d "$DB" >/dev/null 2>&1 <<'SQL'
SELECT * FROM activepipe_match_indexes() \gexec
SQL
q "$DB" "INSERT INTO users (id) VALUES (704), (705), (706), (707)" >/dev/null
u=704
for strategy in scan probe; do
	q "$DB" "INSERT INTO contacts (id, user_id, first_name, email) VALUES
		(${u}1, $u, 'Gone', 'gone$u@example.com'), (${u}2, $u, 'Stay', 'stay$u@example.com');
		SELECT activepipe_card_save($u, ${u}1, '{\"status\": \"old\"}')" >/dev/null
	file="E'email,status\\ngone$u@example.com,new\\nstay$u@example.com,new\\n'"
	session B 0 "BEGIN; DELETE FROM contacts WHERE user_id = $u AND id = ${u}1; SELECT pg_sleep(1.5); COMMIT;"
	session A 0.5 "SET activepipe.match_strategy = $strategy; SELECT s ->> 'skipped', s ->> 'updated', s -> 'rows' -> 0 ->> 'reason' FROM activepipe_import_commit($u, $file) s;"
	wait
	is "$(cat "$work/A")" "1|1|contact deleted" \
		"$strategy: a contact deleted while the commit waited to lock it: its row skipped, 'contact deleted'"
	is "$(q "$DB" "SELECT count(*) FROM contact_integrations WHERE user_id = $u AND contact_id = ${u}1")|$(q "$DB" "SELECT payload_json ->> 'status' FROM contact_integrations WHERE user_id = $u AND contact_id = ${u}2")" \
		"0|new" "$strategy: ... no profile made for it (the foreign key would refuse one), the other contact written"
	u=$((u + 1))
done
# without the foreign key, whose cascade to a profile the commit wrote
# would wait anyway
q "$DB" "ALTER TABLE public.contact_integrations DROP CONSTRAINT contact_integrations_contact_fkey" >/dev/null
for strategy in scan probe; do
	q "$DB" "INSERT INTO contacts (id, user_id, first_name, email) VALUES
		(${u}1, $u, 'Held', 'held$u@example.com'), (${u}2, $u, 'Other', 'other$u@example.com')" >/dev/null
	session A 0 "BEGIN; SET LOCAL activepipe.match_strategy = $strategy; SELECT activepipe_import_commit($u, E'email,status\\nheld$u@example.com,new\\n') ->> 'updated'; SELECT pg_sleep(2); COMMIT;"
	session B 0.8 "SET lock_timeout = '400ms'; DELETE FROM contacts WHERE user_id = $u AND id = ${u}1;"
	wait
	is "$(sqlstate B)" 55P03 "$strategy: a delete of a contact the commit read (and wrote only a profile for) waits for the commit"
	is "$(q "$DB" "SELECT payload_json ->> 'status' FROM contact_integrations WHERE user_id = $u AND contact_id = ${u}1")" new \
		"$strategy: ... and the commit's profile stands"
	u=$((u + 1))
done

# The documented delete (contact, then profile, in one transaction) while
# a long commit changes that contact's profile in its first chunk: the
# delete waits for the commit (or, first, makes it skip the contact); no
# deadlock.  A design that locked the contact at one point and wrote its
# profile later deadlocked here (40P01).  The two deletes are 0.8 s apart
# and the commit starts between them, so that its write of the contact
# comes between them: in the other order (profile, then contact) that
# deadlocks, since the commit takes the contact, then the profile, in one
# statement.
q "$DB" "INSERT INTO users (id) VALUES (708);
	INSERT INTO contacts (id, user_id, first_name, email)
		SELECT 800000 + i, 708, 'L', 'l' || i || '@example.com' FROM generate_series(1, 30000) i;
	INSERT INTO contact_integrations (user_id, contact_id, payload_json)
		SELECT 708, 800000 + i, '{\"status\": \"old\"}' FROM generate_series(1, 30000) i" >/dev/null
q "$DB" "CREATE TABLE long_file AS SELECT E'email,status\\n' || string_agg('l' || i || '@example.com,new', E'\\n' ORDER BY i) || E'\\n' AS csv FROM generate_series(1, 30000) i" >/dev/null
session B 0 "BEGIN; DELETE FROM contacts WHERE user_id = 708 AND id = 800001; SELECT pg_sleep(0.8); DELETE FROM contact_integrations WHERE user_id = 708 AND contact_id = 800001; COMMIT;"
session A 0.2 "BEGIN; SELECT (activepipe_import_commit(708, csv) ->> 'total_rows') FROM long_file; SELECT pg_sleep(0.5); COMMIT;"
wait
is "$(sqlstate A)|$(sqlstate B)" "|" "the documented delete during a long commit of its contact: no deadlock, no error on either side"
is "$(q "$DB" "SELECT count(*) FROM contacts WHERE id = 800001")|$(q "$DB" "SELECT count(*) FROM contact_integrations WHERE user_id = 708 AND contact_id = 800001")" \
	"0|0" "... the contact and its profile are gone"

crash_check
done_testing
