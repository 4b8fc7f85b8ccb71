# SPDX-License-Identifier: GPL-2.0
#
# twtrace top-level Makefile.
#
#   make                 build the module for every target kernel, the reader
#                        and the selftests
#   make test            install what is missing, build, run the kselftest
#                        suite in QEMU on the default kernels (KERNELS)
#   make test-all        the same on every kernel the archive serves
#   make demo            boot 6.12 in QEMU and show twtrace on real traffic
#   make KERNELS=6.12 test    one kernel only.  Series: 5.10, 6.1, 6.12,
#                        6.16-7.x, each also -rt (Debian's, newest ABI),
#                        debug (a KASAN/lockdep/kmemleak 7.3 built from
#                        linux-source-7.3 by scripts/build-debug-kernel.sh),
#                        debug-6.12 (the same from linux-source-6.12)
#   make reader-test     the reader's host tests (no VM), also run by test
#   make install         the reader and its man page (PREFIX, DESTDIR)
#
# Kernel headers, images and the kselftest harness live in the git-ignored
# .cache/ (scripts/install-deps.sh), build output in build/.

# The default set: the oldest, bookworm's newest, the newest, an RT
# flavour and the debug kernel; test-all adds the rest the archive serves
# (6.18 left its index: Documentation/twtrace.rst, "Supported kernels").
KERNELS ?= 5.10 6.12 7.3 7.3-rt debug
KERNELS_ALL := 5.10 6.1 6.12 7.3 6.1-rt 6.12-rt 7.3-rt debug
DEMO_KERNEL ?= 6.12

TOP := $(abspath .)
CACHE ?= $(TOP)/.cache
BUILD ?= $(TOP)/build
KSFT_DIR := $(CACHE)/ksrc/tools/testing/selftests

export TWTRACE_CACHE := $(CACHE)
export TWTRACE_BUILD := $(BUILD)

CC ?= gcc
READER_CFLAGS := -O2 -g -Wall -Wextra -Werror -std=gnu11 -I$(TOP)/include/uapi
READER_LDFLAGS := -static
READER_SRCS := $(wildcard userspace/*.c)
READER_DEPS := $(READER_SRCS) userspace/reader.h include/uapi/linux/twtrace.h
# The host tests run the reader built with sanitizers too.
ASAN_CFLAGS := -O1 -g -Wall -Wextra -Werror -std=gnu11 \
	-I$(TOP)/include/uapi -fsanitize=address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man

# Kbuild, the sources of the objects its twtrace-y names (the one list)
# and the headers: scripts/lib.sh, module_files.
MODULE_SRCS := $(shell bash -c '. "$$1" && module_files' _ $(TOP)/scripts/lib.sh)
ifeq ($(filter %.c,$(MODULE_SRCS)),)
$(error no module sources from Kbuild's twtrace-y)
endif

.PHONY: all deps modules reader reader-test selftests test test-all \
	test-debug check \
	reader-fuzz \
	demo install \
	uninstall clean distclean bench

all: modules reader selftests

# The Debian kernels come from the archive; "debug" (7.3) and "debug-6.12"
# are built from source.
deps:
	@bash scripts/install-deps.sh $(filter-out debug%,$(KERNELS))
	@$(foreach k,$(filter debug%,$(KERNELS)),bash scripts/build-debug-kernel.sh $(k) &&) true

# One out-of-tree build per kernel, each in its own copy of the sources so
# objects for different kernels never mix.
modules: $(foreach k,$(KERNELS),$(BUILD)/$(k)/twtrace.ko)

$(BUILD)/%/twtrace.ko: $(MODULE_SRCS) $(CACHE)/kernels/%/release
	@mkdir -p $(BUILD)/$*/src
	@cp -a --parents $(MODULE_SRCS) $(BUILD)/$*/src/
	bash scripts/kmake.sh $* M=$(BUILD)/$*/src modules
	@cp $(BUILD)/$*/src/twtrace.ko $@

$(CACHE)/kernels/%/release:
	@bash scripts/install-deps.sh $*

$(CACHE)/kernels/debug/release:
	@bash scripts/build-debug-kernel.sh debug

$(CACHE)/kernels/debug-6.12/release:
	@bash scripts/build-debug-kernel.sh debug-6.12

reader: $(BUILD)/twtrace

$(BUILD)/twtrace: $(READER_DEPS)
	@mkdir -p $(BUILD)
	$(CC) $(READER_CFLAGS) -o $@ $(READER_SRCS) $(READER_LDFLAGS)

$(BUILD)/twtrace-asan: $(READER_DEPS)
	@mkdir -p $(BUILD)
	$(CC) $(ASAN_CFLAGS) -o $@ $(READER_SRCS)

$(BUILD)/reader-test/mkrec: userspace/tests/mkrec.c include/uapi/linux/twtrace.h
	@mkdir -p $(BUILD)/reader-test
	$(CC) $(READER_CFLAGS) -o $@ $<

# Host tests of the reader on generated records and fake module files:
# no VM, a few seconds.
reader-test: $(BUILD)/twtrace $(BUILD)/twtrace-asan $(BUILD)/reader-test/mkrec
	@bash userspace/tests/run.sh $(BUILD)/reader-test/mkrec \
		$(BUILD)/twtrace $(BUILD)/twtrace-asan

# libFuzzer on the reader's recording decoder, for FUZZ_SECS (default 30).
FUZZ_CFLAGS := -O1 -g -std=gnu11 -I$(TOP)/include/uapi \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SECS ?= 30

$(BUILD)/fuzz_stream: userspace/tests/fuzz_stream.c $(READER_DEPS)
	@mkdir -p $(BUILD)
	clang-14 $(FUZZ_CFLAGS) -o $@ userspace/tests/fuzz_stream.c \
		$(filter-out userspace/twtrace.c,$(READER_SRCS))

reader-fuzz: $(BUILD)/fuzz_stream
	@bash userspace/tests/fuzz.sh $(BUILD)/fuzz_stream \
		userspace/tests/corpus $(BUILD)/fuzz $(FUZZ_SECS)

# make install: the module for the running kernel (or KERNELRELEASE=, built
# against KDIR=, default its /lib/modules/.../build), the reader and its
# man page.  DESTDIR stages everything.
KERNELRELEASE ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KERNELRELEASE)/build
INSTALL_SRC := $(BUILD)/install/$(KERNELRELEASE)

install: $(BUILD)/twtrace
	@test -f $(KDIR)/Makefile || { echo "no kernel build tree at $(KDIR):" \
		"install the headers of $(KERNELRELEASE) or set KDIR=" >&2; exit 1; }
	@mkdir -p $(INSTALL_SRC)
	@cp -a --parents $(MODULE_SRCS) $(INSTALL_SRC)/
	$(MAKE) -C $(KDIR) M=$(INSTALL_SRC) modules
	$(MAKE) -C $(KDIR) M=$(INSTALL_SRC) INSTALL_MOD_DIR=updates \
		$(if $(DESTDIR),INSTALL_MOD_PATH=$(DESTDIR)) modules_install
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(BUILD)/twtrace $(DESTDIR)$(SBINDIR)/twtrace
	install -m 0644 userspace/twtrace.8 $(DESTDIR)$(MANDIR)/man8/twtrace.8

uninstall:
	rm -f $(DESTDIR)/lib/modules/$(KERNELRELEASE)/updates/twtrace.ko*
	-depmod $(if $(DESTDIR),-b $(DESTDIR)) $(KERNELRELEASE)
	rm -f $(DESTDIR)$(SBINDIR)/twtrace $(DESTDIR)$(MANDIR)/man8/twtrace.8

selftests: $(KSFT_DIR)/kselftest_harness.h
	@mkdir -p $(BUILD)/selftests
	$(MAKE) -C selftests KSFT_DIR=$(KSFT_DIR) OUTPUT=$(BUILD)/selftests

$(KSFT_DIR)/kselftest_harness.h:
	@bash scripts/install-deps.sh $(firstword $(KERNELS))

# The reader's host tests first (their counts join the overall line), then
# the kselftest suite in QEMU on every target kernel.
test: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(BUILD)/results
	@$(MAKE) --no-print-directory reader-test 2>&1 | \
		tee $(BUILD)/results/reader-test.log
	@$(MAKE) --no-print-directory reader-fuzz 2>&1 | \
		tee $(BUILD)/results/reader-fuzz.log
	@bash scripts/check.sh $(KERNELS) 2>&1 | tee $(BUILD)/results/check.log
	@bash scripts/test.sh \
		--host "host (reader)" $(BUILD)/results/reader-test.log \
		--host "host (reader fuzz)" $(BUILD)/results/reader-fuzz.log \
		--host "host (check)" $(BUILD)/results/check.log \
		$(KERNELS)

# The quality gates alone (scripts/check.sh): checkpatch, W=1 C=1 sparse,
# coccinelle, dkms build, shellcheck, module metadata.
check: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/check.sh $(KERNELS)

test-all:
	@$(MAKE) --no-print-directory KERNELS="$(KERNELS_ALL)" test

# The whole suite on the debug kernel (KASAN, lockdep, kmemleak, UBSAN...).
test-debug:
	@$(MAKE) --no-print-directory KERNELS=debug test

demo:
	@bash scripts/install-deps.sh $(DEMO_KERNEL)
	@$(MAKE) --no-print-directory KERNELS=$(DEMO_KERNEL) all
	@bash scripts/demo.sh $(DEMO_KERNEL)

# The benchmark (Documentation/benchmark.rst): one VM per kernel, every
# configuration measured side by side in it.  The floor module is built
# like the main one, out of tree, in a copy of its sources per kernel.
BENCH_SRCS := bench/Kbuild bench/twtrace_floor.c

$(BUILD)/%/twtrace_floor.ko: $(BENCH_SRCS) $(CACHE)/kernels/%/release
	@mkdir -p $(BUILD)/$*/bench-src
	@cp $(BENCH_SRCS) $(BUILD)/$*/bench-src/
	bash scripts/kmake.sh $* M=$(BUILD)/$*/bench-src modules
	@cp $(BUILD)/$*/bench-src/twtrace_floor.ko $@

$(BUILD)/bench/tw_storm: bench/tw_storm.c
	@mkdir -p $(BUILD)/bench
	$(CC) $(READER_CFLAGS) -o $@ $< $(READER_LDFLAGS)

# The debug kernel measures KASAN and lockdep, not twtrace: left out.
BENCH_KERNELS ?= $(filter-out debug%,$(KERNELS))

bench:
	@bash scripts/install-deps.sh $(BENCH_KERNELS)
	@$(MAKE) --no-print-directory KERNELS="$(BENCH_KERNELS)" all \
		$(BUILD)/bench/tw_storm \
		$(foreach k,$(BENCH_KERNELS),$(BUILD)/$(k)/twtrace_floor.ko)
	@bash scripts/bench.sh $(BENCH_KERNELS)

clean:
	rm -rf $(BUILD)

distclean: clean
	rm -rf $(CACHE)
