#!/usr/bin/env bash
# make test, make demo and CI must run on a fresh minimal Debian
# (debootstrap --variant=minbase, plus build-essential, git, python3 and
# PostgreSQL; scripts/deps.sh installs the rest).  Two checks, TAP, no
# server needed:
#
#  1. every command test/scripts/lib/tools.sh lists (the ones the suite
#     runs) is on PATH, with the package to install when one is not;
#  2. no script that make test, make demo, make bench, make deb, make fuzz
#     or .ci/run reach calls a command a minimal Debian lacks (xxd, bc,
#     ps, curl, ...): one check per such command, naming file and line.
#     The scan is textual: a command at the start of a line or after
#     | ; & ( $( $(shell ` then do else if while ... in shell and make,
#     outside here-documents and comments, and a subprocess argv in
#     Python.  Use coreutils (od, stat, timeout), awk, shell arithmetic or
#     python3 instead.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/scripts/lib/tap.sh
. test/scripts/lib/tools.sh

missing=$(missing_tools)
ok "$([ -z "$missing" ]; echo $?)" "every command the tests run is installed ($(grep -c . <<<"$AP_TOOLS") listed in test/scripts/lib/tools.sh)" "missing: $missing"

AP_ABSENT=$AP_ABSENT T_RUN=$T_RUN python3 - <<'PY'
import os, re, sys

absent = [l.split() for l in os.environ["AP_ABSENT"].splitlines() if l.strip()]

# What make test, make demo, make bench, make deb, make fuzz and CI run.
# test/scripts/lib/tools.sh is left out: it lists these names as data.
files = [".ci/run", "Makefile", "debian/rules", "test/run.sh",
         "test/fixtures/hostile/generate.sh"]
for d, exts in (("test/scripts", (".sh", ".bash")), ("test/scripts/lib", (".sh",)),
                ("scripts", (".sh",)), ("bench", (".sh", ".py")), ("mk", (".mk",)),
                ("test/citus", (".sh",)),
                ("debian/tests", ("",))):
    if os.path.isdir(d):
        files += sorted(os.path.join(d, f) for f in os.listdir(d)
                        if os.path.isfile(os.path.join(d, f)) and f.endswith(exts)
                        and os.path.join(d, f) != "test/scripts/lib/tools.sh")

# A command word is preceded by the start of the line (or a make recipe's
# @ / -), a separator, a substitution, or a keyword/wrapper that runs its
# argument.
pre = (r"(?:^[\t ]*[@-]*|[;&|({`!]|\$\((?:shell\s)?|"
       r"(?:^|\s)(?:then|do|else|elif|if|while|until|exec|env|nohup|time|xargs(?:\s+-\S+)*|"
       r"timeout(?:\s+-\S+(?:\s+\d+)?)*\s+\d+\w?|\$SUDO|\$\{SUDO\})\s)[\t ]*")
heredoc = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")

uses = {name: [] for name, _ in absent}
for path in files:
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        continue
    is_py = path.endswith(".py")
    end = None                      # the delimiter of the here-document we are in
    for no, line in enumerate(lines, 1):
        if end is not None:
            if line.strip("\t") == end:
                end = None
            continue
        if is_py:
            code = line.split("#", 1)[0]
            for name, _ in absent:
                if re.search(r"""(?:\[\s*|os\.system\(\s*|os\.popen\(\s*)["']%s\b"""
                             % re.escape(name), code):
                    uses[name].append("%s:%d: %s" % (path, no, line.strip()))
            continue
        m = heredoc.search(line)
        code = re.sub(r"(^|\s)#.*", "", line)
        for name, _ in absent:
            if re.search(pre + re.escape(name) + r"(?=$|[\s;&|)`])", code):
                uses[name].append("%s:%d: %s" % (path, no, line.strip()))
        if m:
            end = m.group(2)

n = int(os.environ.get("T_RUN", "0"))
failed = 0
for name, pkg in absent:
    n += 1
    if uses[name]:
        failed += 1
        print("not ok %d - no script calls %s (not on a minimal Debian: package %s)" % (n, name, pkg))
        for u in uses[name][:10]:
            print("#   " + u)
    else:
        print("ok %d - no script calls %s (not on a minimal Debian: package %s)" % (n, name, pkg))
print("1..%d" % n)
sys.exit(1 if failed else 0)
PY
py_rc=$?
[ -z "$missing" ] && exit $py_rc
exit 1
