# Berth. Start here:
#   make demo    set up this machine, build, and run a container in a VM
#   make test    set up this machine and run every test (what CI runs)
# Other targets: deps build bench chaos fuzz lint darwin-check app clean (see `make help`).
#
# Written for GNU make 3.81, which macOS ships: no .SHELLFLAGS (3.81 ignores
# it), .ONESHELL, undefine, !=, ::= or $(file). Each recipe line runs in its
# own bash without -e or pipefail: a line that pipes sets -o pipefail itself,
# and a line that runs several commands joins them with &&.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
OUT       ?= .build
LDFLAGS   := -X github.com/berthvm/berth/core/buildinfo.Version=$(VERSION) \
             -X github.com/berthvm/berth/core/buildinfo.Commit=$(COMMIT)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
UNAME_S   := $(shell uname -s)
SHELL     := /bin/bash
# Go test settings: every real-VM and real-tool test must run, not skip.
TEST_FLAGS ?= -timeout 25m
BERTH_REQUIRE_ALL ?= 1
export BERTH_REQUIRE_ALL
# Berth.app's CFBundleShortVersionString (0.0.0 when untagged) and
# CFBundleVersion (the commit count): packaging/appversion.sh.
APP_VERSION = $(shell bash packaging/appversion.sh short '$(VERSION)')
APP_BUILD   = $(shell bash packaging/appversion.sh build '$(VERSION)' "$$(git rev-list --count HEAD 2>/dev/null)")
ENTITLEMENTS := resources/berth.entitlements

# Folders share names with targets (app/, …): declare every target phony.
.PHONY: help deps build agents demo-images test demo bench chaos fuzz lint darwin-check app clean

help:
	@echo "Berth make targets:"
	@awk '/^## [a-z-]+: /{t=$$2; sub(/:$$/, "", t); d=$$0; sub(/^## [a-z-]+: /, "", d); printf "  %-14s%s\n", t, d}' Makefile

## deps: install what this machine needs (apt packages, guest kernels). Idempotent.
deps:
	@bash packaging/deps.sh
	@$(GO) mod download

## build: the berth CLI+daemon for this host, the guest agents beside it, the embedded demo image.
# On macOS berth is signed ad hoc with the virtualization entitlement, so
# that it can run VMs on this Mac.
build: agents demo-images
	$(GO) build -ldflags '$(LDFLAGS)' -o $(OUT)/berth ./app/berth
ifeq ($(UNAME_S),Darwin)
	codesign --force --sign - --entitlements $(ENTITLEMENTS) --identifier com.berthvm.berth $(OUT)/berth
endif

# The guest agent (PID 1 of every VM) for both guest arches; berth finds
# berth-agent-linux-<arch> next to its own executable.
agents:
	@mkdir -p $(OUT)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $(OUT)/berth-agent-linux-amd64 ./app/agent
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $(OUT)/berth-agent-linux-arm64 ./app/agent

# berth/demo:latest for both arches, from Debian's busybox-static: the system's, apt's copy that
# make deps keeps in the kernel cache, or (on a Mac) the pinned download (packaging/demoimage).
demo-images:
	@mkdir -p $(OUT)
	$(GO) build -o $(OUT)/demoimage ./packaging/demoimage
	$(OUT)/demoimage -arch amd64 -o resources/demo/demo-amd64.tar
	$(OUT)/demoimage -arch arm64 -o resources/demo/demo-arm64.tar

## test: deps, lint, the darwin gate, then every Go test (real VMs included).
test: deps lint darwin-check
	@mkdir -p $(OUT)
	$(GO) build -o $(OUT)/testsum ./packaging/testsum
	set -o pipefail; $(GO) test -json $(TEST_FLAGS) ./... | $(OUT)/testsum

## demo: deps, build, then run the embedded demo image in its own VM and list containers.
demo: deps build
	@$(OUT)/berth rm -f berth-demo >/dev/null 2>&1 || true
	$(OUT)/berth run --name berth-demo berth/demo
	$(OUT)/berth ls -a

## bench: benchmarks that print figures (see README).
bench: deps build
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...
	$(GO) run ./core/hypervisor/qemu/bench -n 10 -berth $(OUT)/berth

## chaos: seeded fault injection (N trials, SEED=random): SIGKILL daemon, VM or network mid-operation, check invariants.
# TestChaos in app/berth; make test runs its short fixed-seed pass. The
# seed prints first; CHAOS_SEED=… CHAOS_TRIALS=… replays a failure. No
# go test timeout: each step of a trial has its own hang guard.
N    ?= 40
SEED ?= random
chaos:
	CHAOS_TRIALS=$(N) CHAOS_SEED=$(SEED) $(GO) test -run '^TestChaos$$' -count=1 -v -timeout 0 ./app/berth

## fuzz: every Go fuzz target (of FUZZPKGS, default ./...) for FUZZTIME each (default 1m), one at a time: execs, crashes.
# Their seed corpora (f.Add, testdata/fuzz) already run as tests in make
# test; this searches beyond them. A crash's input lands in the package's
# testdata/fuzz/<target>/, to commit with the fix.
FUZZTIME ?= 1m
FUZZPKGS ?= ./...
fuzz:
	@bash packaging/fuzz.sh '$(GO)' '$(FUZZTIME)' '$(FUZZPKGS)'

## lint: go vet, staticcheck (pinned), shellcheck of the scripts.
lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@if command -v shellcheck >/dev/null; then shellcheck $$(ls packaging/*.sh packaging/deps.d/*.sh 2>/dev/null) .ci/run; \
	 else echo "lint: shellcheck missing (make deps installs it)"; exit 1; fi

## darwin-check: type-check the macOS build (cgo files included), darwinkit and Objective-C rules, on any host.
darwin-check:
	$(GO) run ./packaging/darwincheck -goarch arm64,amd64 ./...

## app: Berth.app, bundled and signed (macOS only): berth is its main executable and runs the menu bar when opened.
# One binary from ./app/berth; bundle.sh refuses one that does not link
# the menu bar (ui/menubar, run by `berth menubar`).
app:
ifeq ($(UNAME_S),Darwin)
	$(MAKE) agents demo-images
	CGO_ENABLED=1 $(GO) build -ldflags '$(LDFLAGS)' -o $(OUT)/darwin/berth ./app/berth
	bash packaging/bundle.sh -o $(OUT) -v $(APP_VERSION) -n $(APP_BUILD) -b $(OUT)/darwin/berth \
		-a $(OUT)/berth-agent-linux-arm64 -a $(OUT)/berth-agent-linux-amd64
	bash packaging/codesign.sh $(OUT)/Berth.app $(BERTH_SIGN_IDENTITY)
else
	@echo "make app builds and signs Berth.app and needs macOS (codesign, cgo for the Virtualization framework)." >&2
	@echo "On $(UNAME_S), use 'make build' for the berth CLI and 'make darwin-check' to type-check the macOS code." >&2
	@exit 1
endif

## clean: remove build outputs (not your data dir).
clean:
	rm -rf $(OUT)
	$(GO) clean -testcache
