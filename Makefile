# Herald: `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
export UV_PYTHON_DOWNLOADS := never
PY_SOURCES := $(wildcard libs services tools tests bench)
PROTO_OUT := libs/herald/src
INFRA := deploy/local/infra.sh

.PHONY: help setup infra-up infra-down infra-status browser topics proto proto-check lint fmt test test-e2e test-faults bench run

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-13s\033[0m %s\n", $$1, $$2}'

setup: ## install uv if missing, then every package of the workspace from uv.lock into .venv
	@$(UV) --version >/dev/null 2>&1 || { echo "installing uv $(UV_VERSION)"; python3 -m pip install -q "uv==$(UV_VERSION)"; }
	@$(UV) sync --all-packages --frozen --quiet
	@echo "setup: .venv is ready"

infra-up: ## start Kafka (KRaft), Redis and PostgreSQL on 127.0.0.1 (idempotent)
	@$(INFRA) up

infra-down: ## stop the local infrastructure (state stays in .herald/)
	@$(INFRA) down

infra-status: ## show whether each infrastructure component is up
	@$(INFRA) status

browser: ## install Debian's chromium and dbus-daemon for the browser tests when missing
	@deploy/local/browser.sh

topics: setup infra-up ## create or update Herald's Kafka topics
	@$(UV) run --frozen herald-topics apply

proto: ## regenerate the Python code for proto/herald/v1/*.proto
	@$(UV) run --frozen python -m grpc_tools.protoc -Iproto --python_out=$(PROTO_OUT) --pyi_out=$(PROTO_OUT) proto/herald/v1/*.proto
	@echo "proto: generated $(PROTO_OUT)/herald/v1"

proto-check: ## fail when the generated protobuf code is stale
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(UV) run --frozen python -m grpc_tools.protoc -Iproto --python_out=$$tmp --pyi_out=$$tmp proto/herald/v1/*.proto && \
	for f in $$tmp/herald/v1/*; do \
	  cmp -s "$$f" "$(PROTO_OUT)/herald/v1/$$(basename $$f)" || { echo "proto-check: $(PROTO_OUT)/herald/v1/$$(basename $$f) is stale: run 'make proto'"; exit 1; }; \
	done; \
	extra=$$(comm -13 <(cd $$tmp/herald/v1 && ls) <(cd $(PROTO_OUT)/herald/v1 && ls *_pb2.py* )); \
	[ -z "$$extra" ] || { echo "proto-check: generated files without a .proto: $$extra"; exit 1; }; \
	echo "proto-check: generated code is up to date"

lint: setup proto-check ## ruff (lint + format check) and mypy --strict
	@$(UV) run --frozen ruff check $(PY_SOURCES)
	@$(UV) run --frozen ruff format --check $(PY_SOURCES)
	@$(UV) run --frozen mypy $(PY_SOURCES)

fmt: ## format the Python code and apply ruff's safe fixes
	@$(UV) run --frozen ruff check --fix $(PY_SOURCES)
	@$(UV) run --frozen ruff format $(PY_SOURCES)

test: setup infra-up browser lint ## start what is needed, then lint and the whole test suite
	@$(UV) run --frozen pytest

test-e2e: setup infra-up browser ## only the end-to-end tests (demo page in Chromium, pipeline, herald-run)
	@$(UV) run --frozen pytest tests/e2e

test-faults: setup infra-up ## only the fault suite: crashes and restarts under load, counted (private infra)
	@$(UV) run --frozen pytest tests/faults

bench: setup infra-up ## every benchmark, repeated, into BENCHMARKS.md and its plots (about 15 min)
	@$(UV) run --frozen python -m bench

run: setup ## start everything and show a notification flowing end to end (Ctrl-C stops it)
	@$(UV) run --frozen herald-run
