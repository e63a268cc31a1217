# The two commands a new user needs:  `make up`  and  `make test`.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
# The client generator the OpenAPI test builds a client with: not a project dependency (its
# own pins clash with ours), so it gets a tool environment of its own under .tools/.
CLIENT_GENERATOR_VERSION := 0.29.1
CLIENT_GENERATOR := .tools/openapi-python-client-$(CLIENT_GENERATOR_VERSION)/openapi-python-client

.PHONY: up test lint typecheck pytest fuzz bench-gateway bench-retrieval bench-memory bench-agents

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv

$(CLIENT_GENERATOR): $(UV)
	UV_TOOL_DIR=$(CURDIR)/.tools/uv-tools UV_TOOL_BIN_DIR=$(CURDIR)/$(dir $(CLIENT_GENERATOR)) \
		$(UV) tool install --quiet openapi-python-client==$(CLIENT_GENERATOR_VERSION)

## Install the platform with its embedded defaults and run every service on 127.0.0.1:8080.
up: $(UV)
	$(UV) sync --frozen --no-dev --all-extras
	$(UV) run --no-sync agentic up

## Install everything and run the whole test suite: ruff, mypy (strict) and pytest.
test: $(UV) $(CLIENT_GENERATOR)
	$(UV) sync --frozen --all-extras
	$(MAKE) lint typecheck pytest

lint:
	$(UV) run --no-sync ruff check src tests bench
	$(UV) run --no-sync ruff format --check src tests bench

typecheck:
	$(UV) run --no-sync mypy src

pytest:
	AGENTIC_OPENAPI_CLIENT_GENERATOR=$$(test -x $(CLIENT_GENERATOR) && echo $(CURDIR)/$(CLIENT_GENERATOR)) \
		$(UV) run --no-sync pytest

## The long schema pass (schemathesis) over every route; `make pytest` runs a short one.
fuzz: $(UV)
	$(UV) sync --frozen --all-extras
	AGENTIC_FUZZ_EXAMPLES=$${AGENTIC_FUZZ_EXAMPLES:-1000} $(UV) run --no-sync pytest -q tests/test_schema_fuzz.py

bench-gateway: $(UV)
	$(UV) sync --frozen --all-extras
	$(UV) run --no-sync python -m bench.gateway --wait-quiet 600

bench-retrieval: $(UV)
	$(UV) sync --frozen --all-extras
	$(UV) run --no-sync python -m bench.retrieval

bench-memory: $(UV)
	$(UV) sync --frozen --all-extras
	$(UV) run --no-sync python -m bench.memory --wait-quiet 600

bench-agents: $(UV)
	$(UV) sync --frozen --all-extras
	$(UV) run --no-sync python -m bench.agents --wait-quiet 600
