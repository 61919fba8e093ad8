#!/usr/bin/env python3
"""bench/citus.py: the timings of make bench-citus (bench/citus.sh sets the
cluster up and passes it in the environment).

One psql session per path, kept open for all its repetitions (a warm
backend, as an application's pooled connection).  Each timed statement is
bracketed by \\timing on/off, and psql's "Time: ..." lines are read back in
order.  The first repetition of every operation warms the session and is
not counted; the medians of the rest are compared with the single node's.
"""
import os
import statistics
import subprocess
import sys
import time

ENV = os.environ
HOST = ENV["BENCH_CITUS_DIR"]
WORK = ENV["BENCH_CITUS_WORK"]
CONTACTS = int(ENV["BENCH_CITUS_CONTACTS"])
REPS = int(ENV.get("BENCH_REPS", "5"))
OUT = ENV["BENCH_OUT"]
PSQL = os.path.join(ENV["PGBIN"], "psql")

# path -> (port, wrapped in a transaction block)
PATHS = {
    "single node": (ENV["BENCH_CITUS_PLAIN"], False),
    "Citus, delegated": (ENV["BENCH_CITUS_COORD"], False),
    "Citus, in BEGIN on the coordinator": (ENV["BENCH_CITUS_COORD"], True),
}

OPS = [
    ("preview", "SELECT public.activepipe_import_preview(1, :'f') \\g /dev/null",
     None),
    ("commit", "SELECT public.activepipe_import_commit(1, :'f', false, 'bench.csv') AS r \\gset",
     "SELECT public.activepipe_import_undo(1, (:'r'::jsonb ->> 'event_id')::bigint) \\g /dev/null"),
    ("export", "SELECT public.activepipe_export(1, :'ids', 'bench.csv') \\g /dev/null",
     None),
]


def script(txn):
    # debug1: Citus says when it pushes a call down to a worker
    lines = ["\\set ON_ERROR_STOP 1", "SET client_min_messages = debug1;",
             "\\set f `cat %s/file.csv`" % WORK,
             "\\set ids `cat %s/ids.txt`" % WORK]
    for _ in range(REPS + 1):
        for op, sql, after in OPS:
            if txn:
                lines += ["BEGIN;", "\\echo @" + op, "\\timing on", sql, "\\timing off",
                          "ROLLBACK;"]
            else:
                lines += ["\\echo @" + op, "\\timing on", sql, "\\timing off"]
                if after:
                    lines.append(after)
    return "\n".join(lines) + "\n"


def run(port, txn):
    p = subprocess.run([PSQL, "-X", "-q", "-h", HOST, "-p", port, "-U", "postgres",
                        "-d", "postgres"], input=script(txn), capture_output=True,
                       text=True)
    if p.returncode != 0:
        sys.exit("bench-citus: psql failed on port %s: %s" % (port, p.stderr[-2000:]))
    times, op = {}, None
    for line in p.stdout.splitlines():
        if line.startswith("@"):
            op = line[1:]
        elif line.startswith("Time: ") and op:
            times.setdefault(op, []).append(float(line.split()[1]))
            op = None
    pushed = p.stderr.count("pushing down the function call")
    return {k: v[1:] for k, v in times.items()}, pushed	# the first one warms up


def main():
    results, pushed = {}, {}
    for path, (port, txn) in PATHS.items():
        t = time.time()
        results[path], pushed[path] = run(port, txn)
        print("bench-citus: %s done in %.0f s" % (path, time.time() - t), file=sys.stderr)
    base = results["single node"]
    rows = []
    for op, _, _ in OPS:
        single = statistics.median(base[op])
        for path in PATHS:
            ms = statistics.median(results[path][op])
            rows.append("| %s | %s | %.0f ms | %.2fx |" % (op, path, ms, ms / single))
    size = os.path.getsize(os.path.join(WORK, "file.csv"))
    text = "\n".join([
        "# make bench-citus",
        "",
        "%s; a coordinator and two workers and a plain node on this machine, "
        "%d contacts per tenant, a %d-row file (%.1f MB); median of %d warm runs per path."
        % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), CONTACTS, CONTACTS,
           size / 1e6, REPS),
        "",
        "| operation | path | median | vs single node |",
        "| --- | --- | --- | --- |",
    ] + rows + [
        "",
        "Calls Citus pushed down to the tenant's worker: delegated %d, in BEGIN %d (of %d timed"
        " and untimed calls per path)." % (pushed["Citus, delegated"],
                                          pushed["Citus, in BEGIN on the coordinator"],
                                          (REPS + 1) * (len(OPS) + 1)),
    ]) + "\n"
    os.makedirs(os.path.dirname(OUT) or ".", exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
