# Sourced by test/scripts/*.sh (directly, or through reliability_lib.bash):
# TAP output and psql helpers.
#
# The scripts run with PGHOST/PGPORT/PGUSER exported to a running cluster
# (test/run.sh starts one).  Each prints "ok N - ..." / "not ok N - ..."
# lines, then its plan, and exits non-zero when a test failed or fewer
# tests ran than planned.

PGBIN=$(pg_config --bindir)
export PGCLIENTENCODING=UTF8
T_RUN=0
T_FAILED=0
T_PLANNED=0

plan() { T_PLANNED=$1; }

# diag LINE...: TAP comments; empty lines are dropped
diag() { printf '%s\n' "$@" | sed -e '/^$/d' -e 's/^/# /'; }

# ok STATUS DESCRIPTION [DIAGNOSTIC]: passes when STATUS is 0; the
# diagnostic is printed when it fails
ok() {
	T_RUN=$((T_RUN + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_RUN - $2"
	else
		echo "not ok $T_RUN - $2"
		T_FAILED=$((T_FAILED + 1))
		[ -n "${3:-}" ] && diag "$3"
	fi
	return 0
}

# is GOT WANT DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "     got: '$(printf '%s' "$1" | head -c 400)'" \
			"expected: '$(printf '%s' "$2" | head -c 400)'"
	fi
}

# isnt GOT UNWANTED DESCRIPTION
isnt() {
	if [ "$1" != "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "got the unwanted value '$1'"
	fi
}

# like GOT REGEX DESCRIPTION (extended regular expression)
like() {
	# a here-string, not a pipe: with pipefail, grep -q leaving early can
	# kill printf (SIGPIPE, bash writes a line at a time) and fail a match
	if grep -Eq -- "$2" <<<"$1"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "     got: '$1'" "expected to match: $2"
	fi
}

# q DB SQL...: one value (or rows, unaligned), errors to stderr
q() {
	local db=$1
	shift
	"$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$db" -c "$*"
}

# run DB SQL-on-stdin: a script with ON_ERROR_STOP, quiet on success
run() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$1" >/dev/null; }

# sqlerr DB SQL: "SQLSTATE: message" of the error SQL raises, or "no error"
sqlerr() {
	local out
	out=$("$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d "$1" \
		-c '\set VERBOSITY verbose' -c "$2" 2>&1 >/dev/null)
	if [ -z "$out" ]; then
		echo "no error"
	else
		printf '%s\n' "$out" | sed -n 's/^.*ERROR: *//p' | head -1
	fi
}

newdb() { "$PGBIN/createdb" "$1"; }
dropdb_quiet() { "$PGBIN/dropdb" --if-exists "$1" >/dev/null 2>&1 || true; }

done_testing() {
	if [ "$T_PLANNED" -gt 0 ] && [ "$T_RUN" -ne "$T_PLANNED" ]; then
		ok 1 "planned $T_PLANNED tests but ran $T_RUN"
	fi
	echo "1..$T_RUN"
	[ "$T_FAILED" -eq 0 ]
}
