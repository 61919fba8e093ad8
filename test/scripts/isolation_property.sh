#!/usr/bin/env bash
# Tenant isolation as a property test.  Six tenants draw their contacts
# from one pool of emails and phone numbers, so they share most of them.
# Each round picks a tenant and a random call of the API: an import commit,
# preview or plan of a small random CSV built in SQL (random columns,
# spellings of shared emails and phones, names, profile fields, sometimes
# malformed), an export, export_rows or export_summary of some of its
# contacts (sometimes with another tenant's id in the list), or a card
# read, save or clear (sometimes of another tenant's contact).  After every
# round every other tenant's contacts, integration rows and event count are
# checked byte-for-byte (checksums); read-only calls must leave the acting
# tenant unchanged too; calls naming another tenant's contact must fail;
# import plans may only name the tenant's contacts; exports may only hold
# the tenant's contacts.  Seeded (setseed), so a failure replays.
#
#   bash test/scripts/isolation_property.sh
#   PROP_ROUNDS=5000 PROP_SEED=0.7 bash test/scripts/isolation_property.sh
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/scripts/reliability_lib.bash

DB=ap_isolation
ROUNDS=${PROP_ROUNDS:-400}
SEED=${PROP_SEED:-0.4242}
trap 'dropdb --if-exists "$DB" >/dev/null 2>&1' EXIT

OPS="commit preview plan export export_rows export_summary card card_save card_clear"
crash_mark
new_db "$DB" || { ok 1 "set up database $DB"; done_testing; exit 1; }

psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null 2>/tmp/ap-isolation-setup.$$ <<'SQL'
CREATE FUNCTION reltest.rnd(lo int, hi int) RETURNS int LANGUAGE sql VOLATILE AS
	$$ SELECT lo + floor(random() * (hi - lo + 1))::int $$;
CREATE FUNCTION reltest.pick(a text[]) RETURNS text LANGUAGE sql VOLATILE AS
	$$ SELECT a[1 + floor(random() * array_length(a, 1))::int] $$;
CREATE FUNCTION reltest.csvq(v text) RETURNS text LANGUAGE sql IMMUTABLE AS
	$$ SELECT CASE WHEN v IS NULL THEN '' ELSE '"' || replace(v, '"', '""') || '"' END $$;

-- one of 40 shared emails, spelt one of several ways
CREATE FUNCTION reltest.rand_email() RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	e text := 'shared' || reltest.rnd(1, 40) || '@pool.example';
BEGIN
	RETURN CASE reltest.rnd(1, 4)
		WHEN 1 THEN e WHEN 2 THEN upper(e) WHEN 3 THEN ' ' || e || ' ' ELSE initcap(e) END;
END $$;

-- one of 30 shared mobile numbers, written one of several ways
CREATE FUNCTION reltest.rand_phone() RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	d text := '4' || lpad(reltest.rnd(1, 30)::text, 8, '0');
BEGIN
	RETURN CASE reltest.rnd(1, 4)
		WHEN 1 THEN '0' || d
		WHEN 2 THEN '+61 ' || substr(d, 1, 3) || ' ' || substr(d, 4, 3) || ' ' || substr(d, 7)
		WHEN 3 THEN '0' || substr(d, 1, 3) || ' ' || substr(d, 4, 3) || ' ' || substr(d, 7)
		ELSE '61' || d END;
END $$;

CREATE FUNCTION reltest.rand_value(col text) RETURNS text LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF random() < 0.15 THEN
		RETURN NULL;
	END IF;
	RETURN CASE col
		WHEN 'email' THEN reltest.rand_email()
		WHEN 'phone' THEN reltest.rand_phone()
		WHEN 'mobile' THEN reltest.rand_phone()
		WHEN 'firstname' THEN reltest.pick(ARRAY['Ann', 'ann ', 'Bob', 'Cy', 'Di', 'Zoë', 'O''Neil'])
		WHEN 'lastname' THEN reltest.pick(ARRAY['Lee', 'Stone', 'Smith "Jr"', 'Ng'])
		WHEN 'city' THEN reltest.pick(ARRAY['Perth', 'Hobart', 'Sydney, NSW'])
		WHEN 'status' THEN reltest.pick(ARRAY['subscribed', 'unsubscribed', 'active'])
		WHEN 'tags' THEN reltest.pick(ARRAY['vip', 'vip;buyer', 'seller; VIP', '=HYPERLINK("x")'])
		WHEN 'minprice' THEN reltest.pick(ARRAY['1,000', '$2 500 000', '350000', 'n/a'])
	END;
END $$;

-- A random small CSV: random columns (at least one key column) in random
-- order and header spelling, 1 to 6 rows; malformed (a quote that never
-- closes) one time in twenty.
CREATE FUNCTION reltest.rand_csv(OUT body text, OUT malformed boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	cols text[];
	hdr text[];
	line text[];
	c text;
	i int;
BEGIN
	SELECT array_agg(x ORDER BY random()) INTO cols
	  FROM unnest(ARRAY['email', 'firstname', 'lastname', 'phone', 'mobile',
						'city', 'status', 'tags', 'minprice']) x
	 WHERE random() < 0.6;
	IF cols IS NULL OR NOT cols && ARRAY['email', 'phone', 'mobile'] THEN
		cols := coalesce(cols, '{}') || reltest.pick(ARRAY['email', 'phone', 'mobile']);
	END IF;
	SELECT array_agg(CASE reltest.rnd(1, 3) WHEN 1 THEN upper(x) WHEN 2 THEN initcap(x) ELSE x END
					 ORDER BY o)
	  INTO hdr FROM unnest(cols) WITH ORDINALITY u(x, o);
	body := array_to_string(hdr, ',');
	FOR i IN 1 .. reltest.rnd(1, 6) LOOP
		line := '{}';
		FOREACH c IN ARRAY cols LOOP
			line := line || reltest.csvq(reltest.rand_value(c));
		END LOOP;
		body := body || E'\r\n' || array_to_string(line, ',');
	END LOOP;
	malformed := random() < 0.05;
	IF malformed THEN
		body := body || E'\r\n' || '"never closed' || E'\r\n';
	END IF;
END $$;

CREATE TABLE reltest.prop_log (round int, op text, tenant bigint, ok boolean, detail text,
	changed boolean, failed boolean);

-- Six tenants, 25 contacts each from the shared pools, half with profiles.
INSERT INTO users (id) SELECT g FROM generate_series(401, 406) g;

CREATE PROCEDURE reltest.prop_setup(seed float8) LANGUAGE plpgsql AS $$
DECLARE
	t bigint;
	c bigint;
BEGIN
	PERFORM setseed(seed);
	FOR t IN 401 .. 406 LOOP
		INSERT INTO contacts (user_id, first_name, last_name, email, mobile, phone)
		SELECT t, reltest.rand_value('firstname'), reltest.rand_value('lastname'),
			   reltest.rand_email(), reltest.rand_value('mobile'), reltest.rand_value('phone')
		  FROM generate_series(1, 25);
		FOR c IN SELECT id FROM contacts WHERE user_id = t ORDER BY id LIMIT 12 LOOP
			PERFORM activepipe_card_save(t, c, jsonb_build_object('status', 'subscribed', 'tags', 'seed'));
		END LOOP;
	END LOOP;
END $$;

CREATE PROCEDURE reltest.prop_run(rounds int, seed float8) LANGUAGE plpgsql AS $$
DECLARE
	t bigint;
	r int;
	op text;
	before_o text;
	before_t text;
	after_o text;
	after_t text;
	csv text;
	bad boolean;
	ids bigint[];
	foreign_id bigint;
	uses_foreign boolean;
	expect_error boolean;
	got_error boolean;
	err text;
	problem text;
	x jsonb;
	n bigint;
	own bigint;
BEGIN
	PERFORM setseed(seed);
	FOR r IN 1 .. rounds LOOP
		t := 400 + reltest.rnd(1, 6);
		op := reltest.pick(ARRAY['commit', 'commit', 'commit', 'commit', 'preview', 'preview',
								 'plan', 'plan', 'export', 'export', 'export_rows',
								 'export_summary', 'card', 'card_save', 'card_save', 'card_clear']);
		SELECT array_agg(id ORDER BY o) INTO ids
		  FROM (SELECT id, random() o FROM contacts WHERE user_id = t ORDER BY 2 LIMIT reltest.rnd(1, 5)) s;
		uses_foreign := random() < 0.3;
		IF uses_foreign THEN
			SELECT id INTO foreign_id FROM contacts WHERE user_id <> t ORDER BY random() LIMIT 1;
			ids := ids || foreign_id;
		END IF;
		SELECT * INTO csv, bad FROM reltest.rand_csv();
		expect_error := false;
		got_error := false;
		err := NULL;
		problem := NULL;
		before_o := reltest.others_state(t);
		before_t := reltest.tenant_state(t);
		BEGIN
			CASE op
			WHEN 'commit' THEN
				expect_error := bad;
				x := activepipe_import_commit(t, csv, random() < 0.3, 'prop.csv');
			WHEN 'preview' THEN
				expect_error := bad;
				x := activepipe_import_preview(t, convert_to(csv, 'UTF8'), random() < 0.3);
			WHEN 'plan' THEN
				expect_error := bad;
				SELECT count(*) INTO n FROM activepipe_import_plan(t, csv, random() < 0.3) p
				 WHERE p.contact_id IS NOT NULL
				   AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = p.contact_id AND c.user_id = t);
				IF n > 0 THEN
					problem := format('plan named %s contacts of other tenants', n);
				END IF;
			WHEN 'export' THEN
				expect_error := uses_foreign;
				PERFORM activepipe_export(t, ids, 'prop.csv', random() < 0.5);
			WHEN 'export_rows' THEN
				expect_error := uses_foreign;
				SELECT count(*) INTO n FROM activepipe_export_rows(t, ids) e
				 WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.user_id = t
									 AND c.id = ANY (ids) AND c.email IS NOT DISTINCT FROM e.email);
				IF n > 0 THEN
					problem := format('export_rows gave %s rows that are not the tenant''s', n);
				END IF;
			WHEN 'export_summary' THEN
				x := activepipe_export_summary(t, ids);
				SELECT count(DISTINCT id) INTO own FROM contacts WHERE user_id = t AND id = ANY (ids);
				IF (x ->> 'exportable')::bigint <> own THEN
					problem := format('export_summary counted %s exportable, the tenant owns %s', x ->> 'exportable', own);
				END IF;
			WHEN 'card' THEN
				expect_error := uses_foreign;
				x := activepipe_card(t, ids[array_length(ids, 1)]);
			WHEN 'card_save' THEN
				expect_error := uses_foreign;
				x := activepipe_card_save(t, ids[array_length(ids, 1)],
					jsonb_build_object('status', reltest.rand_value('status'),
									   'tags', reltest.rand_value('tags'),
									   'minprice', (reltest.rnd(1, 9) * 100000)::text));
			WHEN 'card_clear' THEN
				expect_error := uses_foreign;
				PERFORM activepipe_card_clear(t, ids[array_length(ids, 1)]);
			END CASE;
		EXCEPTION WHEN OTHERS THEN
			got_error := true;
			err := SQLSTATE || ' ' || SQLERRM;
		END;
		after_o := reltest.others_state(t);
		after_t := reltest.tenant_state(t);
		IF after_o <> before_o THEN
			problem := concat_ws('; ', problem, 'ANOTHER TENANT CHANGED');
		END IF;
		IF op IN ('preview', 'plan', 'export_summary', 'card') AND after_t <> before_t THEN
			problem := concat_ws('; ', problem, 'a read-only call changed the tenant');
		END IF;
		IF got_error AND after_t <> before_t THEN
			problem := concat_ws('; ', problem, 'a failed call changed the tenant');
		END IF;
		IF got_error <> expect_error THEN
			problem := concat_ws('; ', problem,
				format('expected %s, got %s', CASE WHEN expect_error THEN 'an error' ELSE 'success' END,
					   coalesce(err, 'success')));
		END IF;
		INSERT INTO reltest.prop_log
		VALUES (r, op, t, problem IS NULL,
				concat_ws(' | ', problem, CASE WHEN problem IS NOT NULL THEN 'csv: ' || left(csv, 300) END),
				after_t <> before_t, got_error);
		COMMIT;
	END LOOP;
END $$;
SQL
rc=$?
[ $rc -eq 0 ] || diag "$(cat /tmp/ap-isolation-setup.$$)"
rm -f /tmp/ap-isolation-setup.$$

start=$(date +%s)
errf=$(mktemp "${TMPDIR:-/tmp}/ap-isolation.XXXXXX")
{ q "$DB" "CALL reltest.prop_setup($SEED)" && q "$DB" "CALL reltest.prop_run($ROUNDS, $SEED)"; } >/dev/null 2>"$errf" ||
	diag "the property run stopped: $(head -c 500 "$errf")"
rm -f "$errf"
diag "$ROUNDS rounds, seed $SEED, in $(( $(date +%s) - start )) s"
is "$(q "$DB" "SELECT count(*) FROM reltest.prop_log")" "$ROUNDS" "all $ROUNDS rounds ran"
diag "$(q "$DB" "SELECT count(*) FILTER (WHERE changed) || ' rounds changed the acting tenant, ' || count(*) FILTER (WHERE failed) || ' failed as expected; contacts now: ' || (SELECT count(*) FROM contacts) FROM reltest.prop_log")"

for op in $OPS; do
	read -r n bad <<<"$(q "$DB" "SELECT count(*), count(*) FILTER (WHERE NOT ok) FROM reltest.prop_log WHERE op = '$op'" | tr '|' ' ')"
	if [ "${n:-0}" -gt 0 ] && [ "${bad:-1}" -eq 0 ]; then
		ok 0 "$op: $n rounds, other tenants unchanged and errors as expected"
	else
		ok 1 "$op: ${n:-0} rounds, other tenants unchanged and errors as expected"
		q "$DB" "SELECT 'round ' || round || ', tenant ' || tenant || ': ' || detail FROM reltest.prop_log WHERE op = '$op' AND NOT ok ORDER BY round LIMIT 5" |
			while read -r l; do diag "$(printf '%s' "$l" | head -c 500)"; done
	fi
done

n=$(q "$DB" "SELECT count(*) FROM reltest.prop_log WHERE detail = '' AND op IN ('export', 'export_rows', 'card', 'card_save', 'card_clear')")
[ "${n:-0}" -gt 0 ]
ok $? "id-taking calls were exercised ($n rounds)"
n=$(q "$DB" "SELECT count(*) FROM (SELECT activepipe_email_key(email) FROM contacts WHERE email IS NOT NULL GROUP BY 1 HAVING count(DISTINCT user_id) > 1) s")
[ "${n:-0}" -gt 10 ]
ok $? "tenants really share emails ($n email keys held by several tenants)"
crash_check
done_testing
