# Keiyaku — make help lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
KEIYAKU := $(GO) run ./tools/keiyaku
# Pinned tool versions (no @latest anywhere).
OAPI_CODEGEN_VERSION := v2.8.2
ACTIONLINT_VERSION   := v1.7.12
# The runtime's own Go modules (README, "Modules"): ./... of the root module
# does not reach them, so test and check visit each.
RUNTIME_MODULES := runtime runtime/sqldb runtime/telemetry/export runtime/outbox runtime/app

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: generate
generate: ## generate Go code from the contracts into gen/ (the main job)
	$(KEIYAKU) generate
	cp gen/room/v1/openapi.gen.go runtime/httpserver/internal/roomv1/openapi.gen.go

.PHONY: lint
lint: ## check that every contract loads, validates and follows the rules
	$(KEIYAKU) lint

# The baseline of the breaking-change gate; CI on a pull request sets it to
# the target branch; merge_base=true compares with where HEAD left it.
AGAINST ?= .git\#branch=main,merge_base=true
FORMAT  ?= text

.PHONY: breaking
breaking: ## report contract changes that break clients, against $(AGAINST)
	$(KEIYAKU) breaking --against '$(AGAINST)' --format $(FORMAT)

# Second opinion on the AsyncAPI documents: the official @asyncapi/parser
# (pinned in tools/asyncapi-check/package-lock.json, installed there with
# --ignore-scripts). The keiyaku binary itself never needs Node.
ASYNCAPI_CHECK := tools/asyncapi-check
ASYNCAPI_DOCS  := $(sort $(wildcard contracts/*/*/asyncapi.yaml)) tools/internal/generator/testdata/kinds/contracts/kinds/v1/asyncapi.yaml
$(ASYNCAPI_CHECK)/node_modules/.package-lock.json: $(ASYNCAPI_CHECK)/package.json $(ASYNCAPI_CHECK)/package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --prefix $(ASYNCAPI_CHECK)

.PHONY: asyncapi-check
asyncapi-check: $(ASYNCAPI_CHECK)/node_modules/.package-lock.json ## second opinion on every asyncapi.yaml (official Node parser)
	node $(ASYNCAPI_CHECK)/check.mjs $(ASYNCAPI_DOCS)
	node --test $(ASYNCAPI_CHECK)/

.PHONY: check
check: ## what CI gates on: go vet, gofmt, contract lint, breaking changes against main, stale gen/, AsyncAPI second opinion, stale pacts/
	$(GO) vet ./...
	@for m in $(RUNTIME_MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done
	@for m in . $(RUNTIME_MODULES); do (cd $$m && $(GO) mod tidy -diff) || { echo "go.mod of $$m is not tidy: run go mod tidy there"; exit 1; }; done
	@cmp -s gen/room/v1/openapi.gen.go runtime/httpserver/internal/roomv1/openapi.gen.go || { echo "runtime/httpserver/internal/roomv1 is stale: make generate"; exit 1; }
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(KEIYAKU) lint --format $(FORMAT)
	$(KEIYAKU) breaking --against '$(AGAINST)' --format $(FORMAT)
	$(KEIYAKU) generate --check
	$(MAKE) --no-print-directory asyncapi-check
	$(MAKE) --no-print-directory pacts-check
	$(MAKE) --no-print-directory actionlint

# The workflows, the composite action (action.yml, checked through
# .github/workflows/gate.yml, which uses it) and the workflow keiyaku init writes.
.PHONY: actionlint
actionlint: ## check action.yml and the GitHub workflows with actionlint (pinned)
	$(GO) run github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION) .github/workflows/*.yml tools/internal/scaffold/templates/service/workflow.yml

.PHONY: test
test: ## run every test (real HTTP over loopback, real files, no mocks of our own parts), then the Pact tests
	$(GO) test -race -count=1 ./...
	@for m in $(RUNTIME_MODULES); do echo "go test $$m"; (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done
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
# The official Pact CLI (its Rust "pact verifier"), run against the member
# and room binaries by pact/verifier_cli_test.go; installed into .pact/bin
# from npm, pinned. PACT_DO_NOT_TRACK: no Pact tool phones home.
PACT_CLI_PKG      := @pact-foundation/pact-cli
PACT_CLI_VERSION  := 18.1.2
PACT_CLI          := $(PACT_DIR)/bin/pact
PACT_ENV          := PACT_GO_LIB_DOWNLOAD_PATH='$(PACT_LIB_DIR)' \
                     CGO_ENABLED=1 CGO_LDFLAGS='-L$(PACT_LIB_DIR) -Wl,-rpath,$(PACT_LIB_DIR)' \
                     LD_LIBRARY_PATH='$(PACT_LIB_DIR)' PACT_DO_NOT_TRACK=true KEIYAKU_PACT_CLI='$(PACT_CLI)'
# The Pact tests: consumer tests (they write the pacts) and provider
# verifications, behind the build tag "pact".
PACT_PKGS         := ./pact/...

.PHONY: pact-install
pact-install: ## install libpact_ffi 0.4.28 into .pact/lib and the Pact CLI into .pact/bin (from npm, pinned; skipped when present)
	@PACT_CORE_PKG='$(PACT_CORE_PKG)' PACT_CORE_VERSION='$(PACT_CORE_VERSION)' pact/install.sh '$(PACT_DIR)' lib
	@PACT_CLI_PKG='$(PACT_CLI_PKG)' PACT_CLI_VERSION='$(PACT_CLI_VERSION)' pact/install.sh '$(PACT_DIR)' cli

.PHONY: pact-test
pact-test: pact-install ## run the Pact consumer tests and provider verifications (build tag pact), and the Pact CLI against the member and room binaries
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

# Conformance of the wire formats against tools we did not write: kcat
# (librdkafka) reads and writes events on the embedded broker, promtool
# lints every service's /metrics, psql audits the outbox and the
# processed-events tables. The Debian packages are installed when missing;
# the tests (build tag peers) fail, not skip, without them.
.PHONY: peer-test
peer-test: ## conformance tests against kcat, promtool and psql (Debian packages, installed when missing)
	@if ! command -v kcat >/dev/null || ! command -v promtool >/dev/null || ! command -v psql >/dev/null; then \
	  echo "installing kcat, prometheus (promtool) and postgresql-client (Debian packages)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat prometheus postgresql-client; \
	fi
	KEIYAKU_TEST_POSTGRES_DSN="$${KEIYAKU_TEST_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}" \
	  $(GO) test -tags peers -race -count=1 ./services/e2e/peers/...

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
