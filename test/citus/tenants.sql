-- The suite's own tenant loader: many tenants of a few kinds at once,
-- set-based (make demo's test/fixtures/demo_tenant.sql loads its two
-- users one call at a time; run.sh loads it too).  Loaded on the
-- coordinator and on the plain node,
-- so both hold byte-identical tenants.  Everything lives in schema aptest.
--
-- Contact n of tenant uid has id uid * 100 + n (tenants are 1..99999);
-- contacts the import creates draw from the sequence, which starts at
-- 10,000,000 here (and on Citus workers at their own, larger range):
-- aptest.state() shows those as "new".
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE SCHEMA aptest;
DO $$ BEGIN PERFORM setval(pg_get_serial_sequence('public.contacts', 'id'), 10000000); END $$;

/*
 * aptest.seed_all(uids, kinds): load tenant uids[i] of kind kinds[i],
 * set-based (one INSERT per table, whatever the number of tenants):
 *   std     the standard tenant of test/fixtures/import/setup.psql, which
 *           the import fixtures are written against: ten contacts, two
 *           profiles
 *   shadow  the same emails and numbers under other names, a profile on
 *           every contact, and one contact of its own (11)
 *   demo    user 1 of test/fixtures/demo_tenant.sql (12 contacts, four
 *           profiles, stored as activepipe_card_save stores them), which
 *           test/fixtures/activepipe_sample.csv is written against
 */
CREATE FUNCTION aptest.seed_all(uids bigint[], kinds text[]) RETURNS int
LANGUAGE plpgsql AS $f$
BEGIN
	IF EXISTS (SELECT 1 FROM unnest(kinds) k WHERE k NOT IN ('std', 'shadow', 'demo')) THEN
		RAISE EXCEPTION 'aptest.seed_all: unknown kind in %', kinds;
	END IF;
	CREATE TEMP TABLE seed_t ON COMMIT DROP AS
		SELECT * FROM unnest(uids, kinds) AS t(uid, kind);
	INSERT INTO public.users (id, email)
		SELECT t.uid, 'agent' || t.uid || '@example.com' FROM seed_t t;

	INSERT INTO public.contacts (id, user_id, first_name, last_name, email, phone, mobile,
		street_address, city, state, postcode, country)
	SELECT t.uid * 100 + s.n, t.uid,
		CASE WHEN t.kind = 'shadow' THEN 'Shadow' || s.n ELSE s.fn END,
		CASE WHEN t.kind = 'shadow' THEN 'Tenant' ELSE s.ln END,
		s.em, s.ph, s.mo, NULL, s.ci, s.st, NULL, s.co
	FROM seed_t t CROSS JOIN (VALUES
		(5, 'Dee', 'Ng', ' DUP@Example.com', NULL, NULL, NULL, NULL, NULL),
		(1, 'Ann', 'Lee', 'ann@example.com', NULL, '0412 345 678', NULL, NULL, NULL),
		(2, 'Bob', 'Ray', 'bob@example.com', '(02) 9876 5432', NULL, NULL, NULL, NULL),
		(3, 'Cara', 'Diaz', 'cara@example.com', '03 9123 4567', '0423 111 222', NULL, NULL, NULL),
		(4, 'Dan', 'Ng', 'dup@example.com', NULL, NULL, NULL, NULL, NULL),
		(6, 'Eve', 'Fox', NULL, NULL, '0433 555 666', NULL, NULL, NULL),
		(7, 'Evan', 'Fox', NULL, '+61 433 555 666', NULL, NULL, NULL, NULL),
		(8, 'Fay', 'Gold', 'fay@example.com', NULL, NULL, 'Perth', '', 'Australia'),
		(9, 'Gus', 'Hill', 'gus@example.com', NULL, '0400 000 009', NULL, NULL, NULL),
		(10, 'Mary Ann', 'Smith', 'mary@example.com', NULL, NULL, NULL, NULL, NULL)
	) AS s(n, fn, ln, em, ph, mo, ci, st, co)
	WHERE t.kind IN ('std', 'shadow')
	UNION ALL
	SELECT t.uid * 100 + 11, t.uid, 'Shadow11', 'Tenant', 'shadow.only@example.com', NULL,
		'0488 888 888', NULL, NULL, NULL, NULL, NULL
	FROM seed_t t WHERE t.kind = 'shadow'
	UNION ALL
	SELECT t.uid * 100 + s.n, t.uid, s.fn, s.ln, s.em, s.ph, s.mo, s.sa, s.ci, s.st, s.pc, s.co
	FROM seed_t t CROSS JOIN (VALUES
		(1, 'Olivia', 'Nguyen', 'olivia.nguyen@example.com', NULL, '0412 345 678',
		 '14 Darling St', 'Balmain', 'NSW', '2041', 'Australia'),
		(2, 'Liam', 'Smith', 'liam.smith@example.com', '(02) 9876 5432', NULL,
		 '3/21 Pacific Hwy', 'North Sydney', 'NSW', '2060', 'Australia'),
		(3, 'Charlotte', 'Brown', 'charlotte.brown@example.com', NULL, NULL,
		 NULL, 'Newtown', 'NSW', '2042', 'Australia'),
		(4, 'Jack', 'Wilson', NULL, NULL, '0423 111 222',
		 NULL, 'Manly', 'NSW', '2095', NULL),
		(5, 'Amelia', 'Taylor', 'amelia.taylor@example.com', '0433 555 777', NULL,
		 '9 Ocean St', 'Bondi', 'NSW', '2026', 'Australia'),
		(6, 'Noah', 'Martin', 'noah.martin@example.com', NULL, '0401 222 333',
		 NULL, 'Paddington', 'NSW', '2021', 'Australia'),
		(7, 'Isla', 'Thompson', 'isla.thompson@example.com', NULL, '0455 678 901',
		 NULL, 'Glebe', 'NSW', '2037', 'Australia'),
		(8, 'Ethan', 'Lee', 'ethan.lee@example.com', NULL, NULL,
		 NULL, 'Chatswood', 'NSW', '2067', 'Australia'),
		(9, 'Mia', 'White', 'mia.white@example.com', '02 9555 0101', NULL,
		 NULL, 'Surry Hills', 'NSW', '2010', 'Australia'),
		(10, 'Lucas', 'Harris', 'lucas.harris@example.com', NULL, '0466 100 200',
		 'Unit 4, 12 "The Grove" Rd', 'Mosman', 'NSW', '2088', 'Australia'),
		(11, 'Harper', 'Clark', 'clark.family@example.com', NULL, NULL,
		 '7 Elm Ave', 'Randwick', 'NSW', '2031', 'Australia'),
		(12, 'Oscar', 'Clark', 'clark.family@example.com', NULL, NULL,
		 '7 Elm Ave', 'Randwick', 'NSW', '2031', 'Australia')
	) AS s(n, fn, ln, em, ph, mo, sa, ci, st, pc, co)
	WHERE t.kind = 'demo';

	INSERT INTO public.contact_integrations (user_id, contact_id, payload_json)
	SELECT t.uid, t.uid * 100 + p.n, p.payload::jsonb
	FROM seed_t t CROSS JOIN (VALUES
		(3, '{"source": "referral"}'),
		(9, '{"status": "subscribed", "source": "web", "minbeds": 2, "tags": ["old"], "custom_key": "keep"}')
	) AS p(n, payload)
	WHERE t.kind IN ('std', 'shadow')
	UNION ALL
	SELECT t.uid, t.uid * 100 + n, '{"status": "shadow"}'
	FROM seed_t t CROSS JOIN unnest(ARRAY[1, 2, 4, 5, 6, 7, 8, 10, 11]) AS n
	WHERE t.kind = 'shadow'
	UNION ALL
	SELECT t.uid, t.uid * 100 + p.n, p.payload::jsonb
	FROM seed_t t CROSS JOIN (VALUES
		(1, '{"tags": ["Buyer", "Inner West"], "source": "Open home", "status": "subscribed", "maxbeds": 4, "minbeds": 3, "maxprice": 1200000, "minprice": 900000, "buyertype": "Buyer", "locations": "Balmain; Rozelle", "sms_status": "subscribed", "propertytype": "House", "subscribed_at": "2024-03-02"}'),
		(2, '{"tags": ["Investor", "Lower North Shore"], "status": "subscribed", "minbeds": 2, "maxprice": 750000, "buyertype": "Investor", "propertytype": "Apartment"}'),
		(7, '{"tags": ["Past client"], "status": "unsubscribed", "sms_status": "unsubscribed", "unsubscribed_at": "2025-01-15", "unsubscribed_reason": "Bought elsewhere"}'),
		(10, '{"tags": ["Vendor", "Lower North Shore"], "status": "subscribed", "category": "Appraisal", "buyertype": "Vendor", "listingtype": "Sale"}')
	) AS p(n, payload)
	WHERE t.kind = 'demo';
	RETURN coalesce(array_length(uids, 1), 0);
END
$f$;

/*
 * What each tenant holds, without what legitimately differs between a
 * single server and a cluster: ids drawn from sequences (new contacts are
 * named by their email and name, profiles and events by their contents)
 * and timestamps (only whether they are set).  One query per table for
 * all the tenants asked for.
 */
CREATE FUNCTION aptest.states(uids bigint[]) RETURNS TABLE (uid bigint, state text)
LANGUAGE plpgsql STABLE AS $f$
#variable_conflict use_column
BEGIN
	RETURN QUERY
	WITH c AS (
		SELECT l.uid, string_agg(l.line, E'\n' ORDER BY l.line) AS s FROM (
			SELECT k.user_id AS uid, format('contact %s: %s',
				CASE WHEN k.id < 10000000 THEN k.id::text ELSE 'new' END,
				concat_ws('|', k.first_name, k.last_name, k.email, k.phone, k.mobile,
					k.street_address, k.city, k.state, k.postcode, k.country)) AS line
			FROM public.contacts k WHERE k.user_id = ANY (uids)) l
		GROUP BY l.uid
	), ci AS (
		SELECT l.uid, string_agg(l.line, E'\n' ORDER BY l.line) AS s FROM (
			SELECT p.user_id AS uid, format('profile %s %s %s: %s exported=%s imported=%s',
				CASE WHEN p.contact_id < 10000000 THEN p.contact_id::text
				     ELSE 'new ' || coalesce(k.email, '') || ' ' || coalesce(k.first_name, '') END,
				p.integration_key, coalesce(p.external_id, '-'), p.payload_json::text,
				p.last_exported_at IS NOT NULL, p.last_imported_at IS NOT NULL) AS line
			FROM public.contact_integrations p
			LEFT JOIN public.contacts k ON k.user_id = p.user_id AND k.id = p.contact_id
			WHERE p.user_id = ANY (uids)) l
		GROUP BY l.uid
	), ev AS (
		SELECT l.uid, string_agg(l.line, E'\n' ORDER BY l.line) AS s FROM (
			SELECT e.user_id AS uid, format('event %s %s %s rows=%s new=%s updated=%s conflicts=%s skipped=%s %s',
				e.integration_key, e.event_type, coalesce(e.filename, '-'), e.total_rows,
				e.new_count, e.updated_count, e.conflict_count, e.skipped_count,
				(e.summary - 'undone_event_id')::text) AS line  -- an event id: node-dependent
			FROM public.integration_events e WHERE e.user_id = ANY (uids)) l
		GROUP BY l.uid
	)
	SELECT u, concat_ws(E'\n', c.s, ci.s, ev.s)
	FROM unnest(uids) AS u
	LEFT JOIN c ON c.uid = u LEFT JOIN ci ON ci.uid = u LEFT JOIN ev ON ev.uid = u;
END
$f$;

CREATE FUNCTION aptest.state(uid bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $f$
BEGIN
	RETURN (SELECT s.state FROM aptest.states(ARRAY[uid]) s);
END
$f$;

-- Every stored row of a tenant with its physical version (xmin, ctid):
-- equal snapshots mean nothing was written (as pg_temp.snap in
-- test/fixtures/import/setup.psql).
CREATE FUNCTION aptest.snap(uid bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $f$
DECLARE
	a text;
	b text;
	e text;
BEGIN
	SELECT string_agg(format('%s %s %s', k.xmin, k.ctid, k.*), E'\n' ORDER BY k.id) INTO a
		FROM public.contacts k WHERE k.user_id = uid;
	SELECT string_agg(format('%s %s %s', p.xmin, p.ctid, p.*), E'\n' ORDER BY p.id) INTO b
		FROM public.contact_integrations p WHERE p.user_id = uid;
	SELECT string_agg(format('%s %s %s', v.xmin, v.ctid, v.*), E'\n' ORDER BY v.id) INTO e
		FROM public.integration_events v WHERE v.user_id = uid;
	RETURN concat_ws(E'\n--\n', coalesce(a, ''), coalesce(b, ''), coalesce(e, ''));
END
$f$;
