-- Mixed load: an agent edits a contact's ActivePipe card and saves it
-- (status, a price range, tags), which writes its profile.
\set uid random(1, :tenants)
\set cid random(0, :per_tenant - 1) * :tenants + :uid
\set st random(1, 3)
\set minprice random(16, 40) * 25000
\set tg random(1, 4)
SELECT public.activepipe_card_save(:uid, :cid, jsonb_build_object(
	'status', (ARRAY['subscribed', 'unsubscribed', 'cleaned'])[:st],
	'minprice', :minprice::text,
	'maxprice', (:minprice + 500000)::text,
	'tags', (ARRAY['vip; newsletter', 'newsletter', 'hot-lead', ''])[:tg]));
