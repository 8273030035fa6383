# Operations (issue 6): backup/restore/rollback CLI (ops/invops), runbooks, architecture diagrams.
#   make test-ops        real etcd (TLS), Docker volumes/images, config export, deploy+auto-rollback (tests/ops)
#   make test-docs       README budget, links and make commands in every doc, runbook/architecture checks, every
#                        Mermaid diagram parsed and rendered by mermaid-cli
#   make docs-diagrams   re-render docs/diagrams/*.svg from docs/ARCHITECTURE.md
#   make backup-etcd | backup-volumes | backup-images | backup-config | rollback   thin wrappers over invops
INVOPS        := PYTHONPATH=$(ROOT)/ops $(PY) -m invops
BACKUP_DIR    ?= /var/backups/container-inventory
# etcd: ETCD_ENDPOINT, ETCD_CACERT, ETCD_CERT, ETCD_KEY; volumes: VOLUMES; config: NAMESPACE, RELEASE, AGE_RECIPIENT
ETCD_ENDPOINT ?= https://127.0.0.1:2379
VOLUMES       ?=
NAMESPACE     ?= container-inventory
RELEASE       ?= inventory
# the chart names its objects <release>-container-inventory (deploy/helm/container-inventory/templates/_helpers.tpl)
APP           ?= $(RELEASE)-container-inventory
ROLLBACK_TO   ?=
DRY_RUN       ?=
dry           := $(if $(filter 1 yes true,$(DRY_RUN)),--dry-run)

.PHONY: ops-deps test-ops test-docs docs-diagrams backup-etcd backup-volumes backup-images \
  backup-config rollback rollback-k8s

ops-deps: ## check the tools the ops suite drives (etcd, etcdctl, age, openssl)
	@echo "==> ops tools: etcd etcdctl age age-keygen openssl"
	@for t in etcd etcdctl age age-keygen openssl; do command -v $$t >/dev/null || \
	  { echo "missing $$t: run scripts/install-deps.sh (tools/apt-packages.txt)" >&2; exit 1; }; done

test-ops: venv base-image ops-deps ## ops CLI against real etcd+TLS, Docker volumes/images, age, compose rollback
	@echo "==> ops tests (real etcd, Docker, age)"
	@pytest -q tests/ops --ignore=tests/ops/test_docs.py --junitxml=reports/ops.xml

test-docs: venv mermaid-deps ## README <= 15 KB, links + make commands of every doc, RUNBOOKS/ARCHITECTURE, Mermaid renders
	@echo "==> docs tests (README budget, links, make commands, runbook sections, mermaid-cli render)"
	@MMDC=$(MMDC) pytest -q tests/ops/test_docs.py --junitxml=reports/docs.xml

docs-diagrams: venv mermaid-deps ## re-render docs/diagrams/*.svg from the Mermaid blocks in docs/ARCHITECTURE.md
	@echo "==> render docs/ARCHITECTURE.md diagrams -> docs/diagrams/"
	@MMDC=$(MMDC) $(PY) tests/ops/diagrams.py render

backup-etcd: venv ## etcd snapshot into $(BACKUP_DIR) (ETCD_ENDPOINT, ETCD_CACERT, ETCD_CERT, ETCD_KEY)
	@echo "==> etcd snapshot $(ETCD_ENDPOINT) -> $(BACKUP_DIR)"
	@$(INVOPS) etcd snapshot $(dry) --endpoint $(ETCD_ENDPOINT) $(if $(ETCD_CACERT),--cacert $(ETCD_CACERT)) \
	  $(if $(ETCD_CERT),--cert $(ETCD_CERT)) $(if $(ETCD_KEY),--key $(ETCD_KEY)) --out $(BACKUP_DIR)

backup-volumes: venv ## back up each named volume in VOLUMES into $(BACKUP_DIR)
	@echo "==> volume backups: $(or $(VOLUMES),<none: set VOLUMES=...>)"
	@test -n "$(VOLUMES)" || { echo "set VOLUMES=<volume> [<volume>...]" >&2; exit 2; }
	@for v in $(VOLUMES); do $(INVOPS) volume backup $(dry) $$v --out $(BACKUP_DIR); done

backup-images: venv ## save $(IMAGES):$(IMAGE_TAG) by digest into $(BACKUP_DIR)
	@echo "==> image save: $(foreach i,$(IMAGES),$(REGISTRY)$(i):$(IMAGE_TAG))"
	@$(INVOPS) image save $(dry) $(foreach i,$(IMAGES),$(REGISTRY)$(i):$(IMAGE_TAG)) --out $(BACKUP_DIR)

backup-config: venv ## export NAMESPACE objects + RELEASE values/manifest; Secrets age-encrypted to AGE_RECIPIENT
	@echo "==> config export namespace $(NAMESPACE), release $(RELEASE) (needs a cluster unless DRY_RUN=1)"
	@$(INVOPS) config export $(dry) -n $(NAMESPACE) --release $(RELEASE) \
	  $(if $(AGE_RECIPIENT),-r $(AGE_RECIPIENT)) --out $(BACKUP_DIR)

rollback: venv ## roll the compose flask-api service back to the previous healthy image (ROLLBACK_TO=image to pin)
	@echo "==> rollback $(COMPOSE_PROJECT_NAME)/flask-api $(if $(ROLLBACK_TO),to $(ROLLBACK_TO),to the previous healthy image)"
	@$(INVOPS) rollback docker $(dry) -p $(COMPOSE_PROJECT_NAME) -f compose.yaml -s flask-api \
	  $(if $(ROLLBACK_TO),--to $(ROLLBACK_TO))

rollback-k8s: venv ## helm rollback RELEASE in NAMESPACE (+ rollout status, smoke test, undo fallback)
	@echo "==> helm rollback $(RELEASE) -n $(NAMESPACE) (needs a cluster unless DRY_RUN=1)"
	@$(INVOPS) rollback k8s $(dry) --release $(RELEASE) -n $(NAMESPACE) \
	  --deployment $(APP)-flask-api --deployment $(APP)-nginx-proxy $(if $(SMOKE_URL),--smoke-url $(SMOKE_URL))

TEST_TARGETS += test-ops test-docs
