#!/usr/bin/env bash
# Install what building, testing and demoing activepipe needs, and only
# what is missing, so it is cheap to call before every make target.
#
#   scripts/deps.sh [PACKAGE...]   # also install these (make deb, make fuzz)
set -euo pipefail

pgmajor() {
	if command -v pg_lsclusters >/dev/null 2>&1 || [ -d /usr/lib/postgresql ]; then
		ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1
	fi
}

PGV=${PG_MAJOR:-$(pgmajor)}
[ -n "$PGV" ] || PGV=15

# The oldest server activepipe builds against is the Makefile's
# PG_MIN_MAJOR: the headers of an older one would only end in the build
# refusing them, after a long install.
min=$(sed -n 's/^PG_MIN_MAJOR[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$(dirname "$0")/../Makefile")
if [ -n "$min" ] && [ "$PGV" -lt "$min" ] 2>/dev/null; then
	echo "deps.sh: PostgreSQL $PGV is too old: activepipe needs $min or later" \
		"(install postgresql-$min or newer, or set PG_MAJOR)" >&2
	exit 1
fi

want=(
	"postgresql-$PGV"
	"postgresql-server-dev-$PGV"
	libcsv-dev
	"postgresql-$PGV-pgtap"
	libtap-parser-sourcehandler-pgtap-perl
	clang
	make
	gcc
	"$@"
)

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
		|| missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "deps.sh: missing packages (${missing[*]}) and not root; install them" >&2
		exit 1
	}
	SUDO=sudo
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
