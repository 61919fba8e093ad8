#!/usr/bin/env bash
# Isolation levels against the tenant lock (issue 12, items 5 and 6), with
# two real sessions:
#  - an import commit or undo in a transaction whose snapshot is the
#    transaction's (REPEATABLE READ, SERIALIZABLE) is refused with 0A000,
#    whether its snapshot was taken before another session's commit of the
#    same new person or it arrives while that commit holds the lock: never
#    two contacts for one person;
#  - an export under REPEATABLE READ whose snapshot predates a profile
#    another session made fails with a retryable 40001, not 23505.
#
#   bash test/scripts/concurrency.sh        (PG* set to a running cluster)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/scripts/reliability_lib.bash

DB=ap_concurrency
work=$(mktemp -d "${TMPDIR:-/tmp}/ap-concurrency.XXXXXX")
trap 'rm -rf "$work"; dropdb --if-exists $DB >/dev/null 2>&1' EXIT
crash_mark

new_db $DB || { ok 1 "set up $DB"; done_testing; exit 1; }
q $DB "INSERT INTO users (id) SELECT g FROM generate_series(1, 20) g" >/dev/null

# session NAME DELAY SQL: run SQL in its own session after DELAY seconds,
# in the background; output (and errors, with SQLSTATE) in $work/NAME
session() {
	local name=$1 delay=$2 sql=$3
	(sleep "$delay"; psql -X -q -At -d $DB -v VERBOSITY=verbose \
		-c '\set VERBOSITY verbose' -c "$sql" >"$work/$name" 2>&1) &
}
sqlstate() { sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\):.*/\1/p' "$work/$1" | head -1; }
people() { q $DB "SELECT count(*) FROM contacts WHERE user_id = $1 AND email = 'same@x.com'"; }
csv="E'email,firstname\\nsame@x.com,Sam\\n'"

t=1
for level in "REPEATABLE READ" SERIALIZABLE; do
	# A's snapshot first, then B commits the same new person, then A commits
	session A 0 "BEGIN ISOLATION LEVEL $level; SELECT count(*) FROM contacts; SELECT pg_sleep(1.5); SELECT activepipe_import_commit($t, $csv); COMMIT;"
	session B 0.5 "SELECT activepipe_import_commit($t, $csv) ->> 'new';"
	wait
	is "$(sqlstate A)" 0A000 "$level, snapshot before the other commit: the commit is refused (0A000)"
	like "$(cat "$work/A")" "cannot run in a $level transaction" "... saying which level"
	is "$(people $t)" 1 "$level, snapshot first: one contact for the person, not two"
	t=$((t + 1))

	# B holds the tenant lock; A arrives meanwhile
	session B 0 "BEGIN; SELECT activepipe_import_commit($t, $csv) ->> 'new'; SELECT pg_sleep(1.5); COMMIT;"
	start=$(date +%s%N)
	session A 0.5 "BEGIN ISOLATION LEVEL $level; SELECT activepipe_import_commit($t, $csv); COMMIT;"
	wait $!
	waited=$(( ($(date +%s%N) - start) / 1000000 - 500 ))
	wait
	is "$(sqlstate A)" 0A000 "$level, arriving while another commit holds the lock: refused (0A000)"
	[ "$waited" -lt 1400 ]
	ok $? "... at once, without waiting for the lock (${waited} ms)"
	is "$(people $t)" 1 "$level, lock held: one contact for the person"
	t=$((t + 1))
done

# undo is refused alike
ev=$(q $DB "SELECT activepipe_import_commit(10, E'email\\nu@x.com\\n') ->> 'event_id'")
is "$(sqlerr $DB "BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT activepipe_import_undo(10, $ev); COMMIT;" | cut -c1-5)" 0A000 \
	"an undo in a SERIALIZABLE transaction is refused (0A000)"
is "$(sqlerr $DB "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT activepipe_import_undo(10, $ev); COMMIT;" | cut -c1-5)" 0A000 \
	"an undo in a REPEATABLE READ transaction is refused (0A000)"
is "$(q $DB "SELECT activepipe_import_undo(10, $ev) ->> 'deleted'")" 1 "the same undo in READ COMMITTED runs"

# an export under REPEATABLE READ, racing a card save that makes the profile
cid=$(q $DB "INSERT INTO contacts (user_id, first_name, email) VALUES (11, 'Pat', 'pat@x.com') RETURNING id")
session A 0 "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM contacts; SELECT pg_sleep(1.5); SELECT length(activepipe_export(11, ARRAY[$cid]::bigint[])); COMMIT;"
session B 0.5 "SELECT activepipe_card_save(11, $cid, '{\"status\": \"saved\"}') IS NOT NULL;"
wait
is "$(sqlstate A)" 40001 "REPEATABLE READ export racing a new profile: a retryable 40001, not 23505"
is "$(q $DB "SELECT payload_json ->> 'status' FROM contact_integrations WHERE user_id = 11 AND contact_id = $cid")" saved \
	"... and the card save stands"
is "$(q $DB "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT length(activepipe_export(11, ARRAY[$cid]::bigint[])) > 0; COMMIT;" | grep -c t)" 1 \
	"retried, the REPEATABLE READ export succeeds"
cid2=$(q $DB "INSERT INTO contacts (user_id, first_name, email) VALUES (11, 'Quo', 'quo@x.com') RETURNING id")
is "$(q $DB "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT length(activepipe_export(11, ARRAY[$cid2]::bigint[])) > 0; COMMIT;" | grep -c t)" 1 \
	"a REPEATABLE READ export that creates a profile without a race succeeds"
is "$(q $DB "SELECT count(*) FROM contact_integrations WHERE user_id = 11 AND contact_id = $cid2 AND last_exported_at IS NOT NULL")" 1 \
	"... and stamps it"

crash_check
done_testing
