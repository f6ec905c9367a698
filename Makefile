# Berth. Start here:
#   make demo    set up this machine, build, and run a container in a VM
#   make test    set up this machine and run every test (what CI runs)
# Other targets: deps build bench lint darwin-check app clean (see `make help`).

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
OUT       ?= .build
LDFLAGS   := -X github.com/berthvm/berth/core/buildinfo.Version=$(VERSION) \
             -X github.com/berthvm/berth/core/buildinfo.Commit=$(COMMIT)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
UNAME_S   := $(shell uname -s)
SHELL     := /bin/bash
.SHELLFLAGS := -o pipefail -ec
# Go test settings: every real-VM and real-tool test must run, not skip.
TEST_FLAGS ?= -timeout 25m
export BERTH_REQUIRE_ALL ?= 1

# Folders share names with targets (app/, …): declare every target phony.
.PHONY: help deps build agents demo-images test demo bench lint darwin-check app clean

help:
	@echo "Berth make targets:"
	@sed -n 's/^## \([a-z-]*\): /  \1\t/p' Makefile | expand -t 16

## deps: install what this machine needs (apt packages, guest kernels). Idempotent.
deps:
	@bash packaging/deps.sh
	@$(GO) mod download

## build: the berth CLI+daemon for this host, the guest agents beside it, the embedded demo image.
build: agents demo-images
	$(GO) build -ldflags '$(LDFLAGS)' -o $(OUT)/berth ./app/berth

# The guest agent (PID 1 of every VM) for both guest arches; berth finds
# berth-agent-linux-<arch> next to its own executable.
agents:
	@mkdir -p $(OUT)
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $(OUT)/berth-agent-linux-amd64 ./app/agent
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $(OUT)/berth-agent-linux-arm64 ./app/agent

# berth/demo:latest for both arches, from Debian's busybox-static (make deps fetches the arm64 one).
demo-images:
	@mkdir -p $(OUT)
	$(GO) build -o $(OUT)/demoimage ./packaging/demoimage
	$(OUT)/demoimage -arch amd64 -o resources/demo/demo-amd64.tar
	$(OUT)/demoimage -arch arm64 -o resources/demo/demo-arm64.tar

## test: deps, lint, the darwin gate, then every Go test (real VMs included).
test: deps lint darwin-check
	@mkdir -p $(OUT)
	$(GO) build -o $(OUT)/testsum ./packaging/testsum
	$(GO) test -json $(TEST_FLAGS) ./... | $(OUT)/testsum

## demo: deps, build, then run the embedded demo image in its own VM and list containers.
demo: deps build
	@$(OUT)/berth rm -f berth-demo >/dev/null 2>&1 || true
	$(OUT)/berth run --name berth-demo berth/demo
	$(OUT)/berth ls -a

## bench: benchmarks that print figures (see README).
bench: deps build
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...
	$(GO) run ./core/hypervisor/qemu/bench -n 10 -berth $(OUT)/berth

## lint: go vet, staticcheck (pinned), shellcheck of the scripts.
lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@if command -v shellcheck >/dev/null; then shellcheck $$(ls packaging/*.sh packaging/deps.d/*.sh 2>/dev/null) .ci/run; \
	 else echo "lint: shellcheck missing (make deps installs it)"; exit 1; fi

## darwin-check: type-check the macOS build (cgo files included) on any host.
darwin-check:
	$(GO) run ./packaging/darwincheck -goarch arm64,amd64 ./...

## app: Berth.app, bundled and signed (macOS only).
app:
ifeq ($(UNAME_S),Darwin)
	$(MAKE) agents demo-images
	CGO_ENABLED=1 $(GO) build -ldflags '$(LDFLAGS)' -o $(OUT)/darwin/berth ./app/berth
	bash packaging/bundle.sh -o $(OUT) -v $(shell echo $(VERSION) | sed -E 's/^v//; s/[^0-9.].*//; s/^$$/0.0.0/') \
		-b $(OUT)/darwin/berth -a $(OUT)/berth-agent-linux-arm64 -a $(OUT)/berth-agent-linux-amd64
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
