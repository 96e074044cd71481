# One-command set-up and checks. Every target is idempotent.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.mmpat-installed
REQS   := requirements/torch.txt requirements/runtime.txt requirements/tests.txt setup.py

.PHONY: install test lint format demo leaderboard reproduce-vlm clean-venv

install: $(STAMP)

$(STAMP): $(REQS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel
	$(PY) -m pip install -q -r requirements/torch.txt
	$(PY) -m pip install -q -r requirements/runtime.txt -r requirements/tests.txt
	$(PY) -m pip install -q --no-build-isolation --no-deps -e .
	$(PY) -c "import mmpat, mmseg, torch; print('mmpat', mmpat.__version__, 'mmseg', mmseg.__version__, 'torch', torch.__version__)"
	touch $(STAMP)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint
	$(PY) -m pytest -q tests projects

# mmseg's own installed unit tests (heads, backbones, necks, segmentors, utils) under mmpat.
.PHONY: test-upstream
test-upstream: install
	$(PY) tools/test_upstream.py

demo: install
	$(PY) tools/run_offline_benchmark.py

# Every method on the scenes (the main job + GroupViT + the training-free variants), with speed,
# FLOPs and parameters: work_dirs/leaderboard/leaderboard.md.
leaderboard: install
	$(PY) tools/run_leaderboard.py --reference

# Retrain the shipped scenes VLM (about 15 min on one core) and check it is bit for bit
# weights/clip-tiny_scenes.seeded.pth.
reproduce-vlm: install
	OMP_NUM_THREADS=1 $(PY) tools/train.py configs/clip/clip-tiny_scenes.py --work-dir work_dirs/reproduce-vlm
	$(PY) tools/model_converters/seeded_clip.py check weights/clip-tiny_scenes.seeded.pth work_dirs/reproduce-vlm/clip_tiny.pth

clean-venv:
	rm -rf $(VENV)
