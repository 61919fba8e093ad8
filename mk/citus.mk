# Citus targets (included by the Makefile through mk/*.mk).
#
#   make test-citus   build and install the extension, then run
#                     test/citus/run.sh: a coordinator, two workers and a
#                     plain node started on this machine in a temporary
#                     directory, the schema distributed as docs/scaling.md
#                     says, TAP out (issue 13, item 5).  Needs Citus
#                     installed for the PostgreSQL that pg_config names
#                     (citus.control in its extension directory).
#                     make test runs the same suite when Citus is there.
#   make bench-citus  the benchmark on that cluster (not written yet)
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

bench-citus:
	@echo "bench-citus: not yet: the Citus benchmark is still to be written (see issue 13)"
