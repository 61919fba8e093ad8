--
-- activepipe match keys (issue 3): phone numbers in one canonical
-- international form, emails trimmed and lower-cased.
--
\i test/fixtures/regress_setup.sql
\pset null '(null)'

-- no region: the one-argument key, in activepipe.default_region (AU)
SELECT v.phone, v.region,
	CASE WHEN v.region IS NULL THEN activepipe_phone_key(v.phone)
	     ELSE activepipe_phone_key(v.phone, v.region) END AS key
FROM (VALUES
	-- one AU mobile, every spelling
	(1, '0412 345 678', NULL),
	(2, '+61 412 345 678', NULL),
	(3, '61412345678', NULL),
	(4, '0011 61 412 345 678', NULL),
	(5, '412345678', NULL),
	(6, '+61 (0)412 345 678', NULL),
	-- AU landlines
	(7, '(02) 9876 5432', NULL),
	(8, '+61 3 9123 4567', NULL),
	(9, '9876 5432', NULL),
	-- NZ
	(10, '021 123 4567', 'NZ'),
	(11, '+64 21 123 4567', NULL),
	(12, '09 123 4567', 'NZ'),
	-- foreign numbers written with +
	(13, '+44 20 7946 0958', NULL),
	(14, '+1 (415) 555-0100', NULL),
	(15, '+49 30 1234567', NULL),
	-- garbage and empty
	(16, 'call me', NULL),
	(17, '12345', NULL),
	(18, '', NULL),
	(19, NULL, NULL)
) AS v(n, phone, region)
ORDER BY v.n;

SELECT activepipe_phone_key('0412 345 678', 'XX');

-- the region form depends on its arguments only: a match index can hold it
-- (IMMUTABLE); the one-argument form reads a setting (STABLE)
SELECT p.oid::regprocedure AS function, p.provolatile AS volatility,
	p.proisstrict AS strict, p.proparallel AS parallel
FROM pg_proc p
WHERE p.proname IN ('activepipe_phone_key', 'activepipe_email_key')
ORDER BY p.oid::regprocedure::text COLLATE "C";
SET activepipe.default_region = 'NZ';
SELECT activepipe_phone_key('021 123 4567') AS nz_default,
	activepipe_phone_key('021 123 4567', 'AU') AS au_explicit;
RESET activepipe.default_region;

SELECT e AS email, activepipe_email_key(e) AS key
FROM unnest(ARRAY['  Ann.Lee@Example.COM ', 'ann.lee@example.com', '', NULL]) WITH ORDINALITY u(e, n)
ORDER BY n;

DROP EXTENSION activepipe;
