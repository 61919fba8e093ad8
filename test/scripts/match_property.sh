#!/usr/bin/env bash
# Scan and probe give the same answer (issue 14): random tenants and random
# files -- repeated keys, keys several contacts share (couples), numbers in
# phone and mobile, keys that earlier rows fill in or replace, overwrite on
# and off, one file in eight longer than a chunk of 1,024 rows, and in the
# first round a contact the import makes, which gains a mobile in a later
# chunk that a row of that mobile alone then probes --
# planned, previewed and committed once with
# activepipe.match_strategy = scan and once with probe; the plan rows, the
# summaries and the contacts and profiles the commits leave must be equal,
# and each commit, undone, must leave the tenant as it was.
#
#   bash test/scripts/match_property.sh                 (PG* set; 40 rounds)
#   MATCH_ROUNDS=2000 MATCH_SEED=7 bash test/scripts/match_property.sh   (long)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/scripts/reliability_lib.bash

DB=ap_match_property
ROUNDS=${MATCH_ROUNDS:-40}
SEED=${MATCH_SEED:-$RANDOM}
work=$(mktemp -d "${TMPDIR:-/tmp}/ap-match.XXXXXX")
trap 'rm -rf "$work"; dropdb --if-exists $DB >/dev/null 2>&1' EXIT
crash_mark

new_db $DB || { ok 1 "set up $DB"; done_testing; exit 1; }
psql -X -q -At -d $DB -c "SELECT * FROM activepipe_match_indexes()" | while read -r ddl; do
	q $DB "$ddl" >/dev/null
done
is "$(q $DB "SELECT count(*) FROM activepipe_match_indexes()")" 0 "the three match indexes made with CREATE INDEX CONCURRENTLY"
run $DB <<'SQL'
-- One round: tenant uid seeded by the caller; the file planned, previewed
-- and committed under each strategy (commits rolled back); 'same' or what
-- differs.
-- The tenant's contacts and profiles, timestamps included, as one md5.
CREATE FUNCTION tenant_state(uid bigint) RETURNS text LANGUAGE sql AS $$
	SELECT md5(string_agg(concat_ws(',', c.id, c.first_name, c.last_name, c.email, c.phone,
		c.mobile, c.city, ci.id, ci.payload_json::text, ci.last_imported_at, ci.updated_at), '|'
		ORDER BY c.id))
	FROM contacts c LEFT JOIN contact_integrations ci ON ci.user_id = c.user_id AND ci.contact_id = c.id
	WHERE c.user_id = uid $$;
CREATE FUNCTION compare(uid bigint, csv text, ov boolean) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	strategies text[] := ARRAY['scan', 'probe'];
	plan_md5 text[];
	preview jsonb[];
	commit_sum jsonb[];
	state text[];
	undone text[];
	ev bigint;
	known bigint := (SELECT coalesce(max(id), 0) FROM contacts WHERE user_id = uid);
	before text := tenant_state(uid);
	i int;
BEGIN
	FOR i IN 1..2 LOOP
		PERFORM set_config('activepipe.match_strategy', strategies[i], true);
		plan_md5[i] := (SELECT md5(string_agg(p::text, '|' ORDER BY p.line)) FROM activepipe_import_plan(uid, csv, ov) p);
		preview[i] := activepipe_import_preview(uid, csv, ov);
		BEGIN
			commit_sum[i] := activepipe_import_commit(uid, csv, ov);
			ev := (commit_sum[i] ->> 'event_id')::bigint;
			commit_sum[i] := commit_sum[i] - 'event_id' - 'rows';
			-- each contact as one string, existing ones with their id (new
			-- ones get other ids in each run), sorted by that whole string
			state[i] := (SELECT md5(string_agg(r, '|' ORDER BY r)) FROM (
				SELECT concat_ws(',', CASE WHEN c.id <= known THEN c.id END, c.first_name, c.last_name,
					c.email, c.phone, c.mobile, c.city, ci.payload_json::text) AS r
				FROM contacts c LEFT JOIN contact_integrations ci ON ci.user_id = c.user_id AND ci.contact_id = c.id
				WHERE c.user_id = uid) x);
			-- the commit's history, undone, leaves the tenant as it was:
			-- profiles, their payloads and timestamps as the commit read them
			PERFORM activepipe_import_undo(uid, ev);
			undone[i] := tenant_state(uid);
			RAISE EXCEPTION 'roll back' USING ERRCODE = 'P0099';
		EXCEPTION WHEN SQLSTATE 'P0099' THEN NULL;
		END;
	END LOOP;
	RETURN CASE
		WHEN plan_md5[1] IS DISTINCT FROM plan_md5[2] THEN 'plan differs'
		WHEN preview[1] IS DISTINCT FROM preview[2] THEN 'preview differs: ' || preview[1]::text || ' / ' || preview[2]::text
		WHEN commit_sum[1] IS DISTINCT FROM commit_sum[2] THEN 'commit summary differs'
		WHEN state[1] IS DISTINCT FROM state[2] THEN 'committed state differs'
		WHEN undone[1] IS DISTINCT FROM before THEN 'undo of the scan commit differs from before'
		WHEN undone[2] IS DISTINCT FROM before THEN 'undo of the probe commit differs from before'
		ELSE 'same' END;
END $$;
SQL

python3 - "$work/rounds.sql" "$ROUNDS" "$SEED" <<'PY'
import random, sys
out, rounds, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
names = ["Ann", "Bob", "Cara", "Dev", "Eli", "Fay", "Gus"]
def q(s):
    return "NULL" if s is None else "'" + s.replace("'", "''") + "'"
with open(out, "w") as f:
    f.write("SET client_min_messages = warning;\n")
    rounds_sql = []
    for r in range(rounds):
        uid = 100 + r
        # one round in eight: a file over 1,024 rows, so that rows meet
        # contacts an earlier chunk wrote (and probed again)
        long_file = r == 0 or rnd.random() < 0.125
        # half the long files draw their keys from pools too large to turn
        # up whole in their first chunk: contacts are made, matched and
        # changed across chunks
        pool = rnd.randint(300, 999) if long_file and r > 0 and rnd.random() < 0.5 else rnd.randint(4, 30)
        emails = [f"p{i}@x.com" for i in range(pool)]
        phones = [f"0412 {i:03d} {i * 7 % 1000:03d}" for i in range(pool)]
        landlines = [f"(02) 9{i:03d} 1111" for i in range(pool)]
        def pick(xs, p):
            return rnd.choice(xs) if rnd.random() < p else None
        # the tenant holds its keys spelled otherwise than the files do:
        # case and spaces around an email, a number without spaces or in
        # international form, so that the scan's filter and the match must
        # normalise alike
        def spell_email(e):
            if e is None:
                return None
            return rnd.choice([e, e.upper(), " " + e + " ", "\t" + e.title()])
        def spell_phone(p):
            if p is None:
                return None
            digits = "".join(ch for ch in p if ch.isdigit())
            return rnd.choice([p, digits, "+61 " + digits[1:], " " + p + " "])
        f.write(f"INSERT INTO users (id) VALUES ({uid});\n")
        # contacts that share no key with any file: a scan keeps only the
        # contacts holding a key of the file when the file has at most one
        # distinct key per 2 contacts of the tenant
        f.write(f"INSERT INTO contacts (user_id, first_name, email, mobile) SELECT {uid}, 'F', 'f' || g || '@y.com', '0499 ' || lpad(g::text, 6, '0') FROM generate_series(1, {rnd.choice([0, 30, 250])}) g;\n")
        rows = []
        held = []  # (email, mobile) of the tenant's contacts
        for i in range(rnd.randint(0, 40)):
            e = pick(emails, 0.6)
            m = pick(phones, 0.5)
            held.append((e, m))
            ph = m if (m and rnd.random() < 0.2) else pick(landlines + phones, 0.3)
            rows.append(f"({uid}, {q(rnd.choice(names))}, {q(spell_email(e))}, {q(spell_phone(ph))}, {q(spell_phone(m))}, {q(pick(['Perth', 'Bondi', ' '], 0.4))})")
        if rows:
            f.write("INSERT INTO contacts (user_id, first_name, email, phone, mobile, city) VALUES " + ",".join(rows) + ";\n")
            # each profile its own: a payload given to the wrong contact, or
            # timestamps from another profile, show in the state compared
            # (a long source, TOASTed, on every other one; no import stamp on
            # every fourth)
            f.write(f"INSERT INTO contact_integrations (user_id, contact_id, payload_json, last_imported_at, updated_at) SELECT user_id, id, jsonb_build_object('status', 's' || id, 'source', CASE WHEN id % 2 = 0 THEN (SELECT string_agg(md5(id::text || g), '') FROM generate_series(1, 200) g) ELSE 'src' || id END), CASE WHEN id % 4 = 0 THEN NULL ELSE timestamptz '2021-01-01' + id * interval '1 hour' END, timestamptz '2022-01-01' + id * interval '1 minute' FROM contacts WHERE user_id = {uid} AND id % 3 <> 1;\n")
        cols = ["email", "mobile", "phone", "firstname", "city", "status"]
        rnd.shuffle(cols)
        cols = cols[:rnd.randint(2, 6)]
        if not set(cols) & {"email", "mobile", "phone"}:
            cols.append("email")
        # the first round is a long file of three chunks with email and
        # mobile columns: the made contact's mobile below, every run
        if r == 0:
            cols += [c for c in ("email", "mobile") if c not in cols]
        lines = [",".join(cols)]
        def line(cell):
            return ",".join(cell.get(c) or "" for c in cols)
        # one file in ten with no key in any row: nothing to match, no scan
        keyed = 0.0 if rnd.random() < 0.1 and r > 0 else 1.0
        # a long file's mobiles come from a pool too large for every one to
        # turn up first in a row no email matches: a mobile that a contact
        # the import made gains from a row matched by email is not probed
        # then, and a later chunk's row of that mobile probes it and finds
        # the contact in the database
        mobiles = [f"0413 {i:03d} {i * 3 % 1000:03d}" for i in range(1000)] if long_file else phones
        for i in range(rnd.randint(3000, 3200) if r == 0 else rnd.randint(1100, 2600) if long_file else rnd.randint(1, 60)):
            cell = {"email": pick(emails, 0.6 * keyed), "mobile": pick(mobiles, 0.5 * keyed),
                    "phone": pick(landlines + phones, 0.4 * keyed),
                    "firstname": pick(names, 0.7), "city": pick(["Perth", "Manly", "Bondi"], 0.5),
                    "status": pick(["a", "b"], 0.7)}
            # the file's cells too are spelled freely: both passes over
            # the file must trim and fold them alike
            if cell["email"] and rnd.random() < 0.2:
                cell["email"] = rnd.choice([" " + cell["email"].upper(), cell["email"] + " "])
            if cell["mobile"] and rnd.random() < 0.2:
                cell["mobile"] = " " + cell["mobile"].replace(" ", "") + " "
            lines.append(line(cell))
        ov = "true" if rnd.random() < 0.5 else "false"
        # with overwrite, a pair of rows in one chunk: the first, matched
        # by a contact's mobile, moves that contact to a fresh email; the
        # second carries the email moved away and another contact's mobile,
        # which only a probe made for it then can find
        movers = [h for h in held if h[0] and h[1]]
        others = [h[1] for h in held if h[1]]
        if ov == "true" and {"email", "mobile"} <= set(cols) and movers and others and rnd.random() < 0.6:
            e1, m1 = rnd.choice(movers)
            pair = []
            for em, mo in ((f"moved{r}.{len(lines)}@x.com", m1), (e1, rnd.choice(others))):
                pair.append(line({"email": em, "mobile": mo, "status": "m"}))
            at = rnd.randint(1, min(len(lines), 1000))
            lines[at:at] = pair
        # a contact the import makes in one chunk gets a mobile in the next
        # (from a row matched by its email: the mobile is not probed then),
        # and a row of that mobile alone comes two chunks on: its probe finds
        # the contact in the database, where the first chunk's write put it,
        # and must take it for the contact the import made
        # (chunks count rows, and a line of blank cells is no row)
        rows_at = [i for i, l in enumerate(lines) if i > 0 and l.strip(",")]
        if len(rows_at) > 2060 and {"email", "mobile"} <= set(cols):
            fe, fm = f"grown{r}@x.com", f"0414 {r % 1000:03d} 555"
            lines.insert(rows_at[rnd.randint(2060, len(rows_at) - 1)], line({"mobile": fm, "firstname": "Gia", "status": "g"}))
            lines.insert(rows_at[rnd.randint(1030, 2000)], line({"email": fe, "mobile": fm, "firstname": "Gia", "status": "g"}))
            lines.insert(rows_at[rnd.randint(0, 1000)], line({"email": fe, "firstname": "Gia", "status": "g"}))
        csv = "\n".join(lines) + "\n"
        rounds_sql.append(f"SELECT 'round {r} (seed {seed}): ' || compare({uid}, {q(csv)}, {ov});\n")
    # statistics, so that the scan of a small file filters the tenant
    f.write("ANALYZE contacts;\nSET client_min_messages = debug1;\n")
    f.writelines(rounds_sql)
PY
psql -X -q -At -v ON_ERROR_STOP=1 -d $DB -f "$work/rounds.sql" >"$work/out.txt" 2>"$work/err.txt"
ok $? "$ROUNDS rounds ran (seed $SEED)"
diag "$(grep -v '^psql:[^ ]* DEBUG: ' "$work/err.txt" | head -c 600)"
filtered=$(grep -c "the scan keeps the contacts that hold one of the file's" "$work/err.txt")
keyless=$(grep -c "the scan keeps the contacts that hold one of the file's 0 keys" "$work/err.txt")
scans=$(grep -c "finds candidates by scan" "$work/err.txt")
ok "$([ "$((filtered - keyless))" -gt 0 ] && [ "$filtered" -lt "$scans" ] && echo 0 || echo 1)" \
	"scans of files with few keys filtered the tenant by them ($filtered of $scans scans, $keyless with no key), files with many read it whole"
same=$(grep -c ': same$' "$work/out.txt")
is "$same" "$ROUNDS" "scan and probe agree in every round: plan, summary, committed contacts and profiles; each commit undone leaves the tenant as it was (seed $SEED)"
grep -v ': same$' "$work/out.txt" | head -5 | while read -r l; do diag "$l"; done

# auto decides by the tenant's size next to the file's keys: from the
# statistics, and without them (a Citus shell table has none, nor has a
# table never analysed) by counting the tenant's contacts, up to what
# probing would cost.  Tenant 990001: 600 contacts; one row probes, 300
# rows (1,200 lookups' worth) scan.
q $DB "INSERT INTO users (id) VALUES (990001);
	INSERT INTO contacts (user_id, first_name, email) SELECT 990001, 'S' || g, 's' || g || '@x.com' FROM generate_series(1, 600) g" >/dev/null
strategy() {	# ROWS: the strategy auto picks for a file of ROWS emails
	psql -X -q -d $DB -c "SET client_min_messages = debug1; SET activepipe.match_strategy = auto" \
		-c "SELECT activepipe_import_preview(990001, (SELECT E'email\n' || string_agg('s' || g || '@x.com', E'\n') FROM generate_series(1, $1) g))" 2>&1 >/dev/null \
		| sed -n 's/.*finds candidates by \([a-z]*\).*/\1/p'
}
q $DB "ANALYZE contacts" >/dev/null
is "$(strategy 1) $(strategy 300)" "probe scan" "auto with statistics: one row against 600 contacts probes, 300 rows scan"
q $DB "DELETE FROM pg_statistic WHERE starelid = 'contacts'::regclass" >/dev/null
is "$(strategy 1) $(strategy 300)" "probe scan" "auto without statistics: the same choices, by counting the tenant's contacts"
is "$(strategy 148) $(strategy 149)" "probe scan" "... the count stops where probing would cost as much as the scan (600 contacts, 4 per lookup; the header line counts)"

# The probes keep one generic plan per session, but only once the match
# indexes' keys have statistics: a generic plan made before (the keys taken
# for a third of the tenant, a hash join over every profile) would stay,
# since ANALYZE does not replace a kept plan.  auto_explain shows the probe
# plans a session runs: with the statistics gone, the email probe is
# planned for its keys (a constant array); after ANALYZE, in the same
# session, it runs the generic plan ($2).
explained() {	# SQL from stdin, probing, in one session: its plans as auto_explain logs them
	{
		printf '%s\n' "LOAD 'auto_explain';" "SET auto_explain.log_min_duration = 0;" \
			"SET auto_explain.log_nested_statements = on;" "SET activepipe.match_strategy = probe;" \
			"SET client_min_messages = log;"
		cat
	} | psql -X -q -d $DB 2>&1 >/dev/null
}
q $DB "DELETE FROM pg_statistic WHERE starelid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'contacts'::regclass)" >/dev/null
plans=$(explained <<'SQL'
SELECT activepipe_import_preview(990001, E'email\ns1@x.com\n');
ANALYZE contacts;
DO $$ BEGIN RAISE LOG '==analysed'; END $$;
SELECT activepipe_import_preview(990001, E'email\ns2@x.com\n');
SQL
)
before=$(grep -m1 'activepipe_email_key(email).* = ANY' <<<"$plans")
after=$(sed -n '/==analysed/,$p' <<<"$plans" | grep -m1 'activepipe_email_key(email).* = ANY')
is "$([[ $before == *"'{s1@x.com}'"* ]] && echo custom) $([[ $after == *'ANY ($2)'* ]] && echo generic)" "custom generic" \
	"the email probe: custom plans while its index has no statistics, one generic plan after ANALYZE, in the same session"

# A chunk's phone keys go in one probe per column, not one per row: a
# 30-row file of mobiles runs the mobile probe once.
mplans=$(explained <<'SQL'
SELECT activepipe_import_preview(990001, (SELECT E'mobile\n' || string_agg('0412 ' || lpad(g::text, 3, '0') || ' 111', E'\n') FROM generate_series(1, 30) g));
SQL
)
is "$(grep -c 'Query Text: SELECT c.id.*activepipe_phone_key(c.mobile' <<<"$mplans")" 1 "a 30-row file of mobiles: one mobile probe for its chunk"

# A probe reads each contact with its profile: a chunk whose contacts all
# came from its probes reads no payload by ctid, and still merges with the
# payloads so read (30 stored statuses, each changed by the file).
q $DB "INSERT INTO contact_integrations (user_id, contact_id, payload_json)
	SELECT 990001, id, '{\"status\": \"old\"}' FROM contacts WHERE user_id = 990001 AND email ~ '^s([1-9]|[12][0-9]|30)@'" >/dev/null
pplans=$(explained <<'SQL'
DO $$ BEGIN RAISE LOG 'updated=%', activepipe_import_preview(990001, (SELECT E'email,status\n' || string_agg('s' || g || '@x.com,new', E'\n') FROM generate_series(1, 30) g)) ->> 'updated'; END $$;
SQL
)
is "$(grep -c 'Query Text: SELECT c.id.*activepipe_email_key(c.email' <<<"$pplans") $(grep -c 'Query Text: SELECT ci.ctid' <<<"$pplans") $(grep -o 'updated=[0-9]*' <<<"$pplans")" "1 0 updated=30" \
	"a probed chunk (one email probe) merges the payloads its probe read, and reads none by ctid"

# The scan's key pass gives up on its first 1,024 rows' keys only for a
# file large next to the tenant: a small file whose keys all come first
# (100 emails, then 5,000 keyless rows) keeps the filter.
front=$(psql -X -q -d $DB -c "SET client_min_messages = debug1; SET activepipe.match_strategy = scan" \
	-c "SELECT activepipe_import_preview(990001, (SELECT E'email,city\n' || string_agg('s' || g || '@x.com,', E'\n') FROM generate_series(1, 100) g) || repeat(E'\n,x', 5000))" 2>&1 >/dev/null)
like "$front" "hold one of the file's 100 keys" "a small file with its keys at the front keeps the scan's filter"

crash_check
done_testing
