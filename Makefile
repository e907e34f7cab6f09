# The README's two commands: `make run` and `make test`. Each installs what is missing on a
# fresh Debian 12 machine (apt packages, npm ci), builds, and does its job.

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
SANITIZED ?= 0
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

APT_PACKAGES := build-essential cmake pkg-config libwebsockets-dev libwebsockets-evlib-ev \
	libev-dev libmongoc-dev libbson-dev libjansson-dev libssl-dev openssl nodejs npm
# Only the tests need these: Debian's chromium for the demo's browser test (never a
# browser downloaded by npm), valgrind for `make test-valgrind`, iproute2 for the `ss` with
# which ws-writes.test.mjs counts a connection's TCP segments (minimal images lack it).
TEST_APT_PACKAGES := chromium valgrind iproute2

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps apt apt-test npm build test unit integration run clean test-sanitize test-tsan \
	test-valgrind test-soak-short

all: build

deps: apt npm

# Installs only the packages of $(1) that dpkg does not already know as installed; node and npm
# count as present when the commands exist (NodeSource builds ship them under other names).
define apt_install
	@missing=""; \
	for p in $(1); do \
	  case $$p in nodejs) command -v node >/dev/null && continue;; npm) command -v npm >/dev/null && continue;; esac; \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

apt:
	$(call apt_install,$(APT_PACKAGES))

apt-test:
	$(call apt_install,$(TEST_APT_PACKAGES))

npm: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

build: apt
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)

unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure

integration: build npm apt-test
	GW_BUILD_DIR=$(abspath $(BUILD_DIR)) GW_SANITIZED=$(SANITIZED) \
		node --test --test-concurrency=1 tests/integration/

test: unit integration

run: build npm
	BUILD_DIR=$(abspath $(BUILD_DIR)) scripts/run-local.sh

clean:
	rm -rf $(BUILD_DIR)

# The same tests on an AddressSanitizer + UndefinedBehaviorSanitizer build; CI runs both.
test-sanitize:
	$(MAKE) test BUILD_DIR=build-asan BUILD_TYPE=Debug SANITIZED=1 \
		CMAKE_FLAGS="-DGW_ASAN=ON -DGW_UBSAN=ON $(CMAKE_FLAGS)"

# The code that threads share (the watcher -> loop mailbox, the logger, the JWT verifier, and
# the watcher and store threads themselves against a mongo-emu) under ThreadSanitizer.
test-tsan: apt
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DGW_TSAN=ON $(CMAKE_FLAGS)
	cmake --build build-tsan -j $(JOBS) --target test_mailbox test_log test_jwt test_watcher_tsan \
		test_store_tsan mongo-emu
	ctest --test-dir build-tsan -R '^test_(mailbox|log|jwt|watcher_tsan|store_tsan)$$' \
		--output-on-failure

# A short end-to-end run with notify-gateway and mongo-emu under valgrind memcheck (plain Debug
# build in build-valgrind): no memcheck error, no definite or indirect leak.
test-valgrind: apt apt-test npm
	BUILD_DIR=build-valgrind CMAKE_FLAGS="$(CMAKE_FLAGS)" scripts/valgrind.sh

# The soak's CI mode (tests/soak/README.md): 75 s, 1k sockets with churn, two mongo-emu faults.
# The full 10-minute run is `scripts/soak.sh`.
test-soak-short: build npm
	BUILD_DIR=$(BUILD_DIR) scripts/soak.sh --short
