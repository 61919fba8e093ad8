#!/usr/bin/env bash
# The Debian package: `make deb` builds postgresql-NN-activepipe_<ver>_<arch>.deb
# into dist/, and the package holds the module, the control file and every
# migration script.  Prints TAP.  Opt-in (about 10 s, installs the packaging
# tool chain on first use): runs only with AP_TEST_DEB=1.
set -uo pipefail
cd "$(dirname "$0")/../.."

if [ "${AP_TEST_DEB:-}" != "1" ]; then
	echo "ok 1 # SKIP AP_TEST_DEB not set"
	echo "1..1"
	exit 0
fi

. test/scripts/lib/tap.sh

ver=$(sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" activepipe.control)
debver=$(sed -n '1s/^[^ ]* (\([0-9]*:\)\{0,1\}\([^)]*\)).*/\2/p' debian/changelog)
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

start=$(date +%s)
make -s deb >"$log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
ok $rc "make deb succeeds (${secs}s)" "$(tail -n 30 "$log")"

debs=$(ls dist/postgresql-*-activepipe_"${debver}"_"${arch}".deb 2>/dev/null)
[ -n "$debs" ]
ok $? "dist/ holds postgresql-NN-activepipe_${debver}_${arch}.deb" "$(ls dist 2>&1)"

for deb in $debs; do
	pgv=$(basename "$deb" | sed 's/^postgresql-\([0-9]*\)-.*/\1/')
	contents=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|')
	has() { grep -qxF -- "$1" <<<"$contents"; }

	has "/usr/lib/postgresql/$pgv/lib/activepipe.so"
	ok $? "$(basename "$deb") installs lib/activepipe.so"
	has "/usr/share/postgresql/$pgv/extension/activepipe.control"
	ok $? "$(basename "$deb") installs extension/activepipe.control"
	for f in migrations/activepipe--*.sql; do
		has "/usr/share/postgresql/$pgv/extension/$(basename "$f")"
		ok $? "$(basename "$deb") installs extension/$(basename "$f")"
	done

	# the packaged control file is this tree's, so the package is version $ver
	pkgver=$(dpkg-deb --fsys-tarfile "$deb" \
		| tar -xOf - "./usr/share/postgresql/$pgv/extension/activepipe.control" \
		| sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p")
	[ "$pkgver" = "$ver" ]
	ok $? "packaged activepipe.control has default_version $ver" "packaged: $pkgver"

	# Debian metadata: package name, version and the server it needs
	[ "$(dpkg-deb -f "$deb" Package)" = "postgresql-$pgv-activepipe" ] \
		&& [ "$(dpkg-deb -f "$deb" Version)" = "$debver" ]
	ok $? "package is postgresql-$pgv-activepipe $debver"
	dpkg-deb -f "$deb" Depends | grep -q "postgresql-$pgv"
	ok $? "package depends on postgresql-$pgv" "Depends: $(dpkg-deb -f "$deb" Depends)"
	dpkg-deb -f "$deb" Depends | grep -q "libcsv"
	ok $? "package depends on libcsv (shlibs)" "Depends: $(dpkg-deb -f "$deb" Depends)"
done

done_testing
