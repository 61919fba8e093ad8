#!/usr/bin/env python3
"""bench/bench.py: the measurements of `make bench`, run by bench/run.sh.

Each comparison is a group of variants (ours and the anchor) run in one psql
session, interleaved repetition by repetition (order reversed every other
one), so that the load of a shared machine weighs on both alike; \\timing
covers the body only, setup and teardown are untimed, every write is rolled
back and the touched tables vacuumed between repetitions; the median is
reported.  Peak memory is sampled from /proc/<backend pid>/status of a
fresh backend while it runs the operation.

Configuration comes from the environment (bench/run.sh sets it):
  BENCH_DB       database built by bench/gen_data.sql
  BENCH_DATA     directory holding <rows>.csv files, readable by the server
  BENCH_BASE     rows of the base file (100000; 1000 in smoke mode)
  BENCH_SIZES    comma-separated file sizes for the scaling rows
  BENCH_SCALE    full | smoke (smoke: one repetition of everything)
  BENCH_OUT      markdown file to write
  BENCH_REPS     optional: repetitions of the fast measurements
"""
import datetime
import os
import re
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DB = os.environ.get("BENCH_DB", "apbench")
DATA = os.environ["BENCH_DATA"]
BASE = int(os.environ.get("BENCH_BASE", "100000"))
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "1000,10000,100000,1000000").split(",")]
SCALE = os.environ.get("BENCH_SCALE", "full")
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "bench/results/latest.md"))
SMOKE = SCALE == "smoke"
USER_ID = 1

# Repetitions: fast measurements, write measurements (vacuum in between),
# and the scaling sizes (fewer for the big ones).
REPS_FAST = 1 if SMOKE else int(os.environ.get("BENCH_REPS", "7"))
REPS_WRITE = 1 if SMOKE else max(3, REPS_FAST - 2)
WARMUP = 0 if SMOKE else 1


def reps_for(rows):
    """Repetitions of a scaling size: fewer for the slow big files."""
    if SMOKE:
        return 1
    if rows >= 1000000:
        return 2
    if rows >= 100000:
        return REPS_WRITE
    return REPS_FAST


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def psql_args():
    return ["psql", "-X", "-q", "-d", DB, "-v", "ON_ERROR_STOP=1"]


def sql_value(query):
    r = subprocess.run(psql_args() + ["-At", "-c", query], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return r.stdout.strip()


SESSION_INIT = """
SET activepipe.export_cap = 10000000;
SET client_min_messages = warning;
"""

VACUUM = "VACUUM public.contacts, public.contact_integrations, public.integration_events;\n"


class Series:
    """Median of a timed body; ms is None when the body failed."""

    def __init__(self, name, times=None, error=None):
        self.name = name
        self.times = times or []
        self.error = error

    @property
    def ms(self):
        return statistics.median(self.times) if self.times else None


class V:
    """One variant of a group: a timed body between an untimed setup and
    teardown (setup may SET LOCAL inside its transaction)."""

    def __init__(self, name, body, setup="", teardown=""):
        self.name, self.body, self.setup, self.teardown = name, body, setup, teardown


def run_group(variants, reps, warmup=None):
    """Run the variants interleaved in one session, rep by rep (the order
    reversed every other rep), so that a change of machine load during the
    run weighs on all of them alike; returns one Series per variant."""
    warm = WARMUP if warmup is None else warmup
    # Errors do not stop the script: a failing variant must not take the
    # others with it.  \\warn markers attribute errors (stderr) to a variant.
    parts = ["\\set ON_ERROR_STOP 0", "\\timing off", "\\o /dev/null", SESSION_INIT]
    for i in range(warm + reps):
        order = list(range(len(variants)))
        if i % 2:
            order.reverse()
        for k in order:
            v = variants[k]
            parts += ["\\warn @@V%d" % k, v.setup, "\\timing on", "\\echo @@T%d" % k, v.body,
                      "\\echo @@E", "\\timing off", v.teardown, "\\warn @@X"]
    script = "\n".join(parts) + "\n"
    names = ", ".join(v.name for v in variants)
    log("  %s: %d rep(s)%s" % (names, reps, " + warm-up" if warm else ""))
    t0 = time.time()
    r = subprocess.run(psql_args(), input=script, capture_output=True, text=True)
    times = [[] for _ in variants]
    cur, k = None, None
    for line in r.stdout.splitlines():
        if line.startswith("@@T"):
            cur, k = 0.0, int(line[3:])
        elif line.startswith("@@E"):
            times[k].append(cur)
            cur = None
        else:
            m = re.match(r"^Time: ([0-9.]+) ms", line)
            if m and cur is not None:
                cur += float(m.group(1))
    errors = [None] * len(variants)
    k = None
    for line in r.stderr.splitlines():
        if line.startswith("@@V"):
            k = int(line[3:])
        elif line.startswith("@@X"):
            k = None
        elif "ERROR" in line and k is not None and errors[k] is None:
            errors[k] = line.strip()
    if r.returncode != 0 and not any(errors):
        errors = [r.stderr.strip()[:300]] * len(variants)
    out = []
    for v, t, err in zip(variants, times, errors):
        t = t[warm:]
        if err is not None:
            log("    %-56s ERROR: %s" % (v.name, err))
            out.append(Series(v.name, error=err))
            continue
        sr = Series(v.name, t)
        out.append(sr)
        log("    %-56s median %8.1f ms  [%s]" % (v.name, sr.ms, ", ".join("%.0f" % x for x in t)))
    log("    (%.0f s)" % (time.time() - t0))
    return out


# ---------------------------------------------------------------- memory
def proc_status(pid):
    d = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS", "RssAnon"):
                    d[k] = int(v.split()[0])  # kB
    except OSError:
        pass
    return d


def peak_memory(name, setup, body):
    """Peak private memory (RssAnon) of a fresh backend running body, in kB
    above its level before; also its VmHWM growth (shared buffers included)."""
    app = "apbench_mem_%d_%d" % (os.getpid(), int(time.time() * 1000))
    script = "\n".join(["\\set ON_ERROR_STOP 1", "\\o /dev/null", SESSION_INIT, setup,
                        "SELECT pg_sleep(1.0);", body, "ROLLBACK;"]) + "\n"
    env = dict(os.environ, PGAPPNAME=app)
    log("  %-58s fresh backend" % name)
    p = subprocess.Popen(psql_args(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    # find the backend while it sleeps
    pid = None
    for _ in range(200):
        v = sql_value("SELECT pid FROM pg_stat_activity WHERE application_name = '%s'" % app)
        if v:
            pid = int(v.split()[0])
            break
        time.sleep(0.01)
    if pid is None:
        p.communicate(script)
        return None, None, "backend not found"
    before = {}
    peak = {"RssAnon": 0, "VmHWM": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            st = proc_status(pid)
            if not st:
                break
            for k in peak:
                peak[k] = max(peak[k], st.get(k, 0))
            time.sleep(0.002)

    # the first status after connecting and the setup is the baseline
    p.stdin.write(script)
    p.stdin.flush()
    time.sleep(0.5)
    before = proc_status(pid)
    th = threading.Thread(target=sample)
    th.start()
    out, err = p.communicate()
    done.set()
    th.join()
    if p.returncode != 0:
        e = next((l for l in err.splitlines() if "ERROR" in l), err.strip()[:300])
        log("    ERROR: %s" % e)
        return None, None, e
    anon = peak["RssAnon"] - before.get("RssAnon", 0)
    hwm = peak["VmHWM"] - before.get("VmHWM", 0)
    log("    peak private memory +%.1f MB (VmHWM +%.1f MB)" % (anon / 1024, hwm / 1024))
    return anon, hwm, None


# ---------------------------------------------------------------- the SQL
EXPORT_COLUMNS = """c.first_name AS firstname, c.last_name AS lastname, c.email, c.phone,
	c.mobile, c.street_address AS streetaddress, c.city, c.state, c.postcode, c.country,
	p->>'status' AS status, p->>'sms_status' AS sms_status,
	p->>'subscribed_at' AS subscribed_at, p->>'unsubscribed_at' AS unsubscribed_at,
	p->>'unsubscribed_reason' AS unsubscribed_reason, p->>'source' AS source,
	p->>'modified_at' AS modified_at, p->>'latest_interaction' AS latest_interaction,
	p->>'buyertype' AS buyertype, p->>'locations' AS locations,
	p->>'propertytype' AS propertytype, p->>'category' AS category,
	p->>'minbeds' AS minbeds, p->>'maxbeds' AS maxbeds, p->>'minbaths' AS minbaths,
	p->>'maxbaths' AS maxbaths, p->>'minprice' AS minprice, p->>'maxprice' AS maxprice,
	p->>'minparking' AS minparking, p->>'maxparking' AS maxparking,
	p->>'minlandsize' AS minlandsize, p->>'maxlandsize' AS maxlandsize,
	p->>'minbuildingsize' AS minbuildingsize, p->>'maxbuildingsize' AS maxbuildingsize,
	p->>'listingtype' AS listingtype,
	array_to_string(ARRAY(SELECT jsonb_array_elements_text(p->'tags')), ';') AS tags"""

PLAIN_COPY = """COPY (
SELECT %s
FROM public.contacts c
LEFT JOIN public.contact_integrations ci
	ON ci.user_id = c.user_id AND ci.contact_id = c.id AND ci.integration_key = 'activepipe'
LEFT JOIN LATERAL (SELECT ci.payload_json AS p) x ON true
WHERE c.user_id = %d
ORDER BY c.id
) TO STDOUT (FORMAT csv, HEADER true);""" % (EXPORT_COLUMNS, USER_ID)

IDS = "(SELECT ids FROM bench.idsets WHERE name = 'tenant')"
EXPORT = "SELECT public.activepipe_export(%d, %s);" % (USER_ID, IDS)
EXPORT_ROWS = ("COPY (SELECT * FROM public.activepipe_export_rows(%d, %s)) "
               "TO STDOUT (FORMAT csv, HEADER true);" % (USER_ID, IDS))

# The extension's own timestamp statement (AP_Q_EXPORTED_AT in src/queries.c),
# used when activepipe_statements() is not there to hand it over.
EXPORTED_AT_FALLBACK = (
    "INSERT INTO public.contact_integrations AS ci"
    " (user_id, contact_id, integration_key, last_exported_at)"
    " SELECT $1, u.id, 'activepipe', pg_catalog.now()"
    " FROM pg_catalog.unnest($2::pg_catalog.int8[]) AS u(id)"
    " ON CONFLICT (user_id, contact_id, integration_key) DO UPDATE"
    " SET last_exported_at = EXCLUDED.last_exported_at"
    " WHERE ci.user_id OPERATOR(pg_catalog.=) $1 AND (ci.last_exported_at IS NULL"
    " OR ci.last_exported_at OPERATOR(pg_catalog.<>) EXCLUDED.last_exported_at)")


def stamp_sql(statement):
    """The extension's timestamp statement, run as it runs it: one SPI
    execution with the user and the id array as parameters."""
    return ("DO $do$ BEGIN EXECUTE $q$%s$q$ USING %d::bigint, %s; END $do$;"
            % (statement, USER_ID, IDS))


def preview(name):
    return ("SELECT public.activepipe_import_preview(%d, body) FROM bench.files "
            "WHERE name = '%s';" % (USER_ID, name))


def commit(name):
    return ("SELECT public.activepipe_import_commit(%d, body) FROM bench.files "
            "WHERE name = '%s';" % (USER_ID, name))


def csv_path(rows):
    return os.path.join(DATA, "%d.csv" % rows)


STAGING = """CREATE TEMP TABLE staging (
	firstname text, lastname text, email text, phone text, mobile text,
	streetaddress text, city text, state text, postcode text, country text,
	status text, sms_status text, subscribed_at text, unsubscribed_at text,
	unsubscribed_reason text, source text, modified_at text,
	latest_interaction text, buyertype text, locations text,
	propertytype text, category text, minbeds text, maxbeds text,
	minbaths text, maxbaths text, minprice text, maxprice text,
	minparking text, maxparking text, minlandsize text, maxlandsize text,
	minbuildingsize text, maxbuildingsize text, listingtype text, tags text
);"""


def anchor_import(rows):
    return "\\set user_id %d\n\\set csv '%s'\n\\i %s" % (
        USER_ID, csv_path(rows), os.path.join(ROOT, "bench/anchor_import.sql"))


# ---------------------------------------------------------------- report
class Row:
    def __init__(self, op, ours, anchor, unit, target, limit, note=""):
        self.op, self.ours, self.anchor, self.unit = op, ours, anchor, unit
        self.target, self.limit, self.note = target, limit, note

    def ratio(self):
        if self.ours is None or self.anchor in (None, 0):
            return None
        return self.ours / self.anchor

    def verdict(self):
        r = self.ratio()
        if self.limit is None:
            return "info"
        if r is None:
            return "ERROR"
        return "PASS" if r <= self.limit else "MISS"


def fmt(v, unit):
    if v is None:
        return "ERROR"
    if unit == "ms":
        return "%.1f ms" % v
    if unit == "us/row":
        return "%.2f us/row" % v
    if unit == "MB":
        return "%.1f MB" % v
    return "%.2f" % v


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem = "%.1f GB" % (int(line.split()[1]) / 1024 / 1024)
    except OSError:
        pass
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = ["?"]
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": mem,
        "pg": sql_value("SELECT version()"),
        "settings": sql_value(
            "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) "
            "FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'temp_buffers', "
            "'maintenance_work_mem', 'max_wal_size', 'fsync', 'max_parallel_workers_per_gather', "
            "'jit')"),
        "ext": sql_value("SELECT extversion FROM pg_extension WHERE extname = 'activepipe'"),
        "git": subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                              capture_output=True, text=True).stdout.strip() or "?",
        "load": " ".join(load),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def render(rows, m, facts, series, started, extra=""):
    w = [("operation", 58), ("ours", 16), ("anchor", 16), ("ratio", 7), ("target", 8),
         ("result", 6)]
    lines = []
    head = "| " + " | ".join(n.ljust(k) for n, k in w) + " |"
    lines.append(head)
    lines.append("|" + "|".join("-" * (k + 2) for _, k in w) + "|")
    for r in rows:
        ratio = r.ratio()
        cells = [r.op, fmt(r.ours, r.unit), "" if r.anchor is None and r.limit is None
                 else fmt(r.anchor, r.unit), "" if ratio is None else "%.2fx" % ratio,
                 r.target, r.verdict()]
        lines.append("| " + " | ".join(str(c).ljust(k) for c, (_, k) in zip(cells, w)) + " |")
    table = "\n".join(lines)
    md = ["# activepipe benchmark (%s)" % SCALE, "",
          "Machine: %s CPUs (%s), %s RAM, load average %s at the start." % (
              m["nproc"], m["cpu"], m["ram"], m["load"]),
          "Server: %s." % m["pg"],
          "Settings: %s." % m["settings"],
          "activepipe %s at git %s; run %s, %.0f s." % (m["ext"], m["git"], m["date"],
                                                     time.time() - started),
          "", "Data: %s" % facts, "",
          table, "",
          "Ratios are ours / anchor; the target is the most the ratio may be.",
          "Anchors: export = plain `COPY (SELECT <36 columns> FROM contacts LEFT JOIN "
          "contact_integrations ...) TO STDOUT CSV HEADER`; preview = `COPY` of the file into "
          "a staging table; commit = bench/anchor_import.sql; re-import = preview of the same "
          "file in the same (already imported) state; scaling = the 10k figure; memory = file size.",
          "Every write was rolled back (BEGIN ... ROLLBACK) and the tables vacuumed between "
          "repetitions.", "", extra, "## Repetitions (ms)", ""]
    for s in series:
        if s.error:
            md.append("- %s: ERROR: %s" % (s.name, s.error))
        else:
            md.append("- %s: median %.1f; %s" % (s.name, s.ms, ", ".join("%.1f" % t for t in s.times)))
    return table, "\n".join(md) + "\n"


# ---------------------------------------------------------------- main
def main():
    started = time.time()
    base = BASE
    series = []
    rows = []
    tenant_n = int(sql_value("SELECT count(*) FROM public.contacts WHERE user_id = %d" % USER_ID))
    total_n = int(sql_value("SELECT count(*) FROM public.contacts"))
    prof_n = int(sql_value("SELECT count(*) FROM public.contact_integrations"))
    fsize = os.path.getsize(csv_path(base))
    m = machine()
    has_stamp_guc = sql_value("LOAD 'activepipe'; SELECT current_setting('activepipe.stamp_exports', true) IS NOT NULL") == "t"
    has_statements = sql_value("SELECT to_regprocedure('public.activepipe_statements()') IS NOT NULL") == "t"
    exported_at = EXPORTED_AT_FALLBACK
    if has_statements:
        exported_at = sql_value("SELECT statement FROM public.activepipe_statements() "
                                "WHERE name = 'exported_at'") or EXPORTED_AT_FALLBACK
    facts = ("%d contacts (%d of tenant %d), %d ActivePipe profiles; a %d-row file of %.1f MB "
             "for the import; export of the tenant's %d contacts." % (
                 total_n, tenant_n, USER_ID, prof_n, base, fsize / 1e6, tenant_n))
    log("bench: %s" % facts)

    def add(s):
        series.append(s)
        return s

    # 1. Export ------------------------------------------------------------
    log("1. export")
    rb = "ROLLBACK;\n" + VACUUM
    variants = [
        V("export anchor: plain COPY of the join", PLAIN_COPY),
        V("export: activepipe_export (whole)", EXPORT, "BEGIN;", rb),
        V("export: COPY (activepipe_export_rows) TO STDOUT", EXPORT_ROWS, "BEGIN;", rb),
        V("export: second export in one transaction", EXPORT, "BEGIN;\n" + EXPORT, rb),
    ]
    if not has_stamp_guc:
        # older builds: time their single timestamp statement on its own
        variants.append(V("export: timestamp statement alone", stamp_sql(exported_at),
                          "BEGIN;", rb))
    if has_stamp_guc:
        variants.append(V("export: activepipe_export, stamp_exports = off", EXPORT,
                          "BEGIN;\nSET LOCAL activepipe.stamp_exports = off;", rb))
    res = [add(x) for x in run_group(variants, REPS_FAST)]
    copy, whole, rowsf, again = res[:4]
    if has_stamp_guc:
        # the stamps are several statements (by TID, then inserts): time the
        # generation alone and derive the stamping from the whole export
        gen_ms, gen_note = res[4].ms, "activepipe.stamp_exports = off"
        stamp_ms = (whole.ms - gen_ms) if whole.ms is not None and gen_ms is not None else None
        stamp_note = "whole - generation"
    else:
        stamp_ms, stamp_note = res[4].ms, "the statement alone"
        gen_ms = (whole.ms - stamp_ms) if whole.ms is not None and stamp_ms is not None else None
        gen_note = "derived: whole - timestamp statement"
    tl = label(tenant_n)
    rows.append(Row("export %s: CSV generation (%s)" % (tl, gen_note), gen_ms, copy.ms, "ms",
                    "<= 1.1x", 1.1))
    rows.append(Row("export %s: activepipe_export, whole" % tl, whole.ms, copy.ms, "ms",
                    "<= 2.0x", 2.0))
    rows.append(Row("export %s: COPY (activepipe_export_rows) TO STDOUT" % tl, rowsf.ms,
                    copy.ms, "ms", "<= 2.0x", 2.0))
    rows.append(Row("export %s: timestamp write (%s)" % (tl, stamp_note), stamp_ms, copy.ms,
                    "ms", "", None))
    rows.append(Row("export %s: again in the same transaction" % tl, again.ms, copy.ms, "ms",
                    "", None))

    # 2. Preview vs COPY into staging --------------------------------------
    log("2. preview")
    bname = str(base)
    stg, prev = [add(x) for x in run_group([
        V("preview anchor: COPY file into staging",
          "COPY staging FROM '%s' (FORMAT csv, HEADER true);" % csv_path(base),
          "BEGIN;\n" + STAGING, "ROLLBACK;"),
        V("import: activepipe_import_preview", preview(bname)),
    ], REPS_FAST)]
    rows.append(Row("import %s: preview vs COPY into staging" % label(base), prev.ms, stg.ms,
                    "ms", "<= 1.5x", 1.5))

    # 3. Commit vs the hand-written SQL import -----------------------------
    log("3. commit")
    com, anc = [add(x) for x in run_group([
        V("import: activepipe_import_commit (rolled back)", commit(bname), "BEGIN;", rb),
        V("commit anchor: bench/anchor_import.sql (rolled back)", anchor_import(base),
          "BEGIN;", rb),
    ], REPS_WRITE, warmup=0)]
    rows.append(Row("import %s: commit vs hand-written SQL import" % label(base), com.ms, anc.ms,
                    "ms", "<= 0.5x", 0.5))

    # 4. Re-import: commit of a file already committed, vs preview ----------
    log("4. re-import")
    first = "BEGIN;\n" + commit(bname)
    re_c, re_p = [add(x) for x in run_group([
        V("re-import: commit again in the same transaction", commit(bname), first, rb),
        V("re-import anchor: preview of the imported state", preview(bname), first, rb),
    ], REPS_WRITE, warmup=0)]
    rows.append(Row("import %s: re-import (no change) vs preview" % label(base), re_c.ms,
                    re_p.ms, "ms", "<= 1.5x", 1.5))

    # 5. Scaling -------------------------------------------------------------
    log("5. scaling")
    # The one-row file: what a call costs whatever the file (the tenant's
    # key index, plans, the event), for the marginal cost per row.
    p1, c1 = [add(x) for x in run_group([
        V("scaling: preview 1 row", preview("1")),
        V("scaling: commit 1 row (rolled back)", commit("1"), "BEGIN;", rb),
    ], REPS_FAST)]
    per_row = {"preview": {}, "commit": {}}
    marginal = {"preview": {}, "commit": {}}
    fixed = {"preview": p1.ms, "commit": c1.ms}
    for n in SIZES:
        p, c = [add(x) for x in run_group([
            V("scaling: preview %s rows" % label(n), preview(str(n))),
            V("scaling: commit %s rows (rolled back)" % label(n), commit(str(n)), "BEGIN;", rb),
        ], reps_for(n), warmup=0 if n >= 1000000 else None)]
        for kind, sr in (("preview", p), ("commit", c)):
            per_row[kind][n] = sr.ms * 1000.0 / n if sr.ms is not None else None
            marginal[kind][n] = ((sr.ms - fixed[kind]) * 1000.0 / (n - 1)
                                 if sr.ms is not None and fixed[kind] is not None and n > 1
                                 else None)
    ref = SIZES[1] if len(SIZES) > 1 else SIZES[0]
    for kind in ("preview", "commit"):
        for n in SIZES:
            rows.append(Row("scaling: %s %s rows" % (kind, label(n)), per_row[kind][n],
                            per_row[kind][ref] if n != ref else None, "us/row", "", None))
        vals = [per_row[kind][n] for n in SIZES if n >= ref]
        ok = all(v is not None for v in vals)
        rows.append(Row("scaling: %s us/row, worst of %s..%s vs best" % (
            kind, label(ref), label(SIZES[-1])), max(vals) if ok else None,
            min(vals) if ok else None, "us/row", "<= 1.5x", 1.5))
        # small files sit within the noise of the fixed cost (a marginal at or
        # below zero): those sizes say nothing about the per-row cost
        mvals = [v for v in (marginal[kind][n] for n in SIZES if n >= ref)
                 if v is not None and v > 0]
        ok = len(mvals) > 0
        rows.append(Row("scaling: %s marginal us/row (minus the 1-row call: %s), "
                        "worst vs best" % (kind, fmt(fixed[kind], "ms")),
                        max(mvals) if ok else None, min(mvals) if ok else None, "us/row",
                        "", None))

    # 6. Peak memory -----------------------------------------------------------
    log("6. memory")
    fmb = fsize / 1024 / 1024
    for kind, body in (("preview", preview(bname)), ("commit", commit(bname))):
        anon, hwm, err = peak_memory("memory: %s %s" % (kind, label(base)), "BEGIN;", body)
        series.append(Series("memory: %s peak private MB" % kind,
                             [anon / 1024] if anon is not None else None, err))
        rows.append(Row("memory: peak backend memory, %s %s (file %.1f MB)" % (
            kind, label(base), fmb), anon / 1024 if anon is not None else None, fmb, "MB",
            "< 4x", 4.0, ""))
    sql_value(VACUUM.strip())

    detail = ["## Scaling detail", "",
              "Marginal = (time - time of the 1-row file) / (rows - 1): the cost of one more "
              "row once the tenant's key index is built.", "",
              "| rows | preview us/row | preview marginal | commit us/row | commit marginal |",
              "|---|---|---|---|---|"]
    for n in SIZES:
        detail.append("| %s | %s | %s | %s | %s |" % (
            label(n), fmt(per_row["preview"][n], "us/row"), fmt(marginal["preview"][n], "us/row"),
            fmt(per_row["commit"][n], "us/row"), fmt(marginal["commit"][n], "us/row")))
    detail.append("")
    table, md = render(rows, m, facts, series, started, "\n".join(detail) + "\n")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(md)
    print()
    print(table)
    print()
    print("bench: written to %s" % OUT)


def label(n):
    if n >= 1000000 and n % 1000000 == 0:
        return "%dM" % (n // 1000000)
    if n >= 1000 and n % 1000 == 0:
        return "%dk" % (n // 1000)
    return str(n)


if __name__ == "__main__":
    main()
