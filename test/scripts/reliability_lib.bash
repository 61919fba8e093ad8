# Shared helpers of the reliability and security scripts (hostile.sh,
# faults.sh, isolation_property.sh, security.sh).  Sourced, never run:
# test/run.sh runs test/scripts/*.sh only.
#
# Needs PGHOST/PGPORT/PGUSER (a superuser) of a running throwaway cluster,
# as test/run.sh and scripts/cluster.sh set them.

. test/scripts/lib/tap.sh
# these scripts pass bytes through psql as they are: no client encoding forced
unset PGCLIENTENCODING

# new_db NAME: a fresh database holding the reference Ulysses schema, the
# extension and the reltest helper schema (state checksums).
new_db() {
	local db=$1
	dropdb --if-exists "$db" >/dev/null 2>&1
	createdb "$db" || return 1
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL' || return 1
\i test/fixtures/ulysses_schema.sql
CREATE EXTENSION activepipe;
CREATE SCHEMA reltest;
-- md5 over every column of every row, so any changed byte shows
CREATE FUNCTION reltest.contacts_md5(uid bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), ''))
	FROM public.contacts t WHERE t.user_id = uid $$;
CREATE FUNCTION reltest.integrations_md5(uid bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), ''))
	FROM public.contact_integrations t WHERE t.user_id = uid $$;
CREATE FUNCTION reltest.events_count(uid bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT count(*) FROM public.integration_events e WHERE e.user_id = uid $$;
-- one tenant: contacts, integration rows, number of events
CREATE FUNCTION reltest.tenant_state(uid bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT concat_ws(' ', reltest.contacts_md5(uid), reltest.integrations_md5(uid),
					 reltest.events_count(uid)) $$;
-- every tenant but one, each checksummed on its own
CREATE FUNCTION reltest.others_state(uid bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT md5(coalesce(string_agg(u.id || ':' || reltest.tenant_state(u.id), '|' ORDER BY u.id), ''))
	FROM public.users u WHERE u.id <> uid $$;
-- a tenant's contacts as a set of values, ids left out (compare runs)
CREATE FUNCTION reltest.values_md5(uid bigint) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT md5(coalesce(string_agg(v, '|' ORDER BY v), ''))
	FROM (SELECT concat_ws(',', c.first_name, c.last_name, c.email, c.phone, c.mobile,
						   c.street_address, c.city, c.state, c.postcode, c.country,
						   ci.payload_json::text) AS v
		  FROM public.contacts c
		  LEFT JOIN public.contact_integrations ci
			ON ci.user_id = c.user_id AND ci.contact_id = c.id
		  WHERE c.user_id = uid) s $$;
SQL
}

# crash_mark: remember where the server log ends now; crash_check then
# reads only what was logged after it.
CRASH_LOG_FROM=0
crash_mark() {
	local log=${AP_CLUSTER_DIR:-}/server.log
	CRASH_LOG_FROM=0
	[ -n "${AP_CLUSTER_DIR:-}" ] && [ -r "$log" ] && CRASH_LOG_FROM=$(wc -c <"$log")
	return 0
}

# crash_check: one TAP line saying no backend died since crash_mark
# (the cluster's server.log, when this shell can read it).
crash_check() {
	local log=${AP_CLUSTER_DIR:-}/server.log
	local pat='terminated by signal|exited with exit code|terminated by exception|PANIC'
	if [ -n "${AP_CLUSTER_DIR:-}" ] && [ -r "$log" ]; then
		if tail -c +$((CRASH_LOG_FROM + 1)) "$log" | grep -qE "$pat"; then
			ok 1 "no backend crashed (server.log)"
			tail -c +$((CRASH_LOG_FROM + 1)) "$log" | grep -E "$pat" | head -5 | while read -r l; do diag "$l"; done
		else
			ok 0 "no backend crashed (server.log)"
		fi
	else
		ok 0 "no backend crashed # SKIP server.log not readable (set AP_CLUSTER_DIR)"
	fi
}
