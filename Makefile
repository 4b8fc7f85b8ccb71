# SPDX-License-Identifier: GPL-2.0
#
# twtrace top-level Makefile.
#
#   make                 build the module for every target kernel, the reader
#                        and the selftests
#   make test            install what is missing, build, run the kselftest
#                        suite in QEMU on every target kernel
#   make demo            boot 6.12 in QEMU and show twtrace on real traffic
#   make KERNELS=6.12 test    one kernel only
#
# Kernel headers, images and the kselftest harness live in the git-ignored
# .cache/ (scripts/install-deps.sh), build output in build/.

KERNELS ?= 6.1 6.12
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

MODULE_SRCS := Kbuild $(wildcard module/*.c module/*.h include/uapi/linux/*.h)

.PHONY: all deps modules reader selftests test demo clean distclean

all: modules reader selftests

deps:
	@bash scripts/install-deps.sh $(KERNELS)

# One out-of-tree build per kernel, each in its own copy of the sources so
# objects for different kernels never mix.
modules: $(foreach k,$(KERNELS),$(BUILD)/$(k)/twtrace.ko)

$(BUILD)/%/twtrace.ko: $(MODULE_SRCS) $(CACHE)/kernels/%/release
	@mkdir -p $(BUILD)/$*/src
	@cp -a --parents $(MODULE_SRCS) $(BUILD)/$*/src/
	$(MAKE) -C $(CACHE)/kernels/$*/build M=$(BUILD)/$*/src modules
	@cp $(BUILD)/$*/src/twtrace.ko $@

$(CACHE)/kernels/%/release:
	@bash scripts/install-deps.sh $*

reader: $(BUILD)/twtrace

$(BUILD)/twtrace: userspace/twtrace.c include/uapi/linux/twtrace.h
	@mkdir -p $(BUILD)
	$(CC) $(READER_CFLAGS) -o $@ $< $(READER_LDFLAGS)

selftests: $(KSFT_DIR)/kselftest_harness.h
	@mkdir -p $(BUILD)/selftests
	$(MAKE) -C selftests KSFT_DIR=$(KSFT_DIR) OUTPUT=$(BUILD)/selftests

$(KSFT_DIR)/kselftest_harness.h:
	@bash scripts/install-deps.sh $(firstword $(KERNELS))

test: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/test.sh $(KERNELS)

demo:
	@bash scripts/install-deps.sh $(DEMO_KERNEL)
	@$(MAKE) --no-print-directory KERNELS=$(DEMO_KERNEL) all
	@bash scripts/demo.sh $(DEMO_KERNEL)

clean:
	rm -rf $(BUILD)

distclean: clean
	rm -rf $(CACHE)
