# Keiyaku — make help lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
KEIYAKU := $(GO) run ./tools/keiyaku
# Pinned tool versions (no @latest anywhere).
OAPI_CODEGEN_VERSION := v2.8.2

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: generate
generate: ## generate Go code from the contracts into gen/ (the main job)
	$(KEIYAKU) generate

.PHONY: lint
lint: ## check that every contract loads, validates and follows the rules
	$(KEIYAKU) lint

# The baseline of the breaking-change gate; CI on a pull request sets it to
# the target branch (e.g. AGAINST='.git#branch=origin/main').
AGAINST ?= .git\#branch=main
FORMAT  ?= text

.PHONY: breaking
breaking: ## report contract changes that break clients, against $(AGAINST)
	$(KEIYAKU) breaking --against '$(AGAINST)' --format $(FORMAT)

# Second opinion on the AsyncAPI documents: the official @asyncapi/parser
# (pinned in tools/asyncapi-check/package-lock.json, installed there with
# --ignore-scripts). The keiyaku binary itself never needs Node.
ASYNCAPI_CHECK := tools/asyncapi-check
ASYNCAPI_DOCS  := $(sort $(wildcard contracts/*/*/asyncapi.yaml))
$(ASYNCAPI_CHECK)/node_modules/.package-lock.json: $(ASYNCAPI_CHECK)/package.json $(ASYNCAPI_CHECK)/package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --prefix $(ASYNCAPI_CHECK)

.PHONY: asyncapi-check
asyncapi-check: $(ASYNCAPI_CHECK)/node_modules/.package-lock.json ## second opinion on every asyncapi.yaml (official Node parser)
	node $(ASYNCAPI_CHECK)/check.mjs $(ASYNCAPI_DOCS)
	node --test $(ASYNCAPI_CHECK)/

.PHONY: check
check: ## what CI gates on: go vet, gofmt, contract lint, breaking changes against main, stale gen/, AsyncAPI second opinion, stale pacts/
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(KEIYAKU) lint --format $(FORMAT)
	$(KEIYAKU) breaking --against '$(AGAINST)' --format $(FORMAT)
	$(KEIYAKU) generate --check
	$(MAKE) --no-print-directory asyncapi-check
	$(MAKE) --no-print-directory pacts-check

.PHONY: test
test: ## run every test (real HTTP over loopback, real files, no mocks of our own parts), then the Pact tests
	$(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory pact-test

.PHONY: demo
demo: ## run the reference system on the embedded broker and narrate a scenario
	$(GO) run ./services/demo

.PHONY: build
build: ## build bin/keiyaku
	$(GO) build -o bin/keiyaku ./tools/keiyaku

.PHONY: bench
bench: ## measure Keiyaku against its references (raw franz-go and twmb/avro, bare http.Client, oasdiff, oapi-codegen) into one table, BENCHMARKS.md
	OAPI_CODEGEN_VERSION=$(OAPI_CODEGEN_VERSION) $(GO) run ./tools/bench/table

# Pact: pact-go v2.4.2 calls libpact_ffi 0.4.x; the npm package
# @pact-foundation/pact-core-linux-x64-glibc@18.1.0 ships 0.4.28 (newer
# ones ship 0.5.x, which lacks symbols pact-go calls). It is installed into
# the ignored .pact/ folder; PACT_GO_LIB_DOWNLOAD_PATH is always set, so
# pact-go finds it there and never downloads anything itself.
PACT_CORE_PKG     := @pact-foundation/pact-core-linux-x64-glibc
PACT_CORE_VERSION := 18.1.0
PACT_DIR          := $(CURDIR)/.pact
PACT_LIB_DIR      := $(PACT_DIR)/lib
PACT_LIB          := $(PACT_LIB_DIR)/libpact_ffi.so
PACT_ENV          := PACT_GO_LIB_DOWNLOAD_PATH='$(PACT_LIB_DIR)' \
                     CGO_ENABLED=1 CGO_LDFLAGS='-L$(PACT_LIB_DIR) -Wl,-rpath,$(PACT_LIB_DIR)' \
                     LD_LIBRARY_PATH='$(PACT_LIB_DIR)'
# The Pact tests: consumer tests (they write the pacts) and provider
# verifications, behind the build tag "pact".
PACT_PKGS         := ./pact/...

.PHONY: pact-install
pact-install: ## install libpact_ffi 0.4.28 into .pact/lib (from npm, pinned; skipped when present)
	@PACT_CORE_PKG='$(PACT_CORE_PKG)' PACT_CORE_VERSION='$(PACT_CORE_VERSION)' pact/install.sh '$(PACT_DIR)'

.PHONY: pact-test
pact-test: pact-install ## run the Pact consumer tests and provider verifications (build tag pact)
	$(PACT_ENV) $(GO) test -tags pact -race -count=1 $(PACT_PKGS)

.PHONY: pacts
pacts: pact-install ## regenerate pacts/ from the consumer tests
	$(PACT_ENV) KEIYAKU_PACT_DIR='$(CURDIR)/pacts' $(GO) test -tags pact -count=1 -run 'Consumer' ./pact/

.PHONY: pacts-check
pacts-check: pact-install ## fail when pacts/ is not what the consumer tests write
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  $(PACT_ENV) KEIYAKU_PACT_DIR="$$tmp" $(GO) test -tags pact -count=1 -run 'Consumer' ./pact/ >"$$tmp/out.txt" 2>&1 || { cat "$$tmp/out.txt"; exit 1; }; \
	  rm -f "$$tmp/out.txt"; \
	  if ! diff -ru pacts "$$tmp"; then echo "pacts/ is stale: run make pacts and commit the result"; exit 1; fi

# The contract catalog: `keiyaku docs` writes site/ (git-ignored); the
# browser test loads every page in headless Chromium (Debian's chromium and
# chromium-driver, installed here when missing) and writes the screenshot
# of the service map that the README shows.
.PHONY: docs
docs: ## build the contract catalog into site/ and test it in headless Chromium
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  echo "installing chromium and chromium-driver (Debian packages)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi
	$(KEIYAKU) docs -o site/
	$(GO) test -tags browser -count=1 -run '^TestBrowser$$' ./tools/internal/docs/ -args -site='$(CURDIR)/site' -screenshot='$(CURDIR)/docs/catalog.png'
