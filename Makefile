# activepipe: PGXS build, tests, demo and benchmark entry points.
EXTENSION = activepipe
EXTVERSION = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")

MODULE_big = activepipe
LIB_SRCS = $(sort $(wildcard src/lib/*.c))
PG_SRCS = $(sort $(wildcard src/*.c))
OBJS = $(PG_SRCS:.c=.o) $(LIB_SRCS:.c=.o)

DATA = $(sort $(wildcard migrations/$(EXTENSION)--*.sql))
DOCS = README.md

REGRESS = $(sort $(basename $(notdir $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --outputdir=test/regress_out

SHLIB_LINK = -lcsv
PG_CPPFLAGS = -I$(srcdir)/src -I$(srcdir)/src/lib
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

EXTRA_CLEAN = test/regress_out test/unit/bin test/logs

PG_CONFIG ?= pg_config

# The oldest PostgreSQL the code builds against (it needs 15's
# InitMaterializedSRF and MarkGUCPrefixReserved).  An older pg_config is
# refused here, before PGXS compiles anything; src/activepipe.h repeats the
# check for builds that bypass this Makefile, and test/scripts/versions.sh
# checks that META.json, debian/pgversions and the docs claim the same.
# No pg_config yet (a fresh machine before make deps): nothing to check.
PG_MIN_MAJOR = 15
PG_MAJOR_FOUND := $(shell $(PG_CONFIG) --version 2>/dev/null | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p')
ifneq ($(PG_MAJOR_FOUND),)
ifeq ($(shell [ $(PG_MAJOR_FOUND) -lt $(PG_MIN_MAJOR) ] && echo old),old)
$(error activepipe needs PostgreSQL $(PG_MIN_MAJOR) or later, but $(PG_CONFIG) is PostgreSQL $(PG_MAJOR_FOUND); point PG_CONFIG at a newer one: make PG_CONFIG=/usr/lib/postgresql/NN/bin/pg_config)
endif
endif

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies here: rebuild on any header change.
$(OBJS): $(wildcard src/*.h src/lib/*.h)


# Plain-C unit tests of src/lib: no server, no backend headers.
UNIT_CC ?= cc
UNIT_CFLAGS = -std=c99 -D_POSIX_C_SOURCE=200809L -O1 -g -Wall -Wextra -Werror -Isrc/lib -Itest/unit
UNIT_TESTS = $(basename $(notdir $(wildcard test/unit/test_*.c)))
UNIT_BINS = $(addprefix test/unit/bin/,$(UNIT_TESTS))

test/unit/bin/%: test/unit/%.c $(LIB_SRCS) $(wildcard src/lib/*.h) test/unit/tap.h
	@mkdir -p test/unit/bin
	$(UNIT_CC) $(UNIT_CFLAGS) -o $@ $< $(LIB_SRCS) -lcsv

.PHONY: deps unit test demo bench fuzz deb

deps:
	@bash scripts/deps.sh

# csv_reader.c once more, with libcsv's parser members poisoned: it must
# use csv.h's functions only (test/unit/csv_api_only.h)
test/unit/bin/csv_reader_api_only.o: src/lib/csv_reader.c src/lib/csv_reader.h test/unit/csv_api_only.h
	@mkdir -p test/unit/bin
	$(UNIT_CC) $(UNIT_CFLAGS) -include test/unit/csv_api_only.h -c -o $@ $<

unit: test/unit/bin/csv_reader_api_only.o $(UNIT_BINS)
	@for t in $(UNIT_BINS); do echo "# $$t"; $$t || exit 1; done

test: deps
	$(MAKE) all
	bash test/run.sh

demo: deps
	$(MAKE) all
	bash scripts/demo.sh

bench: deps
	$(MAKE) all
	bash bench/run.sh

# Further targets (fuzz, deb, ...) each live in a fragment of their own.
-include $(sort $(wildcard mk/*.mk))
