-- Mixed load: an agent uploads a small ActivePipe file (20 rows) and the
-- application previews it (writes nothing).  Each tenant has its own file,
-- drawn from its contacts by bench/gen_csv.py, in bench.files as mix20_<uid>.
\set uid random(1, :tenants)
SELECT public.activepipe_import_preview(:uid, f.body)
FROM bench.files f WHERE f.name = 'mix20_' || :uid;
