-- bench/gen_data.sql: the benchmark's contacts, deterministic and seeded.
--
--   psql -v contacts=1000000 -v tenants=10 -f bench/gen_data.sql
--
-- Loads into a database that already holds the reference Ulysses schema
-- (test/fixtures/ulysses_schema.sql) and the activepipe extension:
--   * :tenants users; :contacts contacts dealt round-robin over them, so
--     every tenant holds contacts/tenants rows spread over the whole table
--     (as contacts of many agents arrive interleaved in a real CRM);
--   * realistic identity values: ~90% have an email, ~80% a mobile
--     ('0412 345 678'), ~50% a landline ('(02) 9123 4567'), ~70% an
--     address; 0.5% share their email with another contact of the tenant
--     (a couple's shared address: an ambiguous key for the import);
--   * half of the contacts have an ActivePipe profile in
--     contact_integrations with a payload as the extension stores it
--     (strings, numbers for the ranges, a tags array).
-- Everything random comes from setseed() and one serial INSERT ... SELECT
-- per table, so two runs build the same rows.
\set ON_ERROR_STOP 1
\if :{?contacts}
\else
\set contacts 1000000
\endif
\if :{?tenants}
\else
\set tenants 10
\endif

SET max_parallel_workers_per_gather = 0;	-- one process: deterministic random()
SET synchronous_commit = off;

CREATE SCHEMA IF NOT EXISTS bench;

CREATE TABLE bench.first_names (i int PRIMARY KEY, name text NOT NULL);
INSERT INTO bench.first_names
SELECT ordinality::int - 1, n FROM unnest(ARRAY[
	'James', 'Olivia', 'William', 'Charlotte', 'Jack', 'Amelia', 'Noah', 'Isla',
	'Thomas', 'Mia', 'Oliver', 'Ava', 'Lucas', 'Grace', 'Henry', 'Chloe',
	'Leo', 'Sophie', 'Ethan', 'Zoe', 'Mason', 'Ella', 'Liam', 'Ruby',
	'Samuel', 'Harper', 'Alexander', 'Matilda', 'Daniel', 'Evie', 'Harrison', 'Emily',
	'Max', 'Lily', 'Archie', 'Sienna', 'Hugo', 'Ivy', 'Cooper', 'Hannah',
	'Lachlan', 'Georgia', 'Riley', 'Layla', 'Isaac', 'Willow', 'Joshua', 'Scarlett',
	'Benjamin', 'Audrey', 'Sebastian', 'Aria', 'Hunter', 'Frankie', 'Xavier', 'Mila',
	'Patrick', 'Jasmine', 'Angus', 'Madison', 'Dylan', 'Alice', 'Ryan', 'Rose',
	'Wei', 'Mei', 'Raj', 'Priya', 'Minh', 'Linh', 'Mohammed', 'Fatima',
	'Giovanni', 'Francesca', 'Nikos', 'Eleni', 'Sean', 'Siobhan', 'Mateo', 'Lucia'])
	WITH ORDINALITY AS t(n, ordinality);

CREATE TABLE bench.last_names (i int PRIMARY KEY, name text NOT NULL);
INSERT INTO bench.last_names
SELECT ordinality::int - 1, n FROM unnest(ARRAY[
	'Smith', 'Jones', 'Williams', 'Brown', 'Wilson', 'Taylor', 'Johnson', 'White',
	'Martin', 'Anderson', 'Thompson', 'Nguyen', 'Thomas', 'Walker', 'Harris', 'Lee',
	'Ryan', 'Robinson', 'Kelly', 'King', 'Davis', 'Wright', 'Evans', 'Roberts',
	'Green', 'Hall', 'Wood', 'Jackson', 'Clarke', 'Patel', 'Khan', 'Lewis',
	'James', 'Phillips', 'Mitchell', 'Turner', 'Campbell', 'Edwards', 'Murphy', 'O''Brien',
	'Tran', 'Chen', 'Wang', 'Li', 'Zhang', 'Singh', 'Kaur', 'Papadopoulos',
	'Rossi', 'Russo', 'Ferrari', 'Costa', 'Morris', 'Cook', 'Scott', 'Young',
	'Baker', 'Adams', 'Hill', 'Moore', 'Stewart', 'Bell', 'McDonald', 'Fraser'])
	WITH ORDINALITY AS t(n, ordinality);

CREATE TABLE bench.suburbs (i int PRIMARY KEY, city text, state text, postcode text);
INSERT INTO bench.suburbs
SELECT ordinality::int - 1, c, s, p FROM unnest(
	ARRAY['Bondi', 'Coogee', 'Manly', 'Parramatta', 'Chatswood', 'Newtown', 'Richmond',
		'St Kilda', 'Fitzroy', 'Brunswick', 'Toowong', 'New Farm', 'Fremantle',
		'Subiaco', 'Glenelg', 'Norwood', 'Sandy Bay', 'Braddon', 'Surry Hills', 'Mosman'],
	ARRAY['NSW', 'NSW', 'NSW', 'NSW', 'NSW', 'NSW', 'VIC', 'VIC', 'VIC', 'VIC', 'QLD', 'QLD',
		'WA', 'WA', 'SA', 'SA', 'TAS', 'ACT', 'NSW', 'NSW'],
	ARRAY['2026', '2034', '2095', '2150', '2067', '2042', '3121', '3182', '3065', '3056',
		'4066', '4005', '6160', '6008', '5045', '5067', '7005', '2612', '2010', '2088'])
	WITH ORDINALITY AS t(c, s, p, ordinality);

INSERT INTO public.users (id, email)
SELECT u, 'agent' || u || '@agency.example.com' FROM generate_series(1, :tenants) u;

SELECT setseed(0.4242);

/*
 * Contact i belongs to tenant 1 + (i - 1) % tenants.  Mobiles and landlines
 * are bijections of i (7919 and 104729 are prime to 10^8), so no two
 * contacts share one by accident.
 */
INSERT INTO public.contacts (id, user_id, first_name, last_name, email, phone, mobile,
	street_address, city, state, postcode, country, created_at, updated_at)
SELECT g.i, 1 + (g.i - 1) % :tenants, fn.name, ln.name,
	CASE WHEN r_email < 0.90 THEN
		lower(fn.name) || '.' || lower(replace(ln.name, '''', '')) || g.i || '@' ||
		(ARRAY['gmail.com', 'outlook.com', 'bigpond.com.au', 'yahoo.com.au', 'icloud.com',
			'optusnet.com.au'])[1 + (g.i % 6)]
	END,
	CASE WHEN r_phone < 0.50 THEN
		'(0' || (ARRAY['2', '3', '7', '8'])[1 + (g.i % 4)] || ') 9' ||
		substr(lpad(((g.i::bigint * 104729 + 2345678) % 10000000)::text, 7, '0'), 1, 3) || ' ' ||
		substr(lpad(((g.i::bigint * 104729 + 2345678) % 10000000)::text, 7, '0'), 4, 4)
	END,
	CASE WHEN r_mobile < 0.80 THEN
		'04' || substr(lpad(((g.i::bigint * 7919 + 12345678) % 100000000)::text, 8, '0'), 1, 2) || ' ' ||
		substr(lpad(((g.i::bigint * 7919 + 12345678) % 100000000)::text, 8, '0'), 3, 3) || ' ' ||
		substr(lpad(((g.i::bigint * 7919 + 12345678) % 100000000)::text, 8, '0'), 6, 3)
	END,
	CASE WHEN r_addr < 0.70 THEN (1 + (g.i % 240)) || ' ' ||
		(ARRAY['George St', 'Pitt St', 'Beach Rd', 'Ocean St', 'Victoria Ave', 'High St',
			'Church St', 'Park Rd'])[1 + (g.i % 8)] END,
	CASE WHEN r_addr < 0.70 THEN sb.city END,
	CASE WHEN r_addr < 0.70 THEN sb.state END,
	CASE WHEN r_addr < 0.70 THEN sb.postcode END,
	CASE WHEN r_addr < 0.60 THEN 'Australia' END,
	timestamptz '2020-01-01' + (g.i || ' minutes')::interval,
	timestamptz '2024-01-01' + (g.i || ' minutes')::interval
FROM (
	SELECT g0 AS i, random() AS r_email, random() AS r_phone, random() AS r_mobile,
		random() AS r_addr, floor(random() * 80)::int AS fi,
		floor(random() * 64)::int AS li, floor(random() * 20)::int AS si
	FROM generate_series(1, :contacts) g0
) g
JOIN bench.first_names fn ON fn.i = g.fi
JOIN bench.last_names ln ON ln.i = g.li
JOIN bench.suburbs sb ON sb.i = g.si
ORDER BY g.i;

SELECT setval(pg_get_serial_sequence('public.contacts', 'id'), :contacts);
SELECT setval(pg_get_serial_sequence('public.users', 'id'), :tenants);

-- Couples sharing one email: 0.5% of contacts take the email of the
-- contact `tenants` ids earlier (the same tenant).
UPDATE public.contacts c SET email = p.email
FROM public.contacts p
WHERE p.id = c.id - :tenants AND c.id % 200 = 7 AND p.email IS NOT NULL;

SELECT setseed(0.1717);

/* Half of the contacts carry an ActivePipe profile. */
INSERT INTO public.contact_integrations (user_id, contact_id, integration_key, payload_json,
	last_imported_at, created_at, updated_at)
SELECT c.user_id, c.id, 'activepipe',
	jsonb_strip_nulls(jsonb_build_object(
		'status', (ARRAY['subscribed', 'subscribed', 'subscribed', 'unsubscribed', 'cleaned'])[1 + floor(r1 * 5)::int],
		'sms_status', (ARRAY['subscribed', 'unsubscribed', NULL])[1 + floor(r2 * 3)::int],
		'subscribed_at', to_char(timestamp '2021-01-01' + (floor(r3 * 1000) || ' days')::interval, 'YYYY-MM-DD HH24:MI:SS'),
		'source', (ARRAY['ActivePipe', 'Website', 'Open home', 'Referral', 'Portal enquiry'])[1 + floor(r4 * 5)::int],
		'modified_at', to_char(timestamp '2024-01-01' + (floor(r5 * 500) || ' days')::interval, 'YYYY-MM-DD HH24:MI:SS'),
		'buyertype', (ARRAY['Buyer', 'Investor', 'Seller', 'Renter', 'First home buyer'])[1 + floor(r1 * 5)::int],
		'locations', (ARRAY['Bondi;Coogee', 'Manly', 'Richmond;Fitzroy;Brunswick', 'New Farm', 'Glenelg;Norwood'])[1 + floor(r2 * 5)::int],
		'propertytype', (ARRAY['House', 'Apartment', 'Townhouse', 'Land', 'Villa'])[1 + floor(r3 * 5)::int],
		'category', (ARRAY['Residential', 'Residential', 'Rural', 'Commercial'])[1 + floor(r4 * 4)::int],
		'minbeds', 1 + floor(r1 * 3)::int,
		'maxbeds', 3 + floor(r2 * 3)::int,
		'minbaths', 1,
		'maxbaths', 1 + floor(r3 * 3)::int,
		'minprice', 400000 + floor(r4 * 40)::int * 25000,
		'maxprice', 1500000 + floor(r5 * 40)::int * 50000,
		'minparking', CASE WHEN r1 < 0.5 THEN 1 END,
		'listingtype', (ARRAY['Sale', 'Sale', 'Rent'])[1 + floor(r5 * 3)::int],
		'tags', to_jsonb(string_to_array((ARRAY['vip;open-home', 'newsletter', 'investor;newsletter',
			'hot-lead;appraisal', 'past-client;vip;newsletter'])[1 + floor(r2 * 5)::int], ';'))
	)),
	timestamptz '2024-06-01' + (c.id || ' seconds')::interval,
	c.created_at, c.updated_at
FROM (
	SELECT c.*, random() AS pick, random() AS r1, random() AS r2, random() AS r3,
		random() AS r4, random() AS r5
	FROM public.contacts c ORDER BY c.id
) c
WHERE c.pick < 0.5
ORDER BY c.id;

VACUUM (ANALYZE) public.users, public.contacts, public.contact_integrations;
CHECKPOINT;
