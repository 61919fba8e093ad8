# Sourced by test/run.sh and test/scripts/tools.sh: the commands the test
# suite runs, each with the Debian package that provides it.
#
# A command that is missing does not fail on its own: its empty output
# fails whatever checks consume it (hostile.sh once hex-encoded every
# fixture with xxd, absent from a minimal Debian, and 77 unrelated checks
# failed).  So test/run.sh checks this list before anything else and stops
# with one failure naming what is missing.
#
# Everything here is on a minimal Debian (debootstrap --variant=minbase)
# with build-essential, git and python3, or is installed by scripts/deps.sh
# (PostgreSQL, pg_prove, clang).  Tools a minimal system lacks (xxd, bc,
# ps, file, curl, ...) must not be used at all: test/scripts/tools.sh
# checks the scripts for them.  What make deb and the fuzz smoke need is
# installed by scripts/deb-deps.sh and scripts/fuzz-deps.sh when they run,
# so it is not listed.

# "command package" pairs, one per line
AP_TOOLS='
awk mawk
base64 coreutils
basename coreutils
cat coreutils
chmod coreutils
chown coreutils
cp coreutils
cut coreutils
date coreutils
dirname coreutils
head coreutils
id coreutils
ls coreutils
mkdir coreutils
mktemp coreutils
mv coreutils
nproc coreutils
od coreutils
paste coreutils
rm coreutils
seq coreutils
sleep coreutils
sort coreutils
stat coreutils
tail coreutils
timeout coreutils
tr coreutils
wc coreutils
yes coreutils
cmp diffutils
diff diffutils
xargs findutils
grep grep
sed sed
tar tar
iconv libc-bin
runuser util-linux
dpkg-query dpkg
make make
cc gcc
git git
python3 python3
perl perl-base
pg_config postgresql-common
psql postgresql-client-common
createdb postgresql-client-common
dropdb postgresql-client-common
pg_dump postgresql-client-common
pg_restore postgresql-client-common
pg_prove libtap-parser-sourcehandler-pgtap-perl
'

# Commands a minimal Debian does not have, with the package that has them:
# test/scripts/tools.sh fails when a script calls one.  sudo only ever as
# "SUDO=sudo" then "$SUDO cmd" (when not root), never as a command.
AP_ABSENT='
xxd xxd
bc bc
dc dc
curl curl
wget wget
file file
hexdump bsdextrautils
column bsdextrautils
less less
lsof lsof
ps procps
pgrep procps
pkill procps
top procps
free procps
killall psmisc
fuser psmisc
sudo sudo
jq jq
zip zip
unzip unzip
bzip2 bzip2
rsync rsync
envsubst gettext-base
netstat net-tools
ss iproute2
ip iproute2
nc netcat-openbsd
strace strace
gdb gdb
python python-is-python3
'

# missing_tools: one line "COMMAND (Debian package PACKAGE)" per command of
# AP_TOOLS that is not on PATH; nothing when all are there.
missing_tools() {
	local cmd pkg
	while read -r cmd pkg; do
		[ -n "$cmd" ] || continue
		command -v "$cmd" >/dev/null 2>&1 || echo "$cmd (Debian package $pkg)"
	done <<<"$AP_TOOLS"
}
