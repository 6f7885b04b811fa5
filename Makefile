# Ember: one non-recursive makefile.  ./configure (run for you when needed)
# writes config.mk.  B is the build directory; SAN=asan builds with
# AddressSanitizer + UBSan, SAN=fuzz with clang's libFuzzer instrumentation.
B   ?= build
SAN ?=

all:

# tools/deps.sh touches .deps-installed whenever it installs a package, so
# a library installed after the last configure (cmocka for make check) is
# found without a manual reconfigure.
config.mk: config.mk.in configure $(wildcard .deps-installed)
	./configure

configure: configure.ac
	tools/deps.sh build
	autoreconf -fi

ifeq ($(filter clean distclean,$(MAKECMDGOALS)),)
include config.mk
endif
ifdef PREFIX
prefix = $(PREFIX)
endif

WARN      = -Wall -Wextra -Wno-unused-parameter -Wshadow -Wpointer-arith \
            -Wstrict-prototypes -Wmissing-prototypes -Wvla
OPT      ?= -O2 -g
ifeq ($(SAN),asan)
SANFLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
OPT       = -O1 -g
endif
ifeq ($(SAN),fuzz)
CC        = clang
SANFLAGS  = -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
OPT       = -O1 -g
endif
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -I. -Iplugin-api $(WARN) $(OPT) \
              -DEMBER_PLUGINDIR='"$(plugindir)"' \
              -DEMBER_SYSCONFDIR='"$(sysconfdir)"' \
              $(SANFLAGS) $(CFLAGS)
LIB_CFLAGS  = $(UV_CFLAGS) $(XML_CFLAGS) $(GNUTLS_CFLAGS) $(GSASL_CFLAGS) \
              $(JANSSON_CFLAGS) $(IDN_CFLAGS) $(CARES_CFLAGS) \
              $(DANE_CFLAGS) $(HIREDIS_CFLAGS)
CORE_LIBS   = $(UV_LIBS) $(XML_LIBS) $(GNUTLS_LIBS) $(GSASL_LIBS) \
              $(JANSSON_LIBS) $(IDN_LIBS) $(CARES_LIBS) $(DANE_LIBS) \
              $(HIREDIS_LIBS) -lunbound -lhttp_parser -lwslay -lcsv -ldl -lpthread -lm
MOD_CFLAGS  = $(BASE_CFLAGS) -fPIC -fvisibility=hidden $(JANSSON_CFLAGS)

# ---- core ----
CORE_SRCS   = $(filter-out core/main.c,$(wildcard core/*.c core/*/*.c))
CORE_OBJS   = $(CORE_SRCS:%.c=$(B)/%.o) $(B)/gen/ember_rng.o
CORE_LIB    = $(B)/libembercore.a
EMBERD      = $(B)/emberd
EMBERCTL    = $(B)/emberctl

$(B)/core/%.o: core/%.c config.mk
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(LIB_CFLAGS) -Icore -MMD -MP -c -o $@ $<

# The config schema is compiled in, so emberd validates without a data dir.
$(B)/gen/ember_rng.c: etc/ember.rng tools/embed.sh
	@mkdir -p $(@D)
	tools/embed.sh ember_rng etc/ember.rng > $@

$(B)/gen/%.o: $(B)/gen/%.c
	$(CC) $(BASE_CFLAGS) -c -o $@ $<

$(CORE_LIB): $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(EMBERD): $(B)/core/main.o $(CORE_LIB)
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $^ $(CORE_LIBS)

$(B)/tools/%.o: tools/%.c config.mk
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(LIB_CFLAGS) -Icore -MMD -MP -c -o $@ $<

$(EMBERCTL): $(B)/tools/emberctl.o $(B)/tools/ctl_migrate.o \
             $(B)/tools/ctl_storage.o $(CORE_LIB)
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $^ $(CORE_LIBS)

# ---- modules: modules/NAME/*.c -> $(B)/modules/mod_NAME.so ----
MODULES     = $(notdir $(wildcard modules/*))
MODULE_SOS  = $(MODULES:%=$(B)/modules/mod_%.so)
mod_storage_sqlite_LIBS = $(SQLITE_LIBS) -lpthread
mod_vcard_LIBS = $(GNUTLS_LIBS)
mod_vcard_CFLAGS = $(GNUTLS_CFLAGS)
mod_caps_LIBS = $(GNUTLS_LIBS)
mod_caps_CFLAGS = $(GNUTLS_CFLAGS)
mod_extdisco_LIBS = $(GNUTLS_LIBS)
mod_extdisco_CFLAGS = $(GNUTLS_CFLAGS)
mod_upload_LIBS = $(GNUTLS_LIBS)
mod_upload_CFLAGS = $(GNUTLS_CFLAGS)
mod_storage_sqlite_CFLAGS = $(SQLITE_CFLAGS)
mod_auth_ldap_LIBS = $(LDAP_LIBS) -lpthread
mod_auth_ldap_CFLAGS = $(LDAP_CFLAGS)
mod_storage_pgsql_LIBS = $(PQ_LIBS) -lpthread
mod_storage_pgsql_CFLAGS = $(PQ_CFLAGS)

$(B)/modules/%.o: modules/%.c config.mk
	@mkdir -p $(@D)
	$(CC) $(MOD_CFLAGS) $(mod_$(firstword $(subst /, ,$*))_CFLAGS) \
	    -MMD -MP -c -o $@ $<

# Where `make install` puts the console's files (emberctl init points a
# development instance at the tree's web/).
mod_admin_console_CFLAGS = -DEMBER_WEB_DIR='"$(datarootdir)/ember/web"' \
                           $(GNUTLS_CFLAGS)
mod_admin_console_LIBS = $(GNUTLS_LIBS)

mod_objs = $(patsubst %.c,$(B)/%.o,$(wildcard modules/$(1)/*.c) \
                                   $(mod_$(1)_SRCS))

.SECONDEXPANSION:
$(B)/modules/mod_%.so: $$(call mod_objs,$$*)
	$(CC) -shared $(SANFLAGS) $(LDFLAGS) -o $@ $^ $(JANSSON_LIBS) \
	    $(mod_$*_LIBS)

# ---- tests ----
UNIT_SRCS   = $(wildcard tests/unit/test-*.c)
UNIT_BINS   = $(UNIT_SRCS:%.c=$(B)/%)
TEST_MODULE_SRCS = $(wildcard tests/modules/*.c)
TEST_MODULE_SOS  = $(TEST_MODULE_SRCS:tests/modules/%.c=$(B)/tests/modules/mod_%.so)

$(B)/tests/unit/%: tests/unit/%.c $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(LIB_CFLAGS) $(CMOCKA_CFLAGS) -Icore -o $@ $< \
	    $(CORE_LIB) $(CORE_LIBS) $(CMOCKA_LIBS)

# Test-only modules, each one file; abi_* ones may override the header.
$(B)/tests/modules/mod_%.so: tests/modules/%.c
	@mkdir -p $(@D)
	$(CC) $(MOD_CFLAGS) -MMD -MP -shared -o $@ $< $(JANSSON_LIBS)

FUZZ_SRCS   = $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_BINS   = $(FUZZ_SRCS:%.c=$(B)/%)
$(B)/tests/fuzz/%: tests/fuzz/%.c $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(LIB_CFLAGS) -fsanitize=fuzzer -Icore -o $@ $< \
	    $(CORE_LIB) $(CORE_LIBS)

# ---- bench ----
BENCH_SRCS  = $(wildcard bench/*.c)
BENCH_BIN   = $(B)/bench/ember-load
$(BENCH_BIN): $(BENCH_SRCS) config.mk
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(UV_CFLAGS) $(GSASL_CFLAGS) -o $@ $(BENCH_SRCS) \
	    $(UV_LIBS) $(GSASL_LIBS) -lm

# ---- targets ----
PROGRAMS = $(EMBERD) $(EMBERCTL) $(MODULE_SOS)
all: $(PROGRAMS)

tests-build: all $(UNIT_BINS) $(TEST_MODULE_SOS)

fuzz-build: $(FUZZ_BINS)

run: all
	tools/run.sh $(B)

# Longer fuzzing than make check's, growing tests/fuzz/corpus/ (commit it).
fuzz:
	tools/deps.sh test
	FUZZ_KEEP=1 FUZZ_SECONDS=$(or $(FUZZ_SECONDS),300) tools/fuzz.sh

check:
	tools/deps.sh test
	$(MAKE) tests-build
	tools/check.sh

bench: all $(BENCH_BIN)
	tools/deps.sh bench
	bench/run.sh $(B)

bench-peers: all $(BENCH_BIN)
	bench/peers.sh $(B)

# Two nodes of a cluster and their Redis (doc/cluster.md).
bench-cluster: all $(BENCH_BIN)
	bench/cluster.sh $(B)

ember-plugin.pc: ember-plugin.pc.in config.mk FORCE
	sed -e 's|@prefix@|$(prefix)|' -e 's|@includedir@|$(includedir)|' \
	    -e 's|@plugindir@|$(plugindir)|' -e 's|@VERSION@|$(VERSION)|' \
	    $< > $@

install: all ember-plugin.pc
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) \
	    $(DESTDIR)$(plugindir) $(DESTDIR)$(includedir)/ember \
	    $(DESTDIR)$(libdir)/pkgconfig $(DESTDIR)$(sysconfdir)/ember \
	    $(DESTDIR)$(datarootdir)/ember/web
	install -m 755 $(EMBERD) $(DESTDIR)$(sbindir)/emberd
	install -m 755 $(EMBERCTL) $(DESTDIR)$(bindir)/emberctl
	install -m 644 $(MODULE_SOS) $(DESTDIR)$(plugindir)/
	install -m 644 plugin-api/ember/*.h $(DESTDIR)$(includedir)/ember/
	install -m 644 ember-plugin.pc $(DESTDIR)$(libdir)/pkgconfig/
	install -m 644 etc/ember.xml etc/ember.rng $(DESTDIR)$(sysconfdir)/ember/
	if [ -d web ]; then cp -R web/. $(DESTDIR)$(datarootdir)/ember/web/; fi
	install -d $(DESTDIR)$(libdir)/systemd/system
	sed -e 's|@SBINDIR@|$(sbindir)|g' -e 's|@SYSCONFDIR@|$(sysconfdir)|g' \
	    etc/emberd.service > $(DESTDIR)$(libdir)/systemd/system/emberd.service
	# The user emberd runs as once its ports are bound (<run-as>).
	if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	    tools/ember-user.sh $(DESTDIR)$(sysconfdir)/ember; fi

clean:
	rm -rf build build-asan build-fuzz ember-plugin.pc

distclean: clean
	rm -rf config.mk ember_config.h config.log config.status configure \
	    autom4te.cache aclocal.m4 ember_config.h.in ember_config.h.in~

FORCE:

.PHONY: FORCE all run check fuzz bench bench-peers bench-cluster install clean distclean \
        tests-build fuzz-build

-include $(shell find $(B) -name '*.d' 2>/dev/null)
