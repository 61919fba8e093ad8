#!/usr/bin/env bash
# Does CI pass on a fresh minimal Debian?  A developer tool, not part of
# make test: it builds a throwaway Debian bookworm root
# (debootstrap --variant=minbase, then build-essential, git, python3 and
# postgresql-15 with apt-get), clones the repository's committed HEAD into
# it, runs `CI=true bash .ci/run` (make test with the Debian package build)
# and `make demo` in it as root, unmounts, removes the root and reports.
# A tool a test uses but a minimal system lacks shows up here and nowhere
# else.
#
#   sudo bash scripts/fresh-machine-check.sh [REPO]
#
# REPO: anything git clone takes (default: this checkout; uncommitted
# changes are not in the clone).  Needs root, debootstrap, a Debian mirror
# and about 2.5 GB under $TMPDIR (default /var/tmp); it takes 15-20
# minutes on two cores.  Exits 0 when both steps passed.
#
# Environment:
#   MIRROR      Debian mirror (http://deb.debian.org/debian)
#   FRESH_FROM  copy this directory (a root made earlier by this script or
#               by hand the same way, never run in) instead of debootstrap
#               and apt-get: saves about five minutes
#   FRESH_STEPS what to run inside: "ci demo" (default), "ci" or "demo"
#   KEEP=1      keep the root (its path is printed) instead of removing it
set -euo pipefail

MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
STEPS=${FRESH_STEPS:-ci demo}
here=$(cd "$(dirname "$0")/.." && pwd)
repo=${1:-$here}

say() { printf 'fresh-machine-check: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, mount, chroot)"
[ -n "${FRESH_FROM:-}" ] || command -v debootstrap >/dev/null ||
	die "needs debootstrap (apt-get install debootstrap), or FRESH_FROM=DIR"

tmp=${TMPDIR:-/var/tmp}
root=$(mktemp -d "$tmp/ap-fresh.XXXXXX")
chmod 755 "$root"	# it becomes /: mktemp's 0700 would lock out every other user
log=$root.log
mounted=()

# Unmount in reverse order; remove the root only when nothing is mounted
# below it any more, so rm can never reach the host's /dev or /proc.
cleanup() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" || true
	done
	mounted=()
	if [ -n "${KEEP:-}" ]; then
		say "root kept in $root"
	elif grep -q " $root/" /proc/mounts; then
		say "something is still mounted under $root: not removing it"
	else
		rm -rf --one-file-system "$root"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_root() {	# CMD...: run in the root as root, with a clean environment
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
mount_in() {	# mount ARGS... TARGET (relative to the root)
	local target=$root/${*: -1}
	mount "${@:1:$#-1}" "$target"
	mounted+=("$target")
}

# 1. The root.
if [ -n "${FRESH_FROM:-}" ]; then
	say "copying $FRESH_FROM to $root"
	cp -a "$FRESH_FROM"/. "$root"/
else
	say "debootstrap --variant=minbase bookworm into $root (log: $log)"
	debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$log" 2>&1 ||
		{ tail -20 "$log"; die "debootstrap failed"; }
fi

mount_in -t proc proc proc
mount_in -t sysfs sys sys
mount_in --bind /dev dev
mount_in --bind /dev/pts dev/pts
mount_in -t tmpfs shm dev/shm
cp /etc/resolv.conf "$root/etc/resolv.conf"

if [ -z "${FRESH_FROM:-}" ]; then
	# The point release with its updates, as an installed machine has it.
	cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY bookworm-security main
EOF
	# No service may start in the root: a postgresql-15 cluster there
	# would share the host's network and try port 5432.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	say "apt-get install build-essential git python3 postgresql-15"
	in_root bash -c 'export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq && apt-get upgrade -y -qq &&
		apt-get install -y -qq build-essential git python3 postgresql-15' >>"$log" 2>&1 ||
		{ tail -20 "$log"; die "apt-get failed"; }
fi

# 2. The repository, as committed.
say "cloning $repo"
git clone -q "$repo" "$root/tmp/p"
say "at $(git -C "$root/tmp/p" log -1 --format='%h %s')"

# 3. The steps, each logged beside the root.
status=0
report=()
for step in $STEPS; do
	case $step in
	ci) cmd='CI=true bash .ci/run' ;;
	demo) cmd='make demo' ;;
	*) die "unknown step $step (FRESH_STEPS: ci, demo)" ;;
	esac
	slog=$root.$step.log
	say "running $cmd (log: $slog)"
	start=$(date +%s)
	rc=0
	in_root bash -c "cd /tmp/p && $cmd" >"$slog" 2>&1 || rc=$?
	took=$(( $(date +%s) - start ))
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$slog" | tail -n 1 || true)
	[ $rc -eq 0 ] || status=1
	report+=("$cmd: exit $rc after ${took}s${last:+: $last}")
	if [ $rc -ne 0 ]; then
		grep -E '^not ok|^== ' "$slog" | grep -B1 '^not ok' | head -40 >&2 || true
		tail -n 15 "$slog" >&2
	fi
done

echo
printf 'fresh-machine-check: %s\n' "${report[@]}"
[ $status -eq 0 ] && echo "fresh-machine-check: PASS" || echo "fresh-machine-check: FAIL (logs: $root.*.log)"
exit $status
