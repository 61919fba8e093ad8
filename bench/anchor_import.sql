-- bench/anchor_import.sql: the hand-written, set-based SQL import that
-- activepipe_import_commit is measured against (benchmark issue, item 3).
--
-- What a DBA would write without the extension, as fast as plain SQL
-- reasonably gets: COPY the file into a staging table, normalise the match
-- keys once, match with hash joins in the extension's order (email, then
-- mobile, then phone; the lowest id on an ambiguous key), fill blank
-- identity fields, insert new people once per key, upsert the ActivePipe
-- payload, log one event.  Every step is one statement over all rows.
--
--   BEGIN;
--   \set user_id 1
--   \set csv '/path/to/file.csv'      -- readable by the server (COPY FROM file)
--   \i bench/anchor_import.sql
--   COMMIT;                           -- the benchmark rolls back instead
--
-- Simplifications against the extension (each makes the anchor cheaper, not
-- dearer): only Australian number formats; rows of new people are grouped by
-- their first key only (email, else mobile, else phone); for a contact hit
-- by several rows the first row fills blanks and the last row's integration
-- values win; bad numbers are stored as text without a report; there is no
-- per-row report beyond the counts in the event.
\set ON_ERROR_STOP 1

-- The tenant's phone numbers and the file's, as one canonical key:
-- +61 and the national number.  The argument is the number's digits only
-- (callers strip the rest with one regexp_replace), so this inlines into a
-- plain CASE.
CREATE FUNCTION pg_temp.au_phone_key(d text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE
		WHEN d IS NULL OR d = '' THEN NULL
		WHEN left(d, 4) = '0011' THEN '+' || substr(d, 5)          -- 0011 61 4xx ...
		WHEN length(d) = 10 AND left(d, 1) = '0' THEN '+61' || substr(d, 2)   -- 04xx / (02) ...
		WHEN length(d) = 11 AND left(d, 2) = '61' THEN '+' || d     -- +61 4xx ...
		WHEN length(d) = 9 THEN '+61' || d                          -- 4xx xxx xxx
	END
$$;

-- 1. Staging: the file as it is, plus its line order.
CREATE TEMP TABLE ap_staging (
	line bigint GENERATED ALWAYS AS IDENTITY,
	firstname text, lastname text, email text, phone text, mobile text,
	streetaddress text, city text, state text, postcode text, country text,
	status text, sms_status text, subscribed_at text, unsubscribed_at text,
	unsubscribed_reason text, source text, modified_at text,
	latest_interaction text, buyertype text, locations text,
	propertytype text, category text, minbeds text, maxbeds text,
	minbaths text, maxbaths text, minprice text, maxprice text,
	minparking text, maxparking text, minlandsize text, maxlandsize text,
	minbuildingsize text, maxbuildingsize text, listingtype text, tags text
);
COPY ap_staging (firstname, lastname, email, phone, mobile, streetaddress, city,
	state, postcode, country, status, sms_status, subscribed_at, unsubscribed_at,
	unsubscribed_reason, source, modified_at, latest_interaction, buyertype,
	locations, propertytype, category, minbeds, maxbeds, minbaths, maxbaths,
	minprice, maxprice, minparking, maxparking, minlandsize, maxlandsize,
	minbuildingsize, maxbuildingsize, listingtype, tags)
FROM :'csv' (FORMAT csv, HEADER true);

-- 2. The tenant's contacts with their keys (one scan of the tenant),
--    and the two key indexes: email, and phone/mobile together.
CREATE TEMP TABLE ap_tenant AS
SELECT id, ek, pg_temp.au_phone_key(md) AS mk, pg_temp.au_phone_key(pd) AS pk,
	fn_cmp, ln_cmp
FROM (
	SELECT id,
		lower(nullif(trim(email), '')) AS ek,
		regexp_replace(mobile, '[^0-9]', '', 'g') AS md,
		regexp_replace(phone, '[^0-9]', '', 'g') AS pd,
		lower(regexp_replace(trim(first_name), '\s+', ' ', 'g')) AS fn_cmp,
		lower(regexp_replace(trim(last_name), '\s+', ' ', 'g')) AS ln_cmp
	FROM public.contacts
	WHERE user_id = :user_id
	OFFSET 0	-- a fence: strip each number once, not once per use in the CASE
) c;

CREATE TEMP TABLE ap_email_ix AS
SELECT ek, min(id) AS id, count(*) AS n
FROM ap_tenant WHERE ek IS NOT NULL GROUP BY ek;

CREATE TEMP TABLE ap_phone_ix AS
SELECT k, min(id) AS id, count(DISTINCT id) AS n
FROM (SELECT id, mk AS k FROM ap_tenant UNION ALL SELECT id, pk FROM ap_tenant) p
WHERE k IS NOT NULL GROUP BY k;

-- Fresh temp tables have no statistics: without them the planner guesses
-- badly (and may JIT-compile for seconds), so analyze them as a DBA would.
ANALYZE ap_staging (line), ap_tenant, ap_email_ix, ap_phone_ix;

-- 3. Every file row, trimmed, with its keys, its match and whether it
--    conflicts (names, or the email when matched by phone, differ).
CREATE TEMP TABLE ap_rows AS
SELECT r.line, r.firstname, r.lastname, r.email, r.phone, r.mobile, r.streetaddress,
	r.city, r.state, r.postcode, r.country, r.ek,
	pg_temp.au_phone_key(r.md) AS mk, pg_temp.au_phone_key(r.pd) AS pk,
	COALESCE(e.id, m.id, p.id) AS contact_id,
	CASE WHEN e.id IS NOT NULL THEN 'email' WHEN m.id IS NOT NULL THEN 'mobile'
		WHEN p.id IS NOT NULL THEN 'phone' END AS matched_by,
	COALESCE(e.n, m.n, p.n, 0) > 1 AS ambiguous,
	COALESCE(r.ek, pg_temp.au_phone_key(r.md), pg_temp.au_phone_key(r.pd)) AS person_key
FROM (
	SELECT s.line,
		nullif(trim(s.firstname), '') AS firstname, nullif(trim(s.lastname), '') AS lastname,
		nullif(trim(s.email), '') AS email, nullif(trim(s.phone), '') AS phone,
		nullif(trim(s.mobile), '') AS mobile, nullif(trim(s.streetaddress), '') AS streetaddress,
		nullif(trim(s.city), '') AS city, nullif(trim(s.state), '') AS state,
		nullif(trim(s.postcode), '') AS postcode, nullif(trim(s.country), '') AS country,
		lower(nullif(trim(s.email), '')) AS ek,
		regexp_replace(s.mobile, '[^0-9]', '', 'g') AS md,
		regexp_replace(s.phone, '[^0-9]', '', 'g') AS pd
	FROM ap_staging s
	OFFSET 0	-- the same fence
) r
LEFT JOIN ap_email_ix e ON e.ek = r.ek
LEFT JOIN ap_phone_ix m ON m.k = pg_temp.au_phone_key(r.md)
LEFT JOIN ap_phone_ix p ON p.k = pg_temp.au_phone_key(r.pd);
ANALYZE ap_rows (line, contact_id, person_key);

CREATE TEMP TABLE ap_conflicts AS
SELECT r.line
FROM ap_rows r JOIN ap_tenant t ON t.id = r.contact_id
WHERE r.ambiguous
	OR lower(regexp_replace(r.firstname, '\s+', ' ', 'g')) <> t.fn_cmp
	OR lower(regexp_replace(r.lastname, '\s+', ' ', 'g')) <> t.ln_cmp
	OR (r.matched_by <> 'email' AND r.ek <> t.ek);

-- 4. New people: one contact per key among the unmatched rows, valued
--    from its first row; ids drawn in file order.
CREATE TEMP TABLE ap_new AS
SELECT nextval(pg_get_serial_sequence('public.contacts', 'id')) AS id, f.*
FROM (
	SELECT DISTINCT ON (person_key) *
	FROM ap_rows
	WHERE contact_id IS NULL AND person_key IS NOT NULL
	ORDER BY person_key, line
) f
ORDER BY f.line;

INSERT INTO public.contacts (id, user_id, first_name, last_name, email, phone, mobile,
	street_address, city, state, postcode, country)
SELECT id, :user_id, firstname, lastname, email, phone, mobile,
	streetaddress, city, state, postcode, country
FROM ap_new ORDER BY id;

-- 5. Fill blanks: matched, non-conflicting rows; the first row of each
--    contact; only contacts where some blank field gets a value.
UPDATE public.contacts c SET
	first_name = COALESCE(nullif(trim(c.first_name), ''), f.firstname, c.first_name),
	last_name = COALESCE(nullif(trim(c.last_name), ''), f.lastname, c.last_name),
	email = COALESCE(nullif(trim(c.email), ''), f.email, c.email),
	phone = COALESCE(nullif(trim(c.phone), ''), f.phone, c.phone),
	mobile = COALESCE(nullif(trim(c.mobile), ''), f.mobile, c.mobile),
	street_address = COALESCE(nullif(trim(c.street_address), ''), f.streetaddress, c.street_address),
	city = COALESCE(nullif(trim(c.city), ''), f.city, c.city),
	state = COALESCE(nullif(trim(c.state), ''), f.state, c.state),
	postcode = COALESCE(nullif(trim(c.postcode), ''), f.postcode, c.postcode),
	country = COALESCE(nullif(trim(c.country), ''), f.country, c.country),
	updated_at = now()
FROM (
	SELECT DISTINCT ON (contact_id) *
	FROM ap_rows r
	WHERE contact_id IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM ap_conflicts k WHERE k.line = r.line)
	ORDER BY contact_id, line
) f
WHERE c.user_id = :user_id AND c.id = f.contact_id
	AND ((nullif(trim(c.first_name), '') IS NULL AND f.firstname IS NOT NULL)
		OR (nullif(trim(c.last_name), '') IS NULL AND f.lastname IS NOT NULL)
		OR (nullif(trim(c.email), '') IS NULL AND f.email IS NOT NULL)
		OR (nullif(trim(c.phone), '') IS NULL AND f.phone IS NOT NULL)
		OR (nullif(trim(c.mobile), '') IS NULL AND f.mobile IS NOT NULL)
		OR (nullif(trim(c.street_address), '') IS NULL AND f.streetaddress IS NOT NULL)
		OR (nullif(trim(c.city), '') IS NULL AND f.city IS NOT NULL)
		OR (nullif(trim(c.state), '') IS NULL AND f.state IS NOT NULL)
		OR (nullif(trim(c.postcode), '') IS NULL AND f.postcode IS NOT NULL)
		OR (nullif(trim(c.country), '') IS NULL AND f.country IS NOT NULL));

-- 6. Payload upsert: every stored row (matched, conflicting or new), the
--    last row of each contact winning.  The file's columns replace their
--    keys (a blank cell clears it); other keys of the payload stay.
--    Ranges become JSON numbers when they are numbers, tags an array.
INSERT INTO public.contact_integrations AS ci
	(user_id, contact_id, integration_key, payload_json, last_imported_at)
SELECT :user_id, l.contact_id, 'activepipe',
	jsonb_strip_nulls(jsonb_build_object(
		'status', nullif(trim(s.status), ''),
		'sms_status', nullif(trim(s.sms_status), ''),
		'subscribed_at', nullif(trim(s.subscribed_at), ''),
		'unsubscribed_at', nullif(trim(s.unsubscribed_at), ''),
		'unsubscribed_reason', nullif(trim(s.unsubscribed_reason), ''),
		'source', nullif(trim(s.source), ''),
		'modified_at', nullif(trim(s.modified_at), ''),
		'latest_interaction', nullif(trim(s.latest_interaction), ''),
		'buyertype', nullif(trim(s.buyertype), ''),
		'locations', nullif(trim(s.locations), ''),
		'propertytype', nullif(trim(s.propertytype), ''),
		'category', nullif(trim(s.category), ''),
		'minbeds', CASE WHEN s.minbeds ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(s.minbeds::numeric) ELSE to_jsonb(nullif(trim(s.minbeds), '')) END,
		'maxbeds', CASE WHEN s.maxbeds ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(s.maxbeds::numeric) ELSE to_jsonb(nullif(trim(s.maxbeds), '')) END,
		'minbaths', CASE WHEN s.minbaths ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(s.minbaths::numeric) ELSE to_jsonb(nullif(trim(s.minbaths), '')) END,
		'maxbaths', CASE WHEN s.maxbaths ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(s.maxbaths::numeric) ELSE to_jsonb(nullif(trim(s.maxbaths), '')) END,
		'minprice', CASE WHEN s.minprice ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(s.minprice::numeric) ELSE to_jsonb(nullif(trim(s.minprice), '')) END,
		'maxprice', CASE WHEN s.maxprice ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(s.maxprice::numeric) ELSE to_jsonb(nullif(trim(s.maxprice), '')) END,
		'minparking', CASE WHEN s.minparking ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(s.minparking::numeric) ELSE to_jsonb(nullif(trim(s.minparking), '')) END,
		'maxparking', CASE WHEN s.maxparking ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(s.maxparking::numeric) ELSE to_jsonb(nullif(trim(s.maxparking), '')) END,
		'minlandsize', CASE WHEN s.minlandsize ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(s.minlandsize::numeric) ELSE to_jsonb(nullif(trim(s.minlandsize), '')) END,
		'maxlandsize', CASE WHEN s.maxlandsize ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(s.maxlandsize::numeric) ELSE to_jsonb(nullif(trim(s.maxlandsize), '')) END,
		'minbuildingsize', CASE WHEN s.minbuildingsize ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(s.minbuildingsize::numeric) ELSE to_jsonb(nullif(trim(s.minbuildingsize), '')) END,
		'maxbuildingsize', CASE WHEN s.maxbuildingsize ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(s.maxbuildingsize::numeric) ELSE to_jsonb(nullif(trim(s.maxbuildingsize), '')) END,
		'listingtype', nullif(trim(s.listingtype), ''),
		'tags', to_jsonb(nullif(regexp_split_to_array(trim(s.tags), '\s*;\s*'), '{""}'))
	)),
	now()
FROM (
	SELECT DISTINCT ON (contact_id) contact_id, line
	FROM (
		SELECT COALESCE(r.contact_id, n.id) AS contact_id, r.line
		FROM ap_rows r
		LEFT JOIN ap_new n ON r.contact_id IS NULL AND n.person_key = r.person_key
	) x
	WHERE contact_id IS NOT NULL
	ORDER BY contact_id, line DESC
) l
JOIN ap_staging s ON s.line = l.line
ON CONFLICT (user_id, contact_id, integration_key) DO UPDATE
SET payload_json = (ci.payload_json - ARRAY['status', 'sms_status', 'subscribed_at',
		'unsubscribed_at', 'unsubscribed_reason', 'source', 'modified_at',
		'latest_interaction', 'buyertype', 'locations', 'propertytype', 'category',
		'minbeds', 'maxbeds', 'minbaths', 'maxbaths', 'minprice', 'maxprice',
		'minparking', 'maxparking', 'minlandsize', 'maxlandsize', 'minbuildingsize',
		'maxbuildingsize', 'listingtype', 'tags'])
		|| EXCLUDED.payload_json,
	last_imported_at = EXCLUDED.last_imported_at,
	updated_at = now()
WHERE ci.user_id = :user_id;

-- 7. One event with the counts.
INSERT INTO public.integration_events (user_id, event_type, filename, total_rows,
	new_count, updated_count, conflict_count, skipped_count)
SELECT :user_id, 'import', :'csv', count(*),
	(SELECT count(*) FROM ap_new),
	count(*) FILTER (WHERE contact_id IS NOT NULL),
	(SELECT count(*) FROM ap_conflicts),
	count(*) FILTER (WHERE person_key IS NULL)
FROM ap_rows;

DROP TABLE ap_staging, ap_tenant, ap_email_ix, ap_phone_ix, ap_rows, ap_conflicts, ap_new;
DROP FUNCTION pg_temp.au_phone_key(text);
