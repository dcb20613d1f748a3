# The commands of README. `make run` serves on the embedded SQLite default;
# `make test` runs every test (PostgreSQL too, where a server answers).

CARGO ?= cargo
BIN   := pso-registry

.PHONY: run build test lint fmt openapi ci clean

## Build and serve on the embedded default (SQLite under ./data/), at BIND (127.0.0.1:8080).
run:
	$(CARGO) run --locked -p pso-registry-api --bin $(BIN) -- serve

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
