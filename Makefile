# hotline — see README.md. `make test` and `make demo` install what they need.
GO      ?= go
BIN     := bin/hotline
PKGS    := ./...
TESTFLAGS ?= -count=1 -timeout 20m

.PHONY: all build test race unit vet deps-test deps-demo bench run prompts demo clean fuzz

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

# Every fuzz target (func FuzzXxx in a *_test.go) for FUZZTIME each, one at a
# time on one worker: go test -fuzz takes one target per run. Plain go test
# runs their seed corpora. See docs/fuzzing.md; e.g. make fuzz FUZZTIME=5m.
# Go 1.26 can end a run with a bare "context deadline exceeded" at the
# fuzztime boundary (golang/go#75804): that is reported, not failed, when no
# failing input was written.
FUZZTIME ?= 10s
FUZZPKGS ?= $(addprefix ./,$(sort $(dir $(shell git grep -l --untracked '^func Fuzz' -- '*_test.go'))))
fuzz:
	@set -e; log=$$(mktemp); trap 'rm -f $$log $$log.rc' EXIT; \
	for pkg in $(FUZZPKGS); do \
		list=$$($(GO) test -list '^Fuzz' $$pkg); \
		for t in $$(echo "$$list" | grep '^Fuzz'); do \
			echo "== $$pkg $$t ($(FUZZTIME))"; \
			{ rc=0; $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -parallel=1 -timeout 0 $$pkg || rc=$$?; echo $$rc >$$log.rc; } 2>&1 | tee $$log; \
			if [ "$$(cat $$log.rc)" != 0 ]; then \
				if grep -q 'context deadline exceeded' $$log && ! grep -q 'Failing input written' $$log; then \
					echo "== $$t: fuzztime race of the Go toolchain (golang/go#75804), no failing input: not a failure"; \
				else exit 1; fi; \
			fi; \
		done; \
	done
