# hotline — see README.md. `make test` and `make demo` install what they need.
GO      ?= go
BIN     := bin/hotline
PKGS    := ./...
TESTFLAGS ?= -count=1 -timeout 20m

.PHONY: all build test race unit vet deps-test deps-demo bench run prompts demo clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/hotline

deps-test:
	scripts/install-deps.sh test

deps-demo:
	scripts/install-deps.sh demo

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)

# Every test, end-to-end ones included (real PostgreSQL, SIPp, baresip, promtool).
test: deps-test vet prompts
	$(GO) test $(TESTFLAGS) $(PKGS)

# The whole suite under the race detector (slower; clean as of this writing).
race: deps-test vet prompts
	$(GO) test -race $(TESTFLAGS) $(PKGS)

# Unit tests only: no external peers.
unit:
	$(GO) test -short $(TESTFLAGS) $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

run: build prompts
	$(BIN) serve -config examples/hotline.yaml

prompts:
	scripts/make-prompts.sh

demo: deps-demo build prompts
	scripts/demo.sh

clean:
	rm -rf bin var prompts/generated
