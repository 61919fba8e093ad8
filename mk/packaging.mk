# Packaging targets (included by the Makefile through mk/*.mk).
#
#   make deb            Debian package with postgresql-common's tooling
#                       (dh --with pgxs_loop, pg_buildext), built by
#                       dpkg-buildpackage -us -uc -b in a clean copy of the
#                       tree; the .deb lands in dist/.
#   make pgxn           PGXN distribution: dist/activepipe-<version>.zip,
#                       a git archive of HEAD.
#   make print-version  the extension version (default_version of the
#                       control file, the single source of EXTVERSION).
#
# Nothing here runs at parse time: the Debian build itself runs this
# Makefile (and so this fragment) for every PostgreSQL version.

DIST_DIR ?= dist
DEB_BUILD_ROOT = $(DIST_DIR)/deb-build
DEB_SRC_DIR = $(DEB_BUILD_ROOT)/$(EXTENSION)-$(EXTVERSION)
PGXN_ZIP = $(DIST_DIR)/$(EXTENSION)-$(EXTVERSION).zip

.PHONY: deb pgxn print-version

print-version:
	@echo $(EXTVERSION)

# The copy holds what git would commit: tracked files plus untracked files
# that are not ignored (so build products such as *.o, *.so and *.bc stay
# out), minus dist/ itself.  Outside a git work tree the whole directory is
# copied, less dist/ and .git.  debian/control is regenerated in the copy
# for the PostgreSQL versions this machine supports (pg_buildext
# updatecontrol); the package build runs no test suite (debian/rules).
deb:
	@bash scripts/deb-deps.sh
	@deb_up=$$(sed -n '1s/^[^ ]* (\([0-9]*:\)\{0,1\}\([^)]*\)).*/\2/p' debian/changelog | sed 's/-[^-]*$$//'); \
	if [ "$$deb_up" != "$(EXTVERSION)" ]; then \
		echo "make deb: debian/changelog is at upstream version '$$deb_up' but $(EXTENSION).control says '$(EXTVERSION)'; add a debian/changelog entry" >&2; \
		exit 1; \
	fi
	rm -rf $(DEB_BUILD_ROOT)
	mkdir -p $(DEB_SRC_DIR)
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z --cached --others --exclude-standard -- . ':(exclude)$(DIST_DIR)' \
		| tar --null -T - --ignore-failed-read -cf - 2>/dev/null \
		| tar -C $(DEB_SRC_DIR) -xf -; \
	else \
		tar --exclude=./$(DIST_DIR) --exclude=./.git -cf - . | tar -C $(DEB_SRC_DIR) -xf -; \
	fi
	cd $(DEB_SRC_DIR) && pg_buildext updatecontrol
	cd $(DEB_SRC_DIR) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		dpkg-buildpackage -us -uc -b
	rm -f $(DIST_DIR)/postgresql-*-$(EXTENSION)_*.deb
	mv $(DEB_BUILD_ROOT)/postgresql-*-$(EXTENSION)_*.deb $(DIST_DIR)/
	rm -rf $(DEB_BUILD_ROOT)
	@ls -1 $(DIST_DIR)/postgresql-*-$(EXTENSION)_*.deb

# PGXN takes a zip of the distribution with META.json at its top.  It packs
# HEAD, so commit first: uncommitted changes are not in the zip.
pgxn:
	@mkdir -p $(DIST_DIR)
	@git diff --quiet HEAD -- 2>/dev/null || \
		echo "make pgxn: note: uncommitted changes are not in the zip (it packs HEAD)" >&2
	git archive --format=zip --prefix=$(EXTENSION)-$(EXTVERSION)/ \
		-o $(PGXN_ZIP) HEAD
	@echo $(PGXN_ZIP)
