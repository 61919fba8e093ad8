# libFuzzer targets of src/lib (fuzz/fuzz_*.c), built with clang and
# AddressSanitizer + UndefinedBehaviorSanitizer.  Included by the top
# Makefile.
#
#   make fuzz        build, then run each target FUZZ_SECONDS (600) over
#                    fuzz/corpus-run/<target>/ (seeded from fuzz/corpus/,
#                    kept between runs), replay fuzz/regressions/
#   make fuzz-smoke  the same for FUZZ_SMOKE_SECONDS (60) each over a fresh
#                    copy of the seeds: test/scripts/fuzz_smoke.sh, which
#                    make test runs too (scripts/fuzz-run.sh does both)
#   make fuzz-build  only build fuzz/bin/<target>
#
# FUZZ_TARGETS="fuzz_phone fuzz_header" limits any of them to those targets.
#
# Crashers land in fuzz/corpus-run/artifacts/; keep each one as
# fuzz/regressions/<target>-<short-name> once it is understood.

FUZZ_CC ?= clang
FUZZ_CFLAGS ?= -std=c99 -D_POSIX_C_SOURCE=200809L -g -O1 -fno-omit-frame-pointer \
	-Wall -Wextra
FUZZ_SANITIZE ?= -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 60
FUZZ_TARGETS ?= $(basename $(notdir $(wildcard fuzz/fuzz_*.c)))
FUZZ_BINS = $(addprefix fuzz/bin/,$(FUZZ_TARGETS))

fuzz/bin/%: fuzz/%.c fuzz/fuzz_common.h $(LIB_SRCS) $(wildcard src/lib/*.h)
	@mkdir -p fuzz/bin
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SANITIZE) -Isrc/lib -Ifuzz -o $@.tmp$$$$ $< $(LIB_SRCS) -lcsv \
		&& mv -f $@.tmp$$$$ $@

.PHONY: fuzz fuzz-deps fuzz-build fuzz-bins fuzz-smoke fuzz-clean

# make clean drops the binaries; the corpora in fuzz/corpus-run/ stay
clean: fuzz-clean
fuzz-clean:
	rm -rf fuzz/bin

fuzz-deps:
	@bash scripts/fuzz-deps.sh

# deps first, then the binaries (also under make -j)
fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory -s fuzz-bins

fuzz-bins: $(FUZZ_BINS)

fuzz: fuzz-build
	@bash scripts/fuzz-run.sh $(FUZZ_SECONDS)

fuzz-smoke:
	@FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS) bash test/scripts/fuzz_smoke.sh
