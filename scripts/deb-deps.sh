#!/usr/bin/env bash
# Install what `make deb` needs (Debian's PostgreSQL extension packaging
# tooling and the package's Build-Depends), and only what is missing, so it
# is cheap to call before every `make deb`.  scripts/deps.sh covers build,
# test and demo; this one adds the packaging side.
set -euo pipefail

pgmajor() {
	if [ -d /usr/lib/postgresql ]; then
		ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1
	fi
}

PGV=${PG_MAJOR:-$(pgmajor)}
[ -n "$PGV" ] || PGV=15

want=(
	build-essential
	dpkg-dev
	fakeroot
	debhelper				# dh, debhelper-compat (= 13)
	postgresql-common		# pg_buildext, pg_virtualenv
	postgresql-server-dev-all	# dh --with pgxs_loop, pg_buildext updatecontrol
	"postgresql-server-dev-$PGV"
	"postgresql-$PGV"		# the package's runtime dependency, for dpkg -i
	libcsv-dev
	clang					# PGXS bitcode (with_llvm) on Debian's PostgreSQL
	make
	git						# make deb copies the tree with git ls-files
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
		echo "deb-deps.sh: missing packages (${missing[*]}) and not root; install them" >&2
		exit 1
	}
	SUDO=sudo
fi

echo "deb-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
