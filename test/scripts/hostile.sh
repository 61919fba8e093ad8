#!/usr/bin/env bash
# Hostile import corpus: every file of test/fixtures/hostile (the committed
# ones and the large ones generate.sh writes) goes through
# activepipe_import_preview and activepipe_import_commit, through the text
# or the bytea overload as expected.tsv says, and must give the expected
# outcome:
#   error SQLSTATE LINE  both calls fail with that SQLSTATE and "Line LINE"
#                        in the DETAIL; the backend still answers; the
#                        tenant's contacts, integration rows and events are
#                        unchanged (checksums), and so is every other tenant.
#   summary k=v ...      both calls succeed with those summary values and
#                        agree; the commit logs one event, leaves other
#                        tenants alone and passes the optional check; it is
#                        then rolled back so each file meets the same data.
# One TAP line per file and variant, plus one for "no backend crashed".
#
#   bash test/scripts/hostile.sh            (PG* set to a running cluster)
#   HOSTILE_ONLY=regex bash test/scripts/hostile.sh   (a subset of files)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/scripts/reliability_lib.bash

DB=ap_hostile
UID_T=101			# the importing tenant
UID_O=102			# another tenant sharing emails and phones
fixdir=test/fixtures/hostile
work=$(mktemp -d "${TMPDIR:-/tmp}/ap-hostile.XXXXXX")
trap 'rm -rf "$work"; dropdb --if-exists "$DB" >/dev/null 2>&1' EXIT

new_db "$DB" || { echo "1..1"; echo "not ok 1 - set up database $DB"; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL || { echo "1..1"; echo "not ok 1 - seed tenants"; exit 1; }
INSERT INTO users (id, email) VALUES ($UID_T, 'agent@one.example'), ($UID_O, 'agent@two.example');
INSERT INTO contacts (id, user_id, first_name, last_name, email, phone, mobile, city) VALUES
	(1, $UID_T, 'Ann', 'Lee', 'ann@example.com', NULL, '0412 345 678', 'Perth'),
	(2, $UID_T, 'Bob', 'Stone', 'bob@example.com', '(02) 9876 5432', NULL, NULL),
	(3, $UID_O, 'Ann', 'Other', 'ann@example.com', NULL, '0412 345 678', 'Hobart'),
	(4, $UID_O, 'Carol', 'King', 'carol@example.com', '(02) 9876 5432', NULL, NULL);
SELECT setval('contacts_id_seq', 100);
SELECT activepipe_card_save($UID_T, 1, '{"status": "subscribed", "tags": ["vip"]}');
SELECT activepipe_card_save($UID_O, 3, '{"status": "subscribed", "tags": ["other"]}');
SELECT activepipe_card_save($UID_O, 4, '{"status": "unsubscribed"}');
SELECT activepipe_export($UID_T, ARRAY[1, 2]::bigint[], 'seed.csv');
SELECT activepipe_export($UID_O, ARRAY[3, 4]::bigint[], 'seed.csv');
CREATE SCHEMA hostile;
CREATE FUNCTION hostile.c(uid bigint, addr text) RETURNS public.contacts LANGUAGE sql STABLE AS
	\$\$ SELECT * FROM public.contacts WHERE user_id = uid AND email = addr ORDER BY id LIMIT 1 \$\$;
CREATE FUNCTION hostile.p(uid bigint, addr text) RETURNS jsonb LANGUAGE sql STABLE AS
	\$\$ SELECT ci.payload_json FROM public.contact_integrations ci
		WHERE ci.user_id = uid AND ci.contact_id = (hostile.c(uid, addr)).id \$\$;
SQL

bash "$fixdir/generate.sh" "$work/gen" || { echo "1..1"; echo "not ok 1 - generate.sh"; exit 1; }

mapfile -t rows < <(grep -v '^#' "$fixdir/expected.tsv" | grep -v '^[[:space:]]*$' |
	{ if [ -n "${HOSTILE_ONLY:-}" ]; then grep -E "^[^	]*(${HOSTILE_ONLY})"; else cat; fi; })
crash_mark

# row_sql OUT: the psql script of one file and variant: the state before,
# the preview, the commit (in a transaction rolled back when the file is
# expected to import), the state after.  stderr is split by \warn markers.
row_sql() {
	local out=$1 fn arg
	if [ "$variant" = bytea ]; then
		arg="decode(:'hex', 'hex')"
	else
		arg="convert_from(decode(:'hex', 'hex'), 'UTF8')"
	fi
	{
		printf '\\set VERBOSITY verbose\n\\set uid %s\n' "$UID_T"
		printf '\\set hex `cat %s`\n' "$work/hex"
		printf "SELECT 'BEFORE ' || reltest.tenant_state(:uid) || ' / ' || reltest.others_state(:uid);\n"
		printf "SELECT 'BEVENTS ' || reltest.events_count(:uid);\n"
		printf "SELECT 'BOTHERS ' || reltest.others_state(:uid);\n"
		for fn in preview commit; do
			printf '\\warn @@%s\n' "$fn"
			[ "$fn" = commit ] && [ "$mode" = summary ] && printf 'BEGIN;\n'
			printf "SELECT '%s ' || (SELECT string_agg(key || '=' || (value #>> '{}'), ' ' ORDER BY key)" "${fn^^}"
			printf " FROM jsonb_each(s - 'rows' - 'event_id' - 'ignored_columns'))"
			printf " FROM (SELECT activepipe_import_%s(:uid, %s" "$fn" "$arg"
			[ "$fn" = commit ] && printf ", false, 'hostile/%s'" "$name"
			printf ") AS s) AS x;\n"
			if [ "$fn" = commit ] && [ "$mode" = summary ]; then
				printf "SELECT 'EVENTS ' || reltest.events_count(:uid);\n"
				printf "SELECT 'OTHERS ' || reltest.others_state(:uid);\n"
				[ -n "$check" ] && printf "SELECT 'CHECK ' || coalesce((%s)::text, 'null');\n" "$check"
				printf 'ROLLBACK;\n'
			fi
			printf "SELECT 'ALIVE_%s ' || 1;\n" "$fn"
		done
		printf "SELECT 'AFTER ' || reltest.tenant_state(:uid) || ' / ' || reltest.others_state(:uid);\n"
	} >"$out"
}

val() { sed -n "s/^$1 //p" "$work/out" | head -1; }
# err_of FN: the stderr lines of one call
err_of() { sed -n "/^@@$1\$/,/^@@/p" "$work/err" | grep -v '^@@'; }
code_of() { err_of "$1" | sed -nE 's/.*ERROR:  ([0-9A-Z]{5}):.*/\1/p' | head -1; }
line_of() { err_of "$1" | sed -nE 's/^DETAIL:  Line ([0-9]+).*/\1/p' | head -1; }
said() { err_of "$1" | grep -E 'ERROR:|DETAIL:' | head -3 | cut -c1-300 | tr '\n' ' '; }

for row in "${rows[@]}"; do
	IFS=$'\t' read -r name variant expected check <<<"$row"
	check=${check:-}
	file=$work/gen/$name
	[ -f "$file" ] || file=$fixdir/$name
	desc="$name ($variant): $expected"
	problems=()
	if [ ! -f "$file" ]; then
		ok 1 "$desc"; diag "no such fixture $name"; continue
	fi
	# od (coreutils) rather than xxd, which a minimal Debian lacks: an
	# empty hex string would pass as an empty file and fail every check
	od -An -v -tx1 "$file" | tr -d ' \n' >"$work/hex"
	read -r mode exp_a exp_b <<<"$expected"
	row_sql "$work/q.sql"
	psql -X -q -At -d "$DB" -f "$work/q.sql" >"$work/out" 2>"$work/err"

	[ "$(val ALIVE_preview)" = 1 ] || problems+=("backend did not answer after preview")
	[ "$(val ALIVE_commit)" = 1 ] || problems+=("backend did not answer after commit")
	before=$(val BEFORE) after=$(val AFTER)
	[ -n "$before" ] && [ "$after" = "$before" ] ||
		problems+=("tenant data or other tenants changed: '$before' -> '$after'")

	if [ "$mode" = error ]; then
		for fn in preview commit; do
			res=$(val "${fn^^}") code=$(code_of $fn) line=$(line_of $fn)
			[ -z "$res" ] || problems+=("$fn succeeded: $res")
			[ "$code" = "$exp_a" ] || problems+=("$fn SQLSTATE '$code', expected $exp_a")
			[ "$line" = "$exp_b" ] || problems+=("$fn line '$line', expected $exp_b")
		done
		if [ ${#problems[@]} -gt 0 ]; then
			problems+=("preview said: $(said preview)" "commit said: $(said commit)")
		fi
	else
		p_result=$(val PREVIEW) c_result=$(val COMMIT)
		[ -n "$p_result" ] || problems+=("preview failed: $(said preview)")
		[ -n "$c_result" ] || problems+=("commit failed: $(said commit)")
		if [ -n "$p_result" ] && [ -n "$c_result" ]; then
			[ "$p_result" = "$c_result" ] || problems+=("preview and commit disagree: $p_result | $c_result")
			for kv in ${expected#summary }; do
				case " $p_result " in
				*" $kv "*) ;;
				*) problems+=("expected $kv in: $p_result") ;;
				esac
			done
			bev=$(val BEVENTS)
			[ "$(val EVENTS)" = $((bev + 1)) ] || problems+=("commit logged $(val EVENTS) events, expected $((bev + 1))")
			[ "$(val OTHERS)" = "$(val BOTHERS)" ] || problems+=("commit changed other tenants")
			if [ -n "$check" ] && [ "$(val CHECK)" != true ]; then
				problems+=("check is '$(val CHECK)': $check")
			fi
		fi
	fi
	if [ ${#problems[@]} -eq 0 ]; then
		ok 0 "$desc"
	else
		ok 1 "$desc"
		for p in "${problems[@]}"; do diag "$(printf '%s' "$p" | head -c 600)"; done
	fi
done

crash_check
done_testing
