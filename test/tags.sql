-- Tag lists at scale: a cell of 40,000 distinct tags, each also written
-- twice more in other cases (120,000 tags), through the card and through
-- an import preview, plan and commit.  The tag splitter used to compare
-- each tag with every earlier one (6.7 s in card_save for 40,000 tags);
-- these check the result it gives, test/unit/test_normalize.c checks
-- that it is not quadratic.
BEGIN;
SELECT plan(9);

INSERT INTO public.users (id) VALUES (7401);
INSERT INTO public.contacts (id, user_id, first_name, email) VALUES
	(740101, 7401, 'Ann', 'ann@tags.example'),
	(740102, 7401, 'Bob', 'bob@tags.example'),
	(740103, 7401, 'Cat', 'cat@tags.example');

CREATE TEMP TABLE big AS SELECT
	jsonb_agg('Tag' || i ORDER BY i) AS kept,
	string_agg(format('Tag%s; tag%s ;TAG%s', i, i, i), ';' ORDER BY i) AS cell,
	jsonb_agg(format(' tAG%s', i) ORDER BY i) || jsonb_agg('Tag' || i ORDER BY i) AS arr
	FROM generate_series(1, 40000) i;

-- the card: a semicolon string, and a JSON array
CREATE TEMP TABLE saved AS SELECT public.activepipe_card_save(7401, 740101,
	jsonb_build_object('tags', (SELECT cell FROM big))) AS card;
SELECT is((SELECT jsonb_array_length(card->'fields'->'tags') FROM saved), 40000,
	'card_save: 120,000 tags in one string keep 40,000');
SELECT is((SELECT card->'fields'->'tags' FROM saved), (SELECT kept FROM big),
	'card_save: first spelling and order kept');
SELECT is(public.activepipe_card_save(7401, 740103,
		jsonb_build_object('tags', (SELECT arr FROM big)))->'fields'->'tags',
	(SELECT jsonb_agg(format('tAG%s', i) ORDER BY i) FROM generate_series(1, 40000) i),
	'card_save: a JSON array of 80,000 tags keeps the first 40,000 spellings, trimmed');

-- import: Ann already holds exactly these tags, Bob has no profile
CREATE TEMP TABLE upload AS SELECT
	format(E'email,tags\nann@tags.example,"%s"\nbob@tags.example,"%s"\n', cell, cell) AS csv
	FROM big;
CREATE TEMP TABLE preview AS
	SELECT public.activepipe_import_preview(7401, (SELECT csv FROM upload)) AS s;
SELECT is((SELECT jsonb_build_array(s->'total_rows', s->'matched', s->'updated', s->'unchanged') FROM preview),
	'[2, 2, 1, 1]'::jsonb, 'preview: the same 40,000 tags are unchanged, new ones an update');
SELECT is((SELECT array_agg(action ORDER BY line)
		FROM public.activepipe_import_plan(7401, (SELECT csv FROM upload))),
	ARRAY['unchanged', 'update'], 'plan: the same answers row by row');
SELECT is(public.activepipe_import_commit(7401, (SELECT csv FROM upload))->'updated',
	'1'::jsonb, 'commit: one update');
SELECT is((SELECT payload_json->'tags' FROM public.contact_integrations
		WHERE contact_id = 740102 AND integration_key = 'activepipe'),
	(SELECT kept FROM big), 'commit: Bob holds the 40,000 tags, first spelling and order kept');
SELECT is((SELECT payload_json->'tags' FROM public.contact_integrations
		WHERE contact_id = 740101 AND integration_key = 'activepipe'),
	(SELECT kept FROM big), 'commit: Ann''s tags as they were');

-- export joins them again: 40,000 tags and 39,999 separators
SELECT is((SELECT length(tags) - length(replace(tags, ';', ''))
		FROM public.activepipe_export_rows(7401, ARRAY[740102]::bigint[])),
	39999, 'export: the 40,000 tags joined with ";"');

SELECT * FROM finish();
ROLLBACK;
