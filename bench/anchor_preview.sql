-- bench/anchor_preview.sql: the hand-written, set-based SQL preview that
-- activepipe_import_preview is measured against (issue #14).
--
-- What a DBA would write without the extension to answer "what would this
-- file do?": COPY the file into a staging table, then one read-only
-- statement that normalises the match keys, matches every row against the
-- tenant with hash joins (email, then mobile, then phone), compares the
-- row's identity fields and integration fields with the contact and its
-- stored payload, and counts the actions.  Nothing is written but the
-- staging table (a temporary table, gone with the transaction).
--
--   BEGIN;
--   \set user_id 1
--   \set csv '/path/to/file.csv'      -- readable by the server (COPY FROM file)
--   \i bench/anchor_preview.sql       -- prints one row of counts
--   ROLLBACK;
--
-- Approximations against the extension (each makes the anchor cheaper or
-- no dearer, never slower):
--   * keys: the email key is lower(btrim(email)); a phone key is the
--     number's digits in Australian forms only (0411..., +61 411...,
--     0011 61 ...), no other region, no validation;
--   * a row matched by a key several contacts hold is a conflict, as in the
--     extension; names compare trimmed, lower-cased, inner spaces collapsed;
--   * repeated keys in the file: a new person's later rows count as
--     updates of the contact its first row creates (grouped by first key
--     only); a contact hit by several rows compares each row with the
--     stored state, not with what the earlier rows would have made of it;
--   * payload values: numbers when they look like numbers, tags split on
--     ';', everything else the trimmed text; bad numbers are not reported.
\set ON_ERROR_STOP 1

-- The canonical phone key of a number's digits (callers strip the rest
-- with one regexp_replace): +61 and the national number.  Inlined by the
-- planner into a plain CASE.
CREATE FUNCTION pg_temp.au_phone_key(d text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE
		WHEN d IS NULL OR d = '' THEN NULL
		WHEN left(d, 4) = '0011' THEN '+' || substr(d, 5)
		WHEN length(d) = 10 AND left(d, 1) = '0' THEN '+61' || substr(d, 2)
		WHEN length(d) = 11 AND left(d, 2) = '61' THEN '+' || d
		WHEN length(d) = 9 THEN '+61' || d
	END
$$;

-- 1. Staging: the file as it is, plus its line order.
CREATE TEMP TABLE ap_pv_staging (
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
COPY ap_pv_staging (firstname, lastname, email, phone, mobile, streetaddress, city,
	state, postcode, country, status, sms_status, subscribed_at, unsubscribed_at,
	unsubscribed_reason, source, modified_at, latest_interaction, buyertype,
	locations, propertytype, category, minbeds, maxbeds, minbaths, maxbaths,
	minprice, maxprice, minparking, maxparking, minlandsize, maxlandsize,
	minbuildingsize, maxbuildingsize, listingtype, tags)
FROM :'csv' (FORMAT csv, HEADER true);
-- Without statistics the planner guesses the staging table's size badly.
ANALYZE ap_pv_staging;

-- 2. One read-only statement: keys, matches, comparisons, counts.
WITH tenant AS MATERIALIZED (
	-- the tenant's contacts, read once, with their keys
	SELECT id, first_name, last_name, email, phone, mobile, street_address, city,
		state, postcode, country, ek, pg_temp.au_phone_key(md) AS mk,
		pg_temp.au_phone_key(pd) AS pk
	FROM (
		SELECT c.*, lower(nullif(btrim(c.email), '')) AS ek,
			regexp_replace(c.mobile, '[^0-9]', '', 'g') AS md,
			regexp_replace(c.phone, '[^0-9]', '', 'g') AS pd
		FROM public.contacts c
		WHERE c.user_id = :user_id
		OFFSET 0	-- a fence: strip each number once, not once per use in the CASE
	) c
),
email_ix AS (
	SELECT ek, min(id) AS id, count(*) AS n
	FROM tenant WHERE ek IS NOT NULL GROUP BY ek
),
phone_ix AS (
	-- a row's mobile or phone matches a contact's mobile or phone
	SELECT k, min(id) AS id, count(DISTINCT id) AS n
	FROM (SELECT id, mk AS k FROM tenant UNION ALL SELECT id, pk FROM tenant) p
	WHERE k IS NOT NULL GROUP BY k
),
f AS MATERIALIZED (
	-- the file's rows with their keys (numbers stripped once, behind the
	-- fence), and which of a new person's rows comes first
	SELECT s.*, pg_temp.au_phone_key(s.md) AS mk, pg_temp.au_phone_key(s.pd) AS pk,
		row_number() OVER (PARTITION BY COALESCE(s.ek, pg_temp.au_phone_key(s.md),
			pg_temp.au_phone_key(s.pd)) ORDER BY s.line) AS nth
	FROM (
		SELECT s.*, lower(nullif(btrim(s.email), '')) AS ek,
			regexp_replace(s.mobile, '[^0-9]', '', 'g') AS md,
			regexp_replace(s.phone, '[^0-9]', '', 'g') AS pd
		FROM ap_pv_staging s
		OFFSET 0
	) s
),
m AS (
	SELECT f.*, COALESCE(e.id, mm.id, p.id) AS contact_id,
		CASE WHEN e.id IS NOT NULL THEN 'email' WHEN mm.id IS NOT NULL THEN 'mobile'
			WHEN p.id IS NOT NULL THEN 'phone' END AS matched_by,
		COALESCE(e.n, mm.n, p.n, 0) > 1 AS ambiguous,
		COALESCE(f.ek, f.mk, f.pk) AS person_key
	FROM f
	LEFT JOIN email_ix e ON e.ek = f.ek
	LEFT JOIN phone_ix mm ON mm.k = f.mk
	LEFT JOIN phone_ix p ON p.k = f.pk
),
rows AS (
	SELECT m.line, m.contact_id, m.person_key, m.nth,
		-- conflict: ambiguous key, or names (or the email, when matched by
		-- a number) differ where both sides have one
		m.contact_id IS NOT NULL AND (m.ambiguous
			OR lower(regexp_replace(btrim(m.firstname), '\s+', ' ', 'g'))
				<> lower(regexp_replace(btrim(t.first_name), '\s+', ' ', 'g'))
			OR lower(regexp_replace(btrim(m.lastname), '\s+', ' ', 'g'))
				<> lower(regexp_replace(btrim(t.last_name), '\s+', ' ', 'g'))
			OR (m.matched_by <> 'email' AND m.ek <> t.ek)) AS conflict,
		-- blanks the row would fill
		(nullif(btrim(t.first_name), '') IS NULL AND nullif(btrim(m.firstname), '') IS NOT NULL)
			OR (nullif(btrim(t.last_name), '') IS NULL AND nullif(btrim(m.lastname), '') IS NOT NULL)
			OR (nullif(btrim(t.email), '') IS NULL AND nullif(btrim(m.email), '') IS NOT NULL)
			OR (nullif(btrim(t.phone), '') IS NULL AND nullif(btrim(m.phone), '') IS NOT NULL)
			OR (nullif(btrim(t.mobile), '') IS NULL AND nullif(btrim(m.mobile), '') IS NOT NULL)
			OR (nullif(btrim(t.street_address), '') IS NULL AND nullif(btrim(m.streetaddress), '') IS NOT NULL)
			OR (nullif(btrim(t.city), '') IS NULL AND nullif(btrim(m.city), '') IS NOT NULL)
			OR (nullif(btrim(t.state), '') IS NULL AND nullif(btrim(m.state), '') IS NOT NULL)
			OR (nullif(btrim(t.postcode), '') IS NULL AND nullif(btrim(m.postcode), '') IS NOT NULL)
			OR (nullif(btrim(t.country), '') IS NULL AND nullif(btrim(m.country), '') IS NOT NULL)
			AS fills,
		-- the stored payload with the file's columns replaced (a blank cell
		-- clears its key), compared with the payload as stored
		(COALESCE(ci.payload_json, '{}') - ARRAY['status', 'sms_status', 'subscribed_at',
			'unsubscribed_at', 'unsubscribed_reason', 'source', 'modified_at',
			'latest_interaction', 'buyertype', 'locations', 'propertytype', 'category',
			'minbeds', 'maxbeds', 'minbaths', 'maxbaths', 'minprice', 'maxprice',
			'minparking', 'maxparking', 'minlandsize', 'maxlandsize', 'minbuildingsize',
			'maxbuildingsize', 'listingtype', 'tags'])
		|| jsonb_strip_nulls(jsonb_build_object(
			'status', nullif(btrim(m.status), ''),
			'sms_status', nullif(btrim(m.sms_status), ''),
			'subscribed_at', nullif(btrim(m.subscribed_at), ''),
			'unsubscribed_at', nullif(btrim(m.unsubscribed_at), ''),
			'unsubscribed_reason', nullif(btrim(m.unsubscribed_reason), ''),
			'source', nullif(btrim(m.source), ''),
			'modified_at', nullif(btrim(m.modified_at), ''),
			'latest_interaction', nullif(btrim(m.latest_interaction), ''),
			'buyertype', nullif(btrim(m.buyertype), ''),
			'locations', nullif(btrim(m.locations), ''),
			'propertytype', nullif(btrim(m.propertytype), ''),
			'category', nullif(btrim(m.category), ''),
			'minbeds', CASE WHEN m.minbeds ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(m.minbeds::numeric) ELSE to_jsonb(nullif(btrim(m.minbeds), '')) END,
			'maxbeds', CASE WHEN m.maxbeds ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(m.maxbeds::numeric) ELSE to_jsonb(nullif(btrim(m.maxbeds), '')) END,
			'minbaths', CASE WHEN m.minbaths ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(m.minbaths::numeric) ELSE to_jsonb(nullif(btrim(m.minbaths), '')) END,
			'maxbaths', CASE WHEN m.maxbaths ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(m.maxbaths::numeric) ELSE to_jsonb(nullif(btrim(m.maxbaths), '')) END,
			'minprice', CASE WHEN m.minprice ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(m.minprice::numeric) ELSE to_jsonb(nullif(btrim(m.minprice), '')) END,
			'maxprice', CASE WHEN m.maxprice ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(m.maxprice::numeric) ELSE to_jsonb(nullif(btrim(m.maxprice), '')) END,
			'minparking', CASE WHEN m.minparking ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(m.minparking::numeric) ELSE to_jsonb(nullif(btrim(m.minparking), '')) END,
			'maxparking', CASE WHEN m.maxparking ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(m.maxparking::numeric) ELSE to_jsonb(nullif(btrim(m.maxparking), '')) END,
			'minlandsize', CASE WHEN m.minlandsize ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(m.minlandsize::numeric) ELSE to_jsonb(nullif(btrim(m.minlandsize), '')) END,
			'maxlandsize', CASE WHEN m.maxlandsize ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(m.maxlandsize::numeric) ELSE to_jsonb(nullif(btrim(m.maxlandsize), '')) END,
			'minbuildingsize', CASE WHEN m.minbuildingsize ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(m.minbuildingsize::numeric) ELSE to_jsonb(nullif(btrim(m.minbuildingsize), '')) END,
			'maxbuildingsize', CASE WHEN m.maxbuildingsize ~ '^\s*\d+(\.\d+)?\s*$' THEN to_jsonb(m.maxbuildingsize::numeric) ELSE to_jsonb(nullif(btrim(m.maxbuildingsize), '')) END,
			'listingtype', nullif(btrim(m.listingtype), ''),
			'tags', to_jsonb(nullif(regexp_split_to_array(btrim(m.tags), '\s*;\s*'), '{""}'))
		)) IS DISTINCT FROM COALESCE(ci.payload_json, '{}') AS payload_changes
	FROM m
	LEFT JOIN tenant t ON t.id = m.contact_id
	LEFT JOIN public.contact_integrations ci
		ON ci.user_id = :user_id AND ci.contact_id = m.contact_id
		AND ci.integration_key = 'activepipe'
),
actions AS MATERIALIZED (
	-- materialized: each count below would otherwise evaluate the whole
	-- classification again
	SELECT CASE
		WHEN person_key IS NULL THEN 'skip'
		WHEN contact_id IS NULL THEN CASE WHEN nth = 1 THEN 'new' ELSE 'update' END
		WHEN conflict THEN 'conflict'
		WHEN fills OR payload_changes THEN 'update'
		ELSE 'unchanged'
	END AS action
	FROM rows
)
SELECT count(*) AS total_rows,
	count(*) FILTER (WHERE action IN ('update', 'unchanged', 'conflict')) AS matched,
	count(*) FILTER (WHERE action = 'new') AS new,
	count(*) FILTER (WHERE action = 'update') AS updated,
	count(*) FILTER (WHERE action = 'unchanged') AS unchanged,
	count(*) FILTER (WHERE action = 'conflict') AS conflicts,
	count(*) FILTER (WHERE action = 'skip') AS skipped
FROM actions;

DROP TABLE ap_pv_staging;
DROP FUNCTION pg_temp.au_phone_key(text);
