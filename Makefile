# smf — the two commands of the README are `make demo` and `make test`. Every target installs the
# Debian packages it needs when they are missing (apt-get, as root or through sudo).

SWIFT        ?= swift
BUILD_DIR    := .build
SMF_BIN      := $(BUILD_DIR)/debug/smf
# Debian packages: headers for the system libraries we link, and the third-party SIP programs the
# interop tests drive.
BUILD_DEBS   := libsqlite3-dev libxml2-dev pkg-config
TEST_DEBS    := $(BUILD_DEBS) sip-tester sipsak baresip-core kamailio kamailio-presence-modules graphviz sqlite3

.PHONY: all build demo test test-only deps-build deps-test bench fuzz check-imports clean help

all: build

help:
	@echo "make demo   - building surveillance on 9+ smf nodes on 127.0.0.1: a smoke alarm, its path hop by hop, who accepted"
	@echo "make test   - every test: unit, transcript, socket, process and interop (sipp, sipsak)"
	@echo "make bench  - release-build benchmarks; prints 'name value unit' lines"
	@echo "make fuzz   - bounded libFuzzer run of the SIP parser (FUZZ_SECONDS, default 60)"

deps-build:
	@scripts/install-debs.sh $(BUILD_DEBS)

deps-test:
	@scripts/install-debs.sh $(TEST_DEBS)

build: deps-build
	$(SWIFT) build

demo: deps-build
	$(SWIFT) build --product smf
	$(SMF_BIN) demo

check-imports:
	@scripts/check-imports.sh

# A clean checkout builds, checks the module graph and runs every test target. Warnings in our own
# sources fail the build (dependencies' warnings are theirs). Tests run one at a time: the interop
# tests hold real programs (sipp, baresip, Kamailio) to rates such as 100 dialogs/s, which a node
# meets on its own but not while dozens of other tests share the machine's two cores.
test: deps-test check-imports
	@mkdir -p $(BUILD_DIR)
	@$(SWIFT) build --build-tests 2>&1 | tee $(BUILD_DIR)/test-build.log | grep -vE '^\[[0-9]+/[0-9]+\]' || true
	@if grep -E '^$(CURDIR)/(Sources|Tests)/.*: warning:' $(BUILD_DIR)/test-build.log; then \
		echo "make test: the warnings above are in our code; fix them"; exit 1; fi
	@grep -q 'Build complete' $(BUILD_DIR)/test-build.log || { echo "make test: build failed"; exit 1; }
	SMF_BIN=$(CURDIR)/$(SMF_BIN) $(SWIFT) test --skip-build --no-parallel

# sdp.deploy_ms spawns the release smf binary (.build/release/smf) as its nodes.
bench: deps-test
	$(SWIFT) build -c release --product smf
	$(SWIFT) build -c release --package-path Benchmarks --scratch-path Benchmarks/.build
	Benchmarks/.build/release/smf-bench $(BENCH_FILTER)

fuzz: deps-build
	scripts/fuzz.sh

clean:
	rm -rf $(BUILD_DIR) Benchmarks/.build Fuzz/.build
