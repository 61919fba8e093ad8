-- Mixed load: an agent exports about 50 of a tenant's contacts (a saved
-- search) to a CSV for ActivePipe; the whole document is sent to the client.
-- The ids are 50 consecutive contacts of the tenant from a random start.
\set uid random(1, :tenants)
\set k0 random(0, :per_tenant - 50)
SELECT public.activepipe_export(:uid,
	ARRAY(SELECT (:k0 + j) * :tenants + :uid FROM generate_series(0, 49) j),
	'mixed-load.csv');
