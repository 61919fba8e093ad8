#!/usr/bin/env bash
# Release discipline: the version is single-sourced and every migration has
# its release manifest.  Prints TAP; needs no server.  Run from the
# repository root (test/run.sh does), or from anywhere: it cds there.
#
# The source of truth is default_version in activepipe.control.  The
# Makefile derives EXTVERSION from it; META.json carries it as SemVer
# (PGXN requires three parts: 1.1 is 1.1.0); debian/changelog's top entry
# carries it as the upstream part of the package version (1.1-1); the
# newest docs/releases/<v>.md and the newest CHANGELOG.md heading name it.
#
# The oldest PostgreSQL is single-sourced too: PG_MIN_MAJOR in the
# Makefile.  src/activepipe.h refuses older servers with the same number,
# META.json (prereqs), debian/pgversions and the docs claim it, the C code
# uses nothing newer, and no PG_VERSION_NUM branch for older servers is
# left in src/.
set -uo pipefail
cd "$(dirname "$0")/../.."

# EXTVERSION as the Makefile computes it (mk/packaging.mk: print-version).
# Empty when make or PGXS is unavailable; the check below then reads the
# Makefile's definition instead.
make_version=$(make -s --no-print-directory print-version 2>/dev/null | tail -n 1)
export make_version

python3 - <<'PY'
import json, os, re, sys

EXT = "activepipe"
n = 0
failed = 0


def ok(cond, name, diag=None):
    global n, failed
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, name))
    if not cond:
        failed += 1
        for line in (diag or "").splitlines():
            print("#   " + line)
    return cond


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def vkey(v):
    """Sort key for extension versions such as 1.0, 1.1, 1.10, 2.0beta1."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p)
            for p in re.findall(r"\d+|[A-Za-z]+", v)]


def semver(v):
    """An extension version as PGXN SemVer: pad dotted numbers to 3 parts."""
    m = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?(.*)", v)
    if not m:
        return v
    parts = [m.group(i) or "0" for i in (1, 2, 3)]
    return ".".join(str(int(p)) for p in parts) + m.group(4)


SEMVER_RE = (r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
             r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?")

# --- the control file: the single source ---------------------------------
control = read(EXT + ".control") or ""
m = re.search(r"^\s*default_version\s*=\s*'([^']+)'", control, re.M)
version = m.group(1) if m else None
ok(version is not None, "%s.control has a default_version (%s)" % (EXT, version))
if version is None:
    print("1..%d" % n)
    sys.exit(1)
comment = re.search(r"^\s*comment\s*=\s*'((?:[^']|'')*)'", control, re.M)
comment = comment.group(1).replace("''", "'") if comment else None

# --- Makefile -------------------------------------------------------------
make_version = os.environ.get("make_version", "")
if make_version:
    ok(make_version == version,
       "Makefile EXTVERSION (make print-version) is %s" % version,
       "make print-version says %r" % make_version)
else:
    mk = read("Makefile") or ""
    ok(re.search(r"^EXTVERSION\s*=.*default_version.*\$\(EXTENSION\)\.control", mk, re.M)
       is not None,
       "Makefile derives EXTVERSION from the control file's default_version",
       "make print-version was unavailable and no such EXTVERSION line was found")

# --- migrations: install scripts and the update graph --------------------
mig_dir = "migrations"
scripts = sorted(f for f in os.listdir(mig_dir)
                 if f.startswith(EXT + "--") and f.endswith(".sql"))
installs = {}       # version -> script
edges = {}          # (from, to) -> script
for f in scripts:
    parts = f[len(EXT) + 2:-4].split("--")
    if len(parts) == 1:
        installs[parts[0]] = f
    elif len(parts) == 2:
        edges[(parts[0], parts[1])] = f
ok(bool(installs), "migrations/ has at least one install script",
   "found: %s" % ", ".join(scripts))

reach = {}          # version -> the install script it is reached from
todo = list(installs)
for v in installs:
    reach[v] = installs[v]
while todo:
    v = todo.pop()
    for (a, b) in edges:
        if a == v and b not in reach:
            reach[b] = reach[a]
            todo.append(b)
ok(version in reach,
   "default_version %s is reachable from an install script" % version,
   "reachable: %s" % ", ".join(sorted(reach, key=vkey)))

# --- META.json --------------------------------------------------------------
meta_text = read("META.json")
meta = None
try:
    meta = json.loads(meta_text) if meta_text is not None else None
except ValueError as e:
    meta_error = str(e)
ok(isinstance(meta, dict), "META.json is valid JSON",
   "missing" if meta_text is None else "parse error")
meta = meta if isinstance(meta, dict) else {}
required = ["name", "abstract", "version", "maintainer", "license",
            "provides", "meta-spec"]
missing = [k for k in required if k not in meta]
ok(not missing, "META.json has every required PGXN field",
   "missing: %s" % ", ".join(missing))
ok(meta.get("name") == EXT, "META.json name is %s" % EXT,
   "name: %r" % meta.get("name"))
ms = meta.get("meta-spec") if isinstance(meta.get("meta-spec"), dict) else {}
ok(re.fullmatch(r"1\.0\.\d+", str(ms.get("version", ""))) is not None,
   "META.json meta-spec version is 1.0.x", "meta-spec: %r" % ms)
lic = meta.get("license")
ok(lic == "postgresql" or (isinstance(lic, dict) and "PostgreSQL" in lic),
   "META.json license is PostgreSQL", "license: %r" % lic)
mv = str(meta.get("version", ""))
ok(re.fullmatch(SEMVER_RE, mv) is not None,
   "META.json version %s is SemVer, as PGXN requires" % mv)
ok(mv == semver(version),
   "META.json version %s is default_version %s as SemVer" % (mv, version),
   "expected %s" % semver(version))
prov = (meta.get("provides") or {}).get(EXT) if isinstance(meta.get("provides"), dict) else None
prov = prov if isinstance(prov, dict) else {}
ok(str(prov.get("version", "")) == mv,
   "META.json provides.%s.version equals the distribution version" % EXT,
   "provides version: %r" % prov.get("version"))
pfile = prov.get("file", "")
pm = re.fullmatch(r"migrations/%s--([^-][^/]*?)\.sql" % re.escape(EXT), pfile or "")
ok(bool(pfile) and os.path.isfile(pfile) and pm is not None
   and "--" not in pm.group(1) and pm.group(1) in installs
   and reach.get(version) == os.path.basename(pfile),
   "META.json provides.%s.file is the install script default_version %s is built from"
   % (EXT, version),
   "file: %r; default_version is reached from %r" % (pfile, reach.get(version)))
doc = prov.get("docfile")
ok(doc is None or os.path.isfile(doc),
   "META.json provides.%s.docfile exists" % EXT, "docfile: %r" % doc)
pg = (((meta.get("prereqs") or {}).get("runtime") or {}).get("requires") or {}).get("PostgreSQL")
ok(pg is not None, "META.json prereqs.runtime.requires names PostgreSQL (%s)" % pg)
ok(comment is None or meta.get("abstract") == comment,
   "META.json abstract is the control file's comment",
   "abstract: %r\ncomment:  %r" % (meta.get("abstract"), comment))

# --- debian/changelog -----------------------------------------------------
chl = read("debian/changelog") or ""
m = re.match(r"(\S+) \(((?:\d+:)?)([^)\s]+)\)", chl)
if m:
    deb_source, deb_full = m.group(1), m.group(3)
    deb_upstream = deb_full.rsplit("-", 1)[0] if "-" in deb_full else deb_full
else:
    deb_source = deb_full = deb_upstream = None
ok(deb_upstream == version,
   "debian/changelog top entry is upstream version %s (%s)" % (version, deb_full),
   "top entry: %r" % (chl.splitlines()[0] if chl else None))
ok(deb_source == EXT, "debian/changelog source package is %s" % EXT,
   "source: %r" % deb_source)

# --- release manifests ------------------------------------------------------
rel_dir = "docs/releases"
manifests = {}
if os.path.isdir(rel_dir):
    for f in os.listdir(rel_dir):
        if f.endswith(".md"):
            manifests[f[:-3]] = read(os.path.join(rel_dir, f)) or ""
newest_manifest = max(manifests, key=vkey) if manifests else None
ok(newest_manifest == version,
   "newest release manifest is docs/releases/%s.md" % version,
   "newest manifest: %r" % newest_manifest)

for v in sorted(reach, key=vkey):
    ok(v in manifests, "version %s (reachable in migrations/) has docs/releases/%s.md" % (v, v))
for v in sorted(manifests, key=vkey):
    ok(v in reach, "docs/releases/%s.md names a version that migrations/ can install" % v,
       "reachable versions: %s" % ", ".join(sorted(reach, key=vkey)))

# Each script is listed in the manifest of the version it leads to, and that
# manifest names every object the script creates or drops.
obj_re = re.compile(
    r"\b(?:CREATE(?:\s+OR\s+REPLACE)?|DROP|ALTER)\s+"
    r"(?:TABLE|FUNCTION|PROCEDURE|VIEW|MATERIALIZED\s+VIEW|TYPE|SEQUENCE|AGGREGATE|OPERATOR\s+CLASS)\s+"
    r"(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?:@extschema@\.)?\"?([A-Za-z_][A-Za-z0-9_]*)",
    re.I)
for f in scripts:
    target = f[len(EXT) + 2:-4].split("--")[-1]
    text = manifests.get(target)
    ok(text is not None and ("migrations/" + f) in text,
       "migrations/%s is listed in docs/releases/%s.md" % (f, target),
       "manifest missing" if text is None else "the manifest does not mention migrations/%s" % f)
    sql = re.sub(r"/\*.*?\*/", "", read(os.path.join(mig_dir, f)) or "", flags=re.S)
    sql = re.sub(r"--[^\n]*", "", sql)
    names = sorted(set(obj_re.findall(sql)))
    unnamed = [x for x in names if text is None or x not in text]
    ok(text is not None and not unnamed,
       "docs/releases/%s.md names every object migrations/%s creates or drops (%d)"
       % (target, f, len(names)),
       "not mentioned: %s" % ", ".join(unnamed))

# --- the oldest PostgreSQL -------------------------------------------------
# Server APIs src/ may call that older majors lack, with the first major
# that has each: the minimum must be at least the newest one called.
apis = {"InitMaterializedSRF": 15, "MarkGUCPrefixReserved": 15,
        "SPI_execute_plan_extended": 14, "SPI_execute_extended": 14,
        "pg_analyze_and_rewrite_fixedparams": 15, "makeStringInfoExt": 17}
csrc = {"src/" + f: read("src/" + f) or ""
        for f in sorted(os.listdir("src")) if f.endswith((".c", ".h"))}
used = {a: v for a, v in apis.items() if any(re.search(r"\b%s\s*\(" % a, t) for t in csrc.values())}
need = max(used.values()) if used else 0

mk = read("Makefile") or ""
m = re.search(r"^PG_MIN_MAJOR\s*=\s*(\d+)\s*$", mk, re.M)
pgmin = int(m.group(1)) if m else None
ok(pgmin is not None, "Makefile sets PG_MIN_MAJOR (%s)" % pgmin)
# Without it, the checks below hold the claims to what the code needs.
pgmin = pgmin or need
ok(re.search(r"^ifeq \(\$\(shell \[ \$\(PG_MAJOR_FOUND\) -lt \$\(PG_MIN_MAJOR\) \]", mk, re.M)
   is not None and mk.find("PG_MIN_MAJOR =") < mk.find("include $(PGXS)"),
   "Makefile refuses a pg_config older than PG_MIN_MAJOR before including PGXS")

# The C code: the guard, and nothing it calls newer than the minimum.
hdr = csrc.get("src/activepipe.h", "")
guard = r"#if\s+PG_VERSION_NUM\s*<\s*%d0000\s*\n#error\s+\"[^\"]*PostgreSQL %d or later" % (pgmin, pgmin)
ok(re.search(guard, hdr) is not None,
   "src/activepipe.h stops a build against PostgreSQL < %d with #error" % pgmin,
   "expected: #if PG_VERSION_NUM < %d0000 / #error \"... PostgreSQL %d or later\"" % (pgmin, pgmin))
ok(pgmin >= need,
   "PG_MIN_MAJOR %d is at least what src/ calls needs (%s)"
   % (pgmin, ", ".join("%s: %d" % kv for kv in sorted(used.items())) or "none known"),
   "PostgreSQL %d is needed" % need)
dead = []
for path, text in csrc.items():
    for no, line in enumerate(text.splitlines(), 1):
        for op, val in re.findall(r"PG_VERSION_NUM\s*(<=|>=|<|>|==|!=)\s*(\d+)", line):
            if int(val) <= pgmin * 10000 and not (
                    path == "src/activepipe.h" and op == "<" and int(val) == pgmin * 10000):
                dead.append("%s:%d: %s" % (path, no, line.strip()))
ok(not dead, "src/ has no PG_VERSION_NUM branch for servers older than %d" % pgmin,
   "\n".join(dead))

# The claims.
pgreq = str(((((meta.get("prereqs") or {}).get("runtime") or {}).get("requires") or {})
             .get("PostgreSQL", "")))
ok(pgreq == "%d.0.0" % pgmin,
   "META.json prereqs.runtime.requires.PostgreSQL is %d.0.0" % pgmin, "it says %r" % pgreq)
pgv = [l.strip() for l in (read("debian/pgversions") or "").splitlines()
       if l.strip() and not l.startswith("#")]
ok(pgv == ["%d+" % pgmin], "debian/pgversions is %d+" % pgmin, "it says %r" % pgv)
docs = ["README.md"] + ["docs/" + f for f in sorted(os.listdir("docs")) if f.endswith(".md")]
for path in ("README.md", "docs/scaling.md"):
    ok(re.search(r"PostgreSQL\s+%d\s+or\s+later" % pgmin, read(path) or "") is not None,
       "%s says PostgreSQL %d or later" % (path, pgmin))
claims = []
for path in docs + ["META.json", "debian/control.in"]:
    for no, line in enumerate((read(path) or "").splitlines(), 1):
        for v in re.findall(r"PostgreSQL\s+(\d+)(?:\s+or\s+(?:later|newer)|\s*\+|\s+and\s+(?:later|newer|above))", line):
            if int(v) != pgmin:
                claims.append("%s:%d: %s" % (path, no, line.strip()))
ok(not claims, "no document claims another minimum PostgreSQL than %d" % pgmin,
   "\n".join(claims))

# --- CHANGELOG.md -----------------------------------------------------------
cl = read("CHANGELOG.md") or ""
heads = re.findall(r"^##\s+\[?v?([0-9][^\]\s]*)\]?", cl, re.M)
ok(bool(heads) and heads[0] == version,
   "newest CHANGELOG.md heading is %s" % version,
   "headings: %s" % ", ".join(heads))
ok(heads == sorted(heads, key=vkey, reverse=True),
   "CHANGELOG.md headings run newest first", "headings: %s" % ", ".join(heads))
ok(sorted(set(heads), key=vkey) == sorted(manifests, key=vkey),
   "CHANGELOG.md has one heading per release manifest",
   "headings: %s\nmanifests: %s" % (", ".join(heads), ", ".join(sorted(manifests, key=vkey))))

print("1..%d" % n)
sys.exit(1 if failed else 0)
PY
