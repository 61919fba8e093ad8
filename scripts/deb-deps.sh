#!/usr/bin/env bash
# Install what `make deb` needs beyond scripts/deps.sh: Debian's PostgreSQL
# extension packaging tooling and the package's Build-Depends.
set -euo pipefail
PGV=${PG_MAJOR:-$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)}
exec bash "$(dirname "$0")/deps.sh" \
	build-essential dpkg-dev fakeroot \
	debhelper \
	postgresql-common \
	postgresql-server-dev-all \
	"postgresql-server-dev-${PGV:-15}" \
	git
