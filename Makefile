# One entry point for people, .ci/run and the Jenkinsfiles.
#   make up      build images (offline if needed), start the hardened stack, wait healthy
#   make test    lint + unit tests + real-Docker integration suite (+ every mk/*.mk suite)
#   make down    remove everything `make up` created
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT        := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV        := $(ROOT)/.venv
PY          := $(VENV)/bin/python
# The caller's PATH as it was, before .venv/bin goes first (deploy puts it back first: mk/k8s.mk K8S_PATH).
CALLER_PATH := $(PATH)
export PATH := $(VENV)/bin:$(PATH)
# /usr/bin/docker has BuildKit built in; fall back to whatever `docker` is on PATH.
DOCKER      ?= $(shell [ -x /usr/bin/docker ] && echo /usr/bin/docker || command -v docker)
COMPOSE     ?= $(shell $(DOCKER) compose version >/dev/null 2>&1 && echo "$(DOCKER) compose" || echo docker-compose)
export DOCKER COMPOSE

VERSION     := $(shell cat $(ROOT)/VERSION)
GIT_SHA     := $(shell git -C $(ROOT) rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
BUILD_TIME  := $(shell git -C $(ROOT) log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
# Jenkins passes every job parameter, an empty one as an empty string (IMAGE_TAG=""), in the environment or on
# the command line. `?=` would keep that empty value, so every parameter with a default treats empty as unset
# (override: an empty IMAGE_TAG= on the command line gets the default too). tests/cicd/test_rehearsal.py runs the
# Jenkinsfiles' sh steps with exactly that environment.
override IMAGE_TAG  := $(or $(strip $(IMAGE_TAG)),$(VERSION))
# The immutable tag every build also pushes: VERSION + git sha (IMAGE_TAG may be a mutable name like 0.1.0).
override BUILD_TAG  := $(VERSION)-$(GIT_SHA)
REGISTRY    ?=
override BASE_IMAGE := $(or $(strip $(BASE_IMAGE)),debian:bookworm-slim)
export IMAGE_TAG BUILD_TAG REGISTRY VERSION GIT_SHA BUILD_TIME BASE_IMAGE

# Our images (built from a Dockerfile); empty IMAGES (a blank job parameter) means all of them.
OUR_IMAGES  := flask-api nginx-proxy socket-proxy
override IMAGES := $(or $(strip $(IMAGES)),$(OUR_IMAGES))
override CA_BUNDLE := $(or $(strip $(CA_BUNDLE)),/etc/ssl/certs/ca-certificates.crt)
override PROJECT := $(or $(strip $(PROJECT)),inventory)
# Setting API_TOKEN_DIR (a directory with a "token" file) turns on bearer auth (compose.auth.yaml).
COMPOSE_FILES := -f compose.yaml $(if $(API_TOKEN_DIR),-f compose.auth.yaml)
export API_TOKEN_DIR
export COMPOSE_PROJECT_NAME ?= $(PROJECT)
export DOCKER_GID ?= $(shell stat -c %g /var/run/docker.sock 2>/dev/null || echo 0)

# mk/*.mk add their suites to these lists (one file per concern: helm, jenkins, observability, ops).
LINT_TARGETS :=
TEST_TARGETS :=
-include $(ROOT)/mk/*.mk

.PHONY: help deps venv lock lint secrets-baseline unit images base-image up compose down wait integration pull-images \
        integration-suite test bench clean
help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

venv: $(VENV)/.stamp $(VENV)/.api-stamp ## create the tool venv (.venv) from the hash-locked requirements
# scripts/venv.sh: the pinned installer (tools/requirements-bootstrap.txt) installs exactly the lock, nothing resolved,
# then proves installed == locked. The venv is rebuilt whenever a lock changes.
$(VENV)/.stamp: tools/requirements-dev.txt tools/requirements-bootstrap.txt scripts/venv.sh tools/lockcheck.py
	@bash scripts/venv.sh $(VENV) tools/requirements-dev.txt
	@touch $@

# The API package itself, editable (the code stays in api/): its console scripts (inventory-scan) land in .venv/bin.
# A venv belongs to one checkout (scripts/venv.sh writes .checkout): another checkout may not re-point it.
$(VENV)/.api-stamp: api/pyproject.toml api/setup.py $(VENV)/.stamp
	@[ "$$(cat $(VENV)/.checkout)" = "$(ROOT)" ] || { echo "venv: $(VENV) belongs to $$(cat $(VENV)/.checkout), not $(ROOT)" >&2; exit 2; }
	@out=$$($(PY) -m pip --isolated -q install --no-deps --no-build-isolation --no-index -e $(ROOT)/api 2>&1) || { echo "$$out" >&2; exit 1; }
	@touch $@

# Re-lock after editing a tools/*.in or api/requirements.in: uv (pinned in the bootstrap lock) keeps every existing pin
# unless UPGRADE=1, never takes a release newer than LOCK_DATE, and writes pinned extras (--no-strip-extras).
LOCK_DATE ?= 2026-12-07T00:00:00Z
LOCKS := api/requirements tools/requirements-dev tools/requirements-scan tools/requirements-bootstrap
lock: venv ## re-compile the hash locks (LOCK_DATE=<RFC 3339> to move the date, UPGRADE=1 to upgrade pins)
	@for l in $(LOCKS); do echo "==> uv pip compile $$l.in"; (cd $(ROOT) && $(VENV)/bin/uv pip compile -q \
	  --python-version 3.11 --python-platform x86_64-unknown-linux-gnu --generate-hashes --no-strip-extras \
	  --exclude-newer $(LOCK_DATE) $(if $(UPGRADE),--upgrade) --custom-compile-command "make lock" $$l.in -o $$l.txt); done

lint: venv $(LINT_TARGETS) ## ruff, mypy, hadolint, shellcheck, yamllint, bandit, detect-secrets
	@echo "==> ruff"; ruff check . && ruff format --check api socket-proxy tests tools
	@echo "==> hadolint"; hadolint --config .hadolint.yaml $$(git ls-files '*Dockerfile*')
	@echo "==> shellcheck"; shellcheck $$(git ls-files '*.sh') .ci/run
	@echo "==> yamllint"; yamllint -s .
	@echo "==> mypy"; mypy
	@echo "==> bandit"; bandit -q -c pyproject.toml -r api/inventory socket-proxy ops scan
	@echo "==> detect-secrets"; git ls-files -z | xargs -0 detect-secrets-hook --baseline .secrets.baseline

secrets-baseline: venv ## re-scan the repo into .secrets.baseline (audit the diff before committing it)
	@git ls-files -z | xargs -0 detect-secrets scan --exclude-files '^\.secrets\.baseline$$' > .secrets.baseline
	@python3 -c "import json; r=json.load(open('.secrets.baseline'))['results']; [print(f, x['line_number'], x['type']) for f, v in r.items() for x in v]"

unit: venv ## unit tests (no Docker needed)
	@echo "==> unit tests"
	@pytest -q api/tests socket-proxy/tests --junitxml=reports/unit.xml --cov=api/inventory --cov-report=xml:reports/coverage.xml --cov-report=term:skip-covered

base-image: ## pull the pinned base image, or build it offline with debootstrap
	@bash scripts/base-image.sh $(BASE_IMAGE)

images: base-image ## build $(IMAGES) with BuildKit, tagged IMAGE_TAG and BUILD_TAG (VERSION-gitsha, immutable)
	@for img in $(IMAGES); do \
	  echo "==> docker build $(REGISTRY)$$img:$(IMAGE_TAG)"; \
	  DOCKER_BUILDKIT=1 $(DOCKER) build -q \
	    $$( [ -s $(CA_BUNDLE) ] && echo "--secret id=ca,src=$(CA_BUNDLE)" ) \
	    --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg VERSION=$(VERSION) \
	    --build-arg GIT_SHA=$(GIT_SHA) --build-arg BUILD_TIME=$(BUILD_TIME) \
	    -t $(REGISTRY)$$img:$(IMAGE_TAG) -t $(REGISTRY)$$img:$(BUILD_TAG) -f $$(scripts/image-dir.sh $$img)/Dockerfile $$(scripts/image-dir.sh $$img) >/dev/null; \
	done

deps: ## install missing Debian packages (tools/apt-packages.txt) and start dockerd if none answers
	@bash scripts/install-deps.sh

up: deps images ## start the hardened stack on 127.0.0.1:8080 and wait until healthy
	@echo "==> compose up (project $(COMPOSE_PROJECT_NAME))"
	@$(COMPOSE) $(COMPOSE_FILES) up -d --no-build
	@bash scripts/wait-healthy.sh $(COMPOSE_PROJECT_NAME)
	@echo "==> ready: http://127.0.0.1:8080/api/containers"
	@echo "    try:   curl -s http://127.0.0.1:8080/api/containers | python3 -m json.tool"
	@echo "    dashboard: http://127.0.0.1:8080/ui/"

# Any other Compose command on the stack, with what `make up` uses (project, files, IMAGE_TAG, DOCKER_GID), through the
# Compose CLI this machine has: `docker compose` (v2 plugin) if installed, else docker-compose 1.29 (Debian's
# docker-compose package, tools/apt-packages.txt: here and in CI). The runbooks show these, e.g. make compose ARGS=ps.
compose: ## run a Compose command on the stack: make compose ARGS='logs --since 10m flask-api'
	@$(if $(strip $(ARGS)),,echo "usage: make compose ARGS='ps' (any Compose subcommand and its options)" >&2; exit 2)
	@$(COMPOSE) $(COMPOSE_FILES) $(ARGS)

down: ## stop and remove everything `make up` created (containers, networks, volumes)
	@$(COMPOSE) $(COMPOSE_FILES) down -v --remove-orphans

integration: venv images ## real-Docker integration suite on images built from this checkout
	@$(MAKE) --no-print-directory integration-suite

integration-suite: venv ## the integration suite against the local images $(IMAGES):IMAGE_TAG, built or pulled
	@echo "==> integration tests (real Docker, images $(IMAGE_TAG))"
	@pytest -q tests/integration --junitxml=reports/integration.xml

# The Jenkins runner-job tests what a build pushed: it pulls from PUSH_REGISTRY instead of rebuilding. Our images in
# IMAGES (the ones under test) come at IMAGE_TAG, their peers at VERSION (the last push from main); all are tagged
# locally as IMAGE_TAG, the tag the integration suite runs.
pull-images: ## pull our $(IMAGES) at IMAGE_TAG (peers at VERSION) from PUSH_REGISTRY for the integration suite
	@IMAGES="$(filter $(OUR_IMAGES),$(IMAGES))" PEERS="$(filter-out $(IMAGES),$(OUR_IMAGES))" PEER_TAG="$(VERSION)" \
	  PUSH_REGISTRY="$(PUSH_REGISTRY)" bash jenkins/scripts/registry.sh pull

# `make test` runs every lane, TEST_JOBS at a time, after the shared prerequisites (venvs, node tools, images) are
# built once. Lanes run longest first; each one's output is printed whole when it ends (--output-sync), and a
# table of every lane's result and duration closes the run (reports/lanes.md). TEST_JOBS=1 runs them one by one.
TEST_JOBS  ?= 3
LANE_ORDER := integration test-k8s test-cicd test-ui test-observability test-ops unit test-install test-fleet \
              test-history scan-ci lint test-docs
LANES      := $(filter lint unit integration $(TEST_TARGETS),$(LANE_ORDER)) \
              $(filter-out $(LANE_ORDER),$(TEST_TARGETS))
# `make -n` still runs every recipe line that calls $(MAKE): in a dry run those lines only recurse (no timing files,
# no table), so `make -n test` prints the lanes' commands and changes nothing.
MAKE_DRY_RUN := $(findstring n,$(firstword -$(MAKEFLAGS)))
test: deps ## everything CI runs: every lane (TEST_JOBS at a time), then the per-lane timing table
	@mkdir -p reports && rm -f reports/lanes.tsv && date +%s.%N > reports/lanes.start
	@rc=0; $(MAKE) --no-print-directory -k -j$(TEST_JOBS) --output-sync=target test-lanes || rc=$$?; \
	  $(if $(MAKE_DRY_RUN),true,python3 tools/lanes.py reports); exit $$rc

.PHONY: test-lanes prepare
test-lanes: $(addprefix lane/,$(LANES))
prepare: venv k8s-tools scan-venv node-tools images monitoring-images
lane/lint lane/unit: | venv k8s-tools node-tools
$(addprefix lane/,$(filter-out lint unit,$(LANES))): | prepare
# One explicit rule per lane (not a pattern rule), so `make -p` shows which target each lane runs.
define LANE_RULE
lane/$(1):
	@s=$$$$(date +%s.%N); rc=0; $$(MAKE) --no-print-directory $(1) || rc=$$$$?; \
	  [ -n "$$(MAKE_DRY_RUN)" ] || printf '%s\t%s\t%s\t%s\n' "$(1)" "$$$$rc" "$$$$s" "$$$$(date +%s.%N)" >> reports/lanes.tsv; \
	  exit $$$$rc
endef
$(foreach lane,$(LANES),$(eval $(call LANE_RULE,$(lane))))

bench: venv images ## benchmark (prints a table; not part of the tests)
	@$(PY) bench/bench.py
	@$(PY) bench/render_bench.py

clean: ## remove the venv and reports
	rm -rf $(VENV) reports

.PHONY: config-docs
config-docs: venv ## regenerate docs/CONFIGURATION.md's tables from the settings declarations (api/inventory/config/)
	@cd api && $(PY) -m inventory.config.docs
