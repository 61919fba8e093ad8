-- A catalog dump of everything the activepipe extension owns, one sorted
-- line (or multi-line item) per fact, free of OIDs, so two databases can
-- be compared with diff (test/scripts/upgrade.sh).
WITH ext AS (
	SELECT oid AS ext_oid, extversion, extnamespace, extrelocatable, extconfig, extcondition
	FROM pg_extension WHERE extname = 'activepipe'
), members AS (
	SELECT d.classid, d.objid FROM pg_depend d, ext
	WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.ext_oid AND d.deptype = 'e'
), rels AS (
	SELECT c.* FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
), procs AS (
	SELECT p.* FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
)
SELECT item FROM (
	SELECT format('extension version=%s schema=%s relocatable=%s',
		extversion, extnamespace::regnamespace, extrelocatable) AS item FROM ext
	UNION ALL
	SELECT format('extconfig %s condition=%L', c.oid::regclass, w.cond)
	FROM ext, unnest(ext.extconfig) WITH ORDINALITY c(oid, n)
	JOIN unnest(ext.extcondition) WITH ORDINALITY w(cond, m) ON m = n
	UNION ALL
	SELECT 'member ' || pg_describe_object(classid, objid, 0) FROM members
	UNION ALL
	SELECT format('relation %s kind=%s persistence=%s options=%s acl=%s comment=%L',
		r.oid::regclass, r.relkind, r.relpersistence, r.reloptions, r.relacl,
		obj_description(r.oid, 'pg_class'))
	FROM rels r
	UNION ALL
	SELECT format('column %s #%s %s %s notnull=%s default=%s identity=%L generated=%L collation=%s',
		r.oid::regclass,
		row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum),
		a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
		pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated, a.attcollation::regcollation)
	FROM rels r
	JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
	LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	WHERE r.relkind IN ('r', 'p', 'v', 'm')
	UNION ALL
	SELECT format('index %s', pg_get_indexdef(i.indexrelid))
	FROM pg_index i JOIN rels r ON r.oid = i.indrelid
	UNION ALL
	SELECT format('constraint %s %s %s', con.conrelid::regclass, con.conname, pg_get_constraintdef(con.oid))
	FROM pg_constraint con JOIN rels r ON r.oid = con.conrelid
	UNION ALL
	SELECT format('trigger %s', pg_get_triggerdef(t.oid))
	FROM pg_trigger t JOIN rels r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
	UNION ALL
	SELECT format('sequence %s type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s owned_by=%s',
		s.seqrelid::regclass, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
		s.seqcache, s.seqcycle,
		(SELECT d.refobjid::regclass || '.' || a.attname FROM pg_depend d
			JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
			WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
			  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
	FROM pg_sequence s JOIN rels r ON r.oid = s.seqrelid
	UNION ALL
	SELECT format('function acl %s %s comment=%L', p.oid::regprocedure, p.proacl, obj_description(p.oid, 'pg_proc'))
	FROM procs p
	UNION ALL
	SELECT 'function ' || pg_get_functiondef(p.oid)
	FROM procs p WHERE p.prokind IN ('f', 'p', 'w')
) x
ORDER BY item COLLATE "C";
