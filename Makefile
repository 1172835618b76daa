# Two commands matter (see README): `make run` brings up a local stack, `make test` runs every
# test suite, installing what it needs first.

SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test deps build lint fmt test-rust test-deploy test-e2e test-browser test-conformance bench soak clean

## run: local stack (dev IdP + auth-proxy + mcp-server + Nextcloud stand-in); in-memory store unless AUTH_PROXY_REDIS_URL is set
run: build
	scripts/dev-stack.sh

## test: everything CI runs (lint, Rust unit/API/store-contract tests, deployment files, e2e with real Redis + IdP + MCP clients, browser, conformance)
test: deps lint build test-rust test-deploy test-e2e test-browser test-conformance

## deps: install redis-server, chromium and the Node test packages (from the lockfile) when missing
deps:
	scripts/ensure-deps.sh

build:
	$(CARGO) build --workspace --locked

## lint: rustfmt, clippy (incl. the clock rule of clippy.toml), cargo-deny (deny.toml: licences, bans, sources)
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	@$(CARGO) deny --version >/dev/null 2>&1 || { echo "cargo-deny is missing: run make deps"; exit 1; }
	$(CARGO) deny --offline --log-level error check licenses bans sources

fmt:
	$(CARGO) fmt --all

test-rust:
	$(CARGO) test --workspace --locked

## test-deploy: Dockerfiles, Helm chart and k8s/ validated offline (installs its tools into tests/deploy/.venv)
test-deploy:
	tests/deploy/run.sh

test-e2e:
	@out=$$(php tests/fixtures/dav/check.php 2>&1) || { echo "$$out"; exit 1; }; echo "$$out" | tail -n 1
	cd tests && node --test --test-concurrency=1 nextcloud/*.test.mjs e2e/*.test.mjs

test-browser:
	cd tests && node --test --test-concurrency=1 browser/*.test.mjs

test-conformance:
	cd tests && node conformance/run.mjs
	cd tests && node conformance/run-server.mjs

## bench: issue 13's benchmark set, ours next to the original Python server (PyPI nextcloud-mcp-server 0.202.1 in tests/bench/.venv) with wrk, printing original | ours | ratio | goal (docs/benchmarks.md); not part of test. BENCH_SMOKE=1: 1 s runs, no original
bench: deps
	$(CARGO) build --release --locked -p auth-proxy -p mcp-server --bin auth-proxy --bin mcp-server --example http_floor
	tests/bench/run.sh

## soak: 10 minutes of mixed load (sign-ins, refreshes, tool calls, abusive CIMD/DCR) on the whole stack, memory sampled; see docs/reliability.md (a 60 s variant runs in test-e2e)
soak: deps build
	cd tests && node soak/soak.mjs --duration $${SOAK_SECS:-600}

clean:
	$(CARGO) clean
	rm -rf tests/node_modules tests/artifacts tests/.venv tests/deploy/.venv tests/deploy/out
