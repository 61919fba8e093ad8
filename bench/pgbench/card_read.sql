-- Mixed load (bench/run.sh, section "mixed"): an agent opens a contact page
-- and the application reads its ActivePipe card.  A random tenant, a random
-- one of its contacts (contact i belongs to tenant 1 + (i - 1) % tenants).
\set uid random(1, :tenants)
\set cid random(0, :per_tenant - 1) * :tenants + :uid
SELECT public.activepipe_card(:uid, :cid);
