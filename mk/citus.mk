# Citus targets (included by the Makefile through mk/*.mk).
#
#   make test-citus   build and install the extension, then run
#                     test/citus/run.sh: a coordinator, two workers and a
#                     plain node started on this machine in a temporary
#                     directory, the schema distributed as docs/scaling.md
#                     says, TAP out (issue 13, item 5); then
#                     test/citus/upgrade.sh: 1.1 distributed, updated.  Needs Citus
#                     installed for the PostgreSQL that pg_config names
#                     (citus.control in its extension directory).
#                     make test runs the same suite when Citus is there.
#   make bench-citus  bench/citus.sh: the 100k-row import and the 100k
#                     export on such a cluster against a plain node of the
#                     same machine (issue 13, item 6); the figures go to
#                     bench/results/citus.md and docs/scaling.md.
#
# Nothing here builds or installs Citus itself.

CITUS_CONTROL = $(shell $(PG_CONFIG) --sharedir)/extension/citus.control
CITUS_SUDO = $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: test-citus bench-citus

test-citus: deps
	@[ -f "$(CITUS_CONTROL)" ] || { echo "test-citus: Citus is not installed ($(CITUS_CONTROL) is missing)" >&2; exit 1; }
	$(MAKE) all
	$(CITUS_SUDO) $(MAKE) -s install
	bash test/citus/run.sh
	bash test/citus/upgrade.sh

bench-citus: deps
	@[ -f "$(CITUS_CONTROL)" ] || { echo "bench-citus: Citus is not installed ($(CITUS_CONTROL) is missing)" >&2; exit 1; }
	$(MAKE) all
	bash bench/citus.sh
