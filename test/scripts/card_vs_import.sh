#!/usr/bin/env bash
# Card writes and import commits of one tenant serialise (issue 5, safety):
# an import writes back whole payloads computed from what it read, so a
# card saved while it runs must wait for it and then build on its result,
# never be lost.  Fill-blanks also re-checks blankness in SQL, so a value
# the application wrote meanwhile is not overwritten.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/lib/tap.sh

plan 6
db=ap_card_vs_import_$$
trap 'dropdb_quiet "$db"' EXIT

newdb "$db"
{ cat test/fixtures/ulysses_schema.sql; cat <<'SQL'; } | run "$db"
CREATE EXTENSION activepipe;
INSERT INTO users (id) VALUES (1);
INSERT INTO contacts (id, user_id, first_name, email, city) VALUES
	(1, 1, 'Ann', 'ann@example.com', NULL);
SELECT activepipe_card_save(1, 1, '{"source": "before"}');
SQL
ok $? "setup"

# Session A: import (status; fills city), then holds its transaction open.
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null 2>&1 <<'SQL' &
BEGIN;
SELECT activepipe_import_commit(1, E'email,status,city\nann@example.com,subscribed,Sydney\n');
SELECT pg_sleep(2);
COMMIT;
SQL
a=$!
sleep 0.7

# Session B: a card save while A holds the tenant lock.
start=$(date +%s%N)
q "$db" "SELECT activepipe_card_save(1, 1, '{\"source\": \"card\"}')" >/dev/null
ok $? "the card save succeeds"
waited=$(( ($(date +%s%N) - start) / 1000000 ))
wait $a
ok $? "the import commits"
[ "$waited" -ge 500 ]
ok $? "the card save waited for the import (${waited} ms)"
is "$(q "$db" "SELECT payload_json->>'source' || ',' || (payload_json->>'status') FROM contact_integrations WHERE contact_id = 1")" \
	"card,subscribed" "both the card's field and the import's field are kept"

# Fill blanks never overwrites a value the application wrote after the
# import read the contact: simulate with a row-level lock holding the UPDATE.
q "$db" "UPDATE contacts SET city = NULL, mobile = NULL WHERE id = 1" >/dev/null
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null 2>&1 <<'SQL' &
BEGIN;
UPDATE contacts SET city = 'Written by the app' WHERE id = 1;
SELECT pg_sleep(1.5);
COMMIT;
SQL
b=$!
sleep 0.5
q "$db" "SELECT activepipe_import_commit(1, E'email,city,mobile\nann@example.com,Melbourne,0412 345 678\n')" >/dev/null
wait $b
is "$(q "$db" "SELECT city || ',' || mobile FROM contacts WHERE id = 1")" \
	"Written by the app,0412 345 678" "fill blanks keeps the application's newer value and fills the other blank"

done_testing
