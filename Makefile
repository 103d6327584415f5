# AIGC from Zero to Practice: two commands do all set-up.
#   make book   venv + pinned deps + data + execute notebooks + render _build/html (warnings are errors)
#   make test   unit tests + every notebook under nbval (quick mode) + book pages build without warnings
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The course's offline data mirror, when it sits beside the checkout (CI, workshop machines).
ifeq ($(strip $(AIGC_DATA_MIRROR)),)
ifneq ($(wildcard ../shared/data-mirror/SHA256SUMS),)
export AIGC_DATA_MIRROR := $(abspath ../shared/data-mirror)
endif
endif
export AIGC_MODE ?= auto
export PYTHONUNBUFFERED := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: i18n pdf pdf-check slides bench-gpu help venv data test unit notebooks api-pages site-assets site-test book-check clean-notebooks book clean bench mutants calibrate

help:
	@echo "make book   - set up everything and render the book into _build/html"
	@echo "make test   - unit tests + nbval of every notebook (quick mode) + book build check"
	@echo "make bench  - python -m aigc_lessons.bench for every chapter (AIGC_MODE=full on a GPU)"
	@echo "make site-test - the built site in headless Chromium, offline (make test runs it on the check build)"
	@echo "make mutants   - mutation testing of the math modules (slow; not part of make test)"
	@echo "make calibrate - re-measure the quick-mode thresholds over seeds and floating-point paths (slow)"
	@echo "make pdf    - the book as one PDF per edition, English and Chinese (_build/pdf/), for handouts; needs Chromium"
	@echo "make slides - one slide deck per chapter (_build/html/slides/), offline; make book builds them too"
	@echo "make i18n   - update the Chinese edition's message catalogues (book/locale/zh_CN) from the English sources"
	@echo "make clean  - remove _build (keeps .venv and the data cache)"

venv: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

data: venv
	$(BIN)/python -m aigc_lessons.data fetch

clean-notebooks: venv
	$(BIN)/python .ci/check_notebooks.py notebooks

unit: venv data
	AIGC_MODE=quick $(BIN)/python -m pytest tests --durations=10

notebooks: venv data
	AIGC_MODE=quick $(BIN)/python -m pytest --nbval-lax notebooks -p no:cacheprovider --durations=0

api-pages: venv
	$(BIN)/python .ci/api_pages.py
	$(BIN)/python .ci/performance_page.py
	$(BIN)/python .ci/code_map.py --check

site-assets: venv
	$(BIN)/python .ci/vendor_assets.py

# The pages built with execution off, from a staged copy of the sources in which each notebook carries the
# outputs of make test's own nbval run (when current): the checked site shows the figures readers see.
book-check: venv api-pages site-assets
	$(BIN)/python .ci/book_config.py --execute off --out _build/check_config.yml
	$(BIN)/python .ci/stage_check.py _build/check_src
	$(BIN)/jupyter-book build _build/check_src --config _build/check_config.yml --path-output _build/check -W -n --keep-going --quiet
	$(BIN)/python .ci/slides.py _build/check/_build/html
	$(BIN)/python .ci/i18n.py extract _build/i18n
	$(BIN)/python .ci/i18n.py check _build/i18n
	$(BIN)/python .ci/book_config.py --execute off --language zh_CN --out _build/check_zh_config.yml
	$(BIN)/jupyter-book build _build/check_src --config _build/check_zh_config.yml --path-output _build/check_zh -W -n --keep-going --quiet
	rm -rf _build/check/_build/html/zh && cp -r _build/check_zh/_build/html _build/check/_build/html/zh
	$(BIN)/python .ci/slides.py _build/check/_build/html/zh --language zh_CN

# The built site in a real browser (Chromium through Playwright), with every other host blocked: math typeset,
# diagrams drawn, images loaded, search, the phone-width menu, no console errors, internal links and anchors.
# Without Chromium the browser part is skipped with a message (Debian: apt-get install chromium).
SITE ?= $(if $(wildcard _build/html/index.html),_build/html,_build/check/_build/html)
site-test: venv
	$(BIN)/python .ci/site_test.py $(SITE)

test: venv data clean-notebooks
	AIGC_MODE=quick $(BIN)/python -m pytest tests notebooks --nbval-lax -p no:cacheprovider --durations=25
	$(MAKE) --no-print-directory book-check
	$(MAKE) --no-print-directory site-test SITE=_build/check/_build/html
	$(MAKE) --no-print-directory pdf-check
	@echo "make test: all checks passed"

# Both editions: English in _build/html, Chinese in _build/html/zh (the same pages through the translations in
# book/locale/zh_CN; the notebooks run once, for the English build, and the Chinese one reads their cache).
book: venv data api-pages site-assets
	$(BIN)/jupyter-book build . -W -n --keep-going
	$(BIN)/python .ci/slides.py _build/html
	$(BIN)/python .ci/book_config.py --execute cache --language zh_CN --out _build/zh_config.yml
	$(BIN)/jupyter-book build . --config _build/zh_config.yml --path-output _build/zh -W -n --keep-going
	rm -rf _build/html/zh && cp -r _build/zh/_build/html _build/html/zh
	$(BIN)/python .ci/slides.py _build/html/zh --language zh_CN
	@echo "open _build/html/index.html (English) or _build/html/zh/index.html (中文)"

# The Chinese edition's catalogues: extract the messages of the English sources and merge them into
# book/locale/zh_CN/LC_MESSAGES/*.po (new ones empty, changed ones fuzzy). Then translate what
# `python .ci/i18n.py check _build/i18n` lists (README: "The Chinese edition").
i18n: venv api-pages
	$(BIN)/python .ci/i18n.py extract _build/i18n
	$(BIN)/python .ci/i18n.py update _build/i18n
	$(BIN)/python .ci/i18n.py check _build/i18n || true

# One reveal.js deck per chapter in _build/html/slides/ and _build/html/zh/slides/ (make book builds them too), from the book's sources and
# the executed notebooks' figures; they open offline.
slides: book

# The whole book as one PDF per edition (_build/pdf/aigc-from-zero-to-practice.pdf and .zh.pdf): a single-page
# HTML build (notebooks executed as for `make book`, from the same
# cache), typeset and printed by the system's Chromium.
pdf: venv data api-pages site-assets
	$(BIN)/jupyter-book build . --builder singlehtml -W -n --keep-going
	$(BIN)/python .ci/make_pdf.py _build/singlehtml
	$(BIN)/python .ci/book_config.py --execute cache --language zh_CN --out _build/zh_config.yml
	$(BIN)/jupyter-book build . --config _build/zh_config.yml --path-output _build/zh --builder singlehtml -W -n --keep-going
	$(BIN)/python .ci/make_pdf.py _build/zh/_build/singlehtml --out _build/pdf/aigc-from-zero-to-practice.zh.pdf

# make pdf's printing step on the book check's sources (execution off, the outputs of make test's notebook run):
# each edition as one A4 PDF with typeset math, in _build/check/book.pdf and book.zh.pdf. Skipped without Chromium,
# as site-test.
pdf-check: venv
	$(BIN)/jupyter-book build _build/check_src --config _build/check_config.yml --path-output _build/check \
		--builder singlehtml -W -n --keep-going --quiet
	$(BIN)/python .ci/make_pdf.py _build/check/_build/singlehtml --out _build/check/book.pdf --skip-without-browser
	$(BIN)/jupyter-book build _build/check_src --config _build/check_zh_config.yml --path-output _build/check_zh \
		--builder singlehtml -W -n --keep-going --quiet
	$(BIN)/python .ci/make_pdf.py _build/check_zh/_build/singlehtml --out _build/check/book.zh.pdf --skip-without-browser

# Mutation testing of the math modules (configuration: [tool.mutmut] in pyproject.toml). Minutes to tens of
# minutes on two cores; not part of `make test`. The result is stated in the README's Testing section.
# Every mutant of the GAN, VAE and attention math; of metrics.py, the formulas (Frechet distance, mode
# coverage, classifier scores), not the evaluation classifier's training and caching code.
MUTANTS = "aigc_lessons.gan.*" "aigc_lessons.vae.*" "aigc_lessons.attention.*" \
	"aigc_lessons.metrics.x_gaussian_stats*" "aigc_lessons.metrics.x__sqrtm_psd*" \
	"aigc_lessons.metrics.x_frechet_distance*" "aigc_lessons.metrics.x_mode_coverage*" \
	"aigc_lessons.metrics.x_classifier_metrics*"
mutants: venv data
	$(BIN)/python -m pip install --quiet -r .ci/requirements-mutants.txt
	rm -rf mutants
	# One OpenMP thread, and workers forked from a fork server (pyproject.toml): a child forked from a process
	# whose OpenMP pool has run hangs in its next parallel region, using no CPU time, so mutmut never stops it.
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 AIGC_MODE=quick $(BIN)/mutmut run --max-children 2 $(MUTANTS) || true
	$(BIN)/mutmut results 2>/dev/null | tee _build/mutants.txt | tail -n 40
	@echo "survived: $$(grep -c ': survived' _build/mutants.txt || true) (listed in _build/mutants.txt; 'mutmut show NAME' shows one)"

# Every GPU benchmark in one call of at most BUDGET seconds on a lent GPU machine (no network there: it
# uses the machine's own Python unless a venv exists; data from $$AIGC_DATA_MIRROR). See README.
BUDGET ?= 480
PY ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,python3)
bench-gpu:
	AIGC_MODE=full $(PY) .ci/bench_gpu.py --budget $(BUDGET) $(if $(BENCHES),--benches $(BENCHES))

# Re-measure the quick-mode checks over seeds and floating-point paths (tens of minutes) and rewrite
# tests/calibration.json; then set aigc_lessons.calibrate.CHECKS with margin below the worst run.
calibrate: venv data
	$(BIN)/python -m aigc_lessons.calibrate

bench: venv data
	$(BIN)/python -m aigc_lessons.bench first-look-bigram gan-2d gan-mnist vae-mnist diffusion-2d diffusion-mnist \
		lm-shakespeare lm-tang careers-finetune

clean:
	rm -rf _build
