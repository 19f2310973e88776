# Overcast's two entry points:  `make demo`  runs the console;  `make test`  runs every test.
# Each installs what is missing first (only from crates.io, npm, PyPI and Debian's packages).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# wasm-bindgen's CLI must match the library version in Cargo.lock exactly.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ { getline; gsub(/"/, "", $$3); print $$3 }' Cargo.lock)
WASM_BINDGEN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin/wasm-bindgen
WASM_OPT := frontend/node_modules/.bin/wasm-opt
UPLOT := frontend/node_modules/uplot/dist
WASM_OUT := target/wasm32-unknown-unknown/wasm-release/overcast-frontend.wasm
DIST := frontend/dist
# Budget of the release WASM before compression, in bytes (served gzipped: about 40 %):
# 2.15 MiB since the Placement page (docs/decisions.md, decision 16).
WASM_BUDGET := 2275410

VENV := e2e/.venv
PY_REQUIREMENTS := e2e/openstack/requirements.txt e2e/api/requirements.txt

.PHONY: help demo test build frontend backend tools test-tools lint unit postgres e2e fidelity real clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  make %-10s %s\n", $$1, $$2 }'

demo: build ## build everything and run `overcast demo` (console + 12 simulated sites)
	./target/release/overcast demo $(ARGS)

test: test-tools lint frontend unit postgres e2e fidelity real ## install what is missing, then run every test
	@echo "make test: all lanes passed"

build: frontend backend ## build the dashboard and the release binary

backend:
	cargo build --release -p overcast

frontend: tools ## build the dashboard into frontend/dist
	cargo build -p overcast-frontend --target wasm32-unknown-unknown --profile wasm-release
	rm -rf $(DIST).tmp && mkdir -p $(DIST).tmp
	$(WASM_BINDGEN) --target web --no-typescript --out-name overcast_frontend --out-dir $(DIST).tmp $(WASM_OUT)
	$(WASM_OPT) -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
		--enable-reference-types --enable-multivalue \
		-o $(DIST).tmp/overcast_frontend_bg.wasm $(DIST).tmp/overcast_frontend_bg.wasm
	cp frontend/index.html frontend/style.css frontend/boot.js $(DIST).tmp/
	# The charts' library (uPlot, MIT), loaded by frontend/chart.js on the first chart.
	cp $(UPLOT)/uPlot.iife.min.js $(UPLOT)/uPlot.min.css $(DIST).tmp/
	gzip -9 -k $(DIST).tmp/overcast_frontend_bg.wasm $(DIST).tmp/overcast_frontend.js $(DIST).tmp/uPlot.iife.min.js
	rm -rf $(DIST) && mv $(DIST).tmp $(DIST)
	@size=$$(stat -c %s $(DIST)/overcast_frontend_bg.wasm); \
	echo "dashboard WASM: $$size bytes (budget $(WASM_BUDGET))"; \
	test $$size -le $(WASM_BUDGET) || { echo "dashboard WASM is over budget" >&2; exit 1; }

tools: ## the wasm32 target, wasm-bindgen-cli, wasm-opt and uPlot, at pinned versions
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@if [ "$$($(WASM_BINDGEN) --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
		echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (a few minutes, once)"; \
		cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --force; fi
	@[ -x $(WASM_OPT) ] && [ -f $(UPLOT)/uPlot.iife.min.js ] || (cd frontend && npm ci --no-audit --no-fund)

test-tools: tools ## chromium for the browser tests, Playwright's driver library, prometheus
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@# prometheus and promtool for the scrape test, which starts its own on 127.0.0.1: the
	@# package's service, if an init system started it, is stopped and left disabled.
	@command -v promtool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; \
		! command -v systemctl >/dev/null || systemctl disable --now prometheus >/dev/null 2>&1 || true; }
	@[ -d e2e/node_modules/playwright-core ] || (cd e2e && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
	@cat $(PY_REQUIREMENTS) | cmp -s - $(VENV)/installed.txt || { \
		echo "installing python-openstackclient, openstacksdk and schemathesis into $(VENV)"; \
		python3 -m venv $(VENV) && $(VENV)/bin/pip install -q $(addprefix -r ,$(PY_REQUIREMENTS)) && \
		cat $(PY_REQUIREMENTS) > $(VENV)/installed.txt; }

lint: ## formatting and clippy, warnings are errors
	cargo fmt --all --check
	cargo clippy --workspace --exclude overcast-frontend --all-targets -- -D warnings
	cargo clippy -p overcast-frontend --target wasm32-unknown-unknown -- -D warnings

unit: ## unit and integration tests of the Rust crates (the dashboard's pure logic runs natively)
	cargo test --workspace

postgres: ## the integration suite again, each console on its own database of a private PostgreSQL cluster
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }
	cargo build -p overcast --tests
	dir=$$(mktemp -d /tmp/overcast-pg.XXXXXX); url=$$(e2e/postgres/cluster.sh start $$dir); \
	trap "e2e/postgres/cluster.sh stop $$dir" EXIT; \
	OVERCAST_TEST_POSTGRES=$$url cargo test -p overcast --test integration

e2e: ## browser and multi-process tests against real `overcast` processes
	cargo build -p overcast
	cd e2e && OVERCAST_BIN=$(CURDIR)/target/debug/overcast OVERCAST_WEB_DIR=$(CURDIR)/$(DIST) npm test

fidelity: ## python-openstackclient and openstacksdk against `overcast sim`; schemathesis against the console
	cargo build -p overcast
	OVERCAST_BIN=$(CURDIR)/target/debug/overcast $(VENV)/bin/python -m pytest -q -p no:cacheprovider e2e/openstack e2e/api

real: ## the console against two real OpenStack sites on loopback (installed once into ~/.cache/overcast)
	cargo build -p overcast
	OVERCAST_BIN=$(CURDIR)/target/debug/overcast $(VENV)/bin/python -m pytest -q -p no:cacheprovider e2e/real

clean:
	rm -rf $(DIST) $(DIST).tmp e2e/artifacts
