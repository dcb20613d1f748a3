# The commands of README. `make run` serves on the embedded SQLite default;
# `make test` runs every test (PostgreSQL too, where a server answers).

CARGO ?= cargo
BIN   := pso-registry

.PHONY: run demo build test lint fmt openapi contract fuzz bench bench-baseline bench-smoke wrk ci clean

# `make bench` measures 10k and 100k companies; BENCH_SCALE=1m adds 1M.
comma := ,
BENCH_SCALES := 10k,100k$(if $(filter 1m,$(BENCH_SCALE)),$(comma)1m,)

## Build and serve on the embedded default (SQLite under ./data/), at BIND (127.0.0.1:8080).
run:
	$(CARGO) run --locked -p pso-registry-api --bin $(BIN) -- serve

## Seed a few hundred fictitious companies into the default database (or DATABASE_URL).
demo:
	$(CARGO) run --locked -q -p pso-registry-api --bin $(BIN) -- seed --companies 300

build:
	$(CARGO) build --locked --workspace

## All tests: the core's unit and property tests, its lifecycle tests through SQLite
## and PostgreSQL, and the black-box tests of the real server over HTTP on both.
## PostgreSQL: TEST_DATABASE_URL, or the local server at 127.0.0.1:5432 (user postgres);
## where none answers, the PostgreSQL tests are skipped with a loud line
## (PSO_REQUIRE_POSTGRES=1 makes that a failure, as in CI).
test:
	$(CARGO) test --locked --workspace

## Regenerate the checked-in OpenAPI document from the code (a test fails when it is stale).
openapi:
	$(CARGO) run --locked -q -p pso-registry-api --bin $(BIN) -- openapi > openapi/openapi.json

## The contract as integrators check it: the NLGov ADR linter (Logius's ruleset, at
## ADR_RULESET), the OWASP ruleset, schemathesis on SQLite and PostgreSQL, a generated
## Python client, and the log and signed answers checked with Go's x/mod/sumdb and PyJWT
## (tools installed under target/contract; needs python3, npm and Go with x/mod).
ADR_RULESET ?= ../shared/tools/adr/ruleset.yaml
contract:
	ADR_RULESET=$(ADR_RULESET) tests/contract/run

## Property-based fuzzing of what clients send (compact JWSs, claims, JSON bodies, query
## strings, cursors, names) with fresh seeds for FUZZ_SECONDS in all (default 1800, one
## core): no input may panic. `make test` runs the same targets for 2,000 cases each.
FUZZ_SECONDS ?= 1800
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test --release --locked -p pso-registry-api --test fuzz -- --nocapture --test-threads=1

## The benchmark (release build): seeds each backend, loads every hot path next to the
## HTTP ceiling of this machine, and appends a table to BENCHMARKS.md.
bench: wrk bench-baseline
	$(CARGO) build --release --locked -p pso-registry-api -p pso-registry-tests --bins
	./target/release/pso-bench run --scale $(BENCH_SCALES) --out BENCHMARKS.md \
		--baseline-bin $(BASELINE_BIN)

## The register before the transparency log (commit BENCH_BASELINE, from this clone's
## history), built once under target/bench-baseline: signed issuance is measured on it
## and on this build in one run.
BENCH_BASELINE ?= fd61fec
BASELINE_DIR   := target/bench-baseline/$(BENCH_BASELINE)
BASELINE_BIN   := $(BASELINE_DIR)/target/release/$(BIN)
bench-baseline:
	@test -x $(BASELINE_BIN) || { \
		rm -rf $(BASELINE_DIR)/src && mkdir -p $(BASELINE_DIR)/src && \
		git archive $(BENCH_BASELINE) | tar -x -C $(BASELINE_DIR)/src && \
		cd $(BASELINE_DIR)/src && CARGO_TARGET_DIR=../target $(CARGO) build --release --locked -p pso-registry-api --bin $(BIN); }

## The benchmark in small (1,000 companies, 2 s a load, debug build), so it cannot rot; CI runs it.
bench-smoke: wrk
	$(CARGO) build --locked -p pso-registry-api -p pso-registry-tests --bins
	./target/debug/pso-bench run --smoke --bin-dir target/debug --out target/bench-smoke.md

wrk:
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)

## Formatting and lints, as CI checks them.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## What CI runs (installs and starts PostgreSQL where needed).
ci:
	bash .ci/run

clean:
	$(CARGO) clean
