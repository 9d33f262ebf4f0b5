# ctgt: the commands the README uses. Each target installs what it needs
# (scripts/deps.sh is idempotent) so a fresh Debian 12 machine needs nothing
# else.

BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps build run test check unit bench clean

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Builds and starts ctgtd with the embedded default (one 1 GiB sparse LUN on
# 127.0.0.1:3260). Pass ARGS="-c my.json -v" for anything else.
run: build
	$(BUILD)/src/daemon/ctgtd $(ARGS)

# Every test: unit + integration, in a normal and an ASan+UBSan build.
# The last line printed is "N passed, N failed, N skipped".
test: deps
	@bash scripts/test.sh

check: test

# Unit tests of the normal build only (quick).
unit: build
	meson test -C $(BUILD) --print-errorlogs

# ctgt vs tgt on the same RAM-backed LUN, side by side.
bench: deps
	bash bench/run.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-release
