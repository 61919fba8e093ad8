#!/usr/bin/env bash
# Install what building and running the libFuzzer targets in fuzz/ needs,
# and only what is missing: clang, its compiler-rt (libFuzzer and the
# sanitizer runtimes), llvm-symbolizer for readable stack traces, libcsv
# and make.  Cheap to call before every fuzz run.  scripts/deps.sh covers
# the rest of the project and is not touched by this one.
set -euo pipefail

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
fi
updated=0

install_missing() {	# package... -> installs the ones not installed yet
	local missing=() p
	for p in "$@"; do
		installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	if [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; then
		echo "fuzz-deps.sh: missing packages (${missing[*]}) and not root; install them" >&2
		exit 1
	fi
	echo "fuzz-deps.sh: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	if [ $updated -eq 0 ]; then
		$SUDO apt-get update -qq
		updated=1
	fi
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# 1. The compiler and the libraries the targets link.
install_missing clang libcsv-dev make

# 2. compiler-rt and the symbolizer of the clang major version "clang" is.
ver=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
if [ -z "$ver" ]; then
	echo "fuzz-deps.sh: cannot tell the clang version" >&2
	exit 1
fi
install_missing "libclang-rt-$ver-dev" "llvm-$ver"

# libFuzzer must be there now, wherever this clang keeps it.
if ! clang -print-file-name="libclang_rt.fuzzer-$(uname -m).a" 2>/dev/null | grep -q /; then
	echo "fuzz-deps.sh: libFuzzer runtime not found for clang $ver" >&2
	exit 1
fi
