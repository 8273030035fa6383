# CI/CD + supply chain (issue 4): security scans, SBOMs, push, and the tests of the Jenkins-as-code in jenkins/.
#   make scan       config scanners + image scanners + CycloneDX SBOM per image (fails on findings; see scan/)
#   make scan-ci    the same with SCAN_OFFLINE_OK=1: accepts ONLY "no Trivy vuln DB" and "no Dockle", loudly
#   make push       push IMAGE_TAG + BUILD_TAG of every image, record digests in reports/images.json
#   make mirror     mirror the third-party images the chart runs (jenkins/mirror-images.txt) into the registry
#   make images-json  merge the recorded digests (reports/images/*.json) into reports/images.json for deploy.sh
#   make test-cicd  Groovy parse of seed + Jenkinsfiles, job/target/credential/plugin cross-checks, scanner gates

SCAN_VENV        := $(ROOT)/.venv-scan
TRIVY            := $(SCAN_VENV)/bin/trivy
CHECKOV          := $(SCAN_VENV)/bin/checkov
# Debian's groovy 2.4 needs JDK 17 whatever JAVA_HOME the caller has.
CICD_JAVA_HOME   ?= $(firstword $(wildcard /usr/lib/jvm/java-17-openjdk-amd64) $(JAVA_HOME))
SCAN_OFFLINE_OK  ?= 0
# helm renders the charts for the scanners (make k8s-tools installs it into .venv/k8s/bin); without it trivy renders them.
HELM             ?= $(firstword $(wildcard $(ROOT)/.venv/k8s/bin/helm) $(shell command -v helm 2>/dev/null))
# Passed to our recipes only (not exported to the other lanes' targets).
SCAN_ENV          = TRIVY="$(TRIVY)" CHECKOV="$(CHECKOV)" HELM="$(HELM)" SCAN_OFFLINE_OK="$(SCAN_OFFLINE_OK)"
# Everything a config scanner looks at (override to scan something else, e.g. the known-bad fixtures).
SCAN_DOCKERFILES ?= $(shell git -C $(ROOT) ls-files --cached --others --exclude-standard '*Dockerfile' | grep -Ev '(^|/)fixtures/')
SCAN_K8S         ?= $(patsubst %/Chart.yaml,%,$(wildcard deploy/helm/*/Chart.yaml))
SCAN_COMPOSE     ?= $(wildcard compose.yaml jenkins/compose.yaml)
SCAN_IMAGES      ?= $(foreach img,$(IMAGES),$(REGISTRY)$(img):$(IMAGE_TAG))
# THE registry is named once, by the chart (`imageRegistry:` in values.yaml): the chart pulls from it, the admission
# policies admit it and `make push` / `make mirror` push to it. Not overridable from the environment on purpose.
CHART_VALUES     := deploy/helm/container-inventory/values.yaml
override PUSH_REGISTRY := $(shell sed -n 's/^imageRegistry: *//p' $(CHART_VALUES))
# Images the chart runs (its `images:` map) and the third-party ones among them, mirrored from a pinned upstream:
# jenkins/mirror-images.txt lines "<name> <upstream repository>", tag = the chart's images.<name>.tag.
CHART_IMAGES     := $(shell sed -n '/^images:/,/^[^ ]/s/^  \([a-z0-9-]*\):.*/\1/p' $(CHART_VALUES))
MIRROR_IMAGES    := $(shell awk '!/^#/ && NF {print $$1}' jenkins/mirror-images.txt)
MIRROR_SPECS      = $(foreach m,$(MIRROR_IMAGES),$(m)=$(shell awk -v n=$(m) '$$1 == n {print $$2}' jenkins/mirror-images.txt):$(shell sed -n '/^images:/,/^[^ ]/s/^  $(m): *{tag: *"\{0,1\}\([^",}]*\).*/\1/p' $(CHART_VALUES)))
EXPECT_TAG       ?=

.PHONY: scan-venv scan scan-config scan-images scan-ci push mirror images-json test-cicd
# (after .venv: both fill the one wheelhouse)
scan-venv: $(SCAN_VENV)/.stamp ## scanner venv (.venv-scan: trivy, checkov) from tools/requirements-scan.txt
$(SCAN_VENV)/.stamp: tools/requirements-scan.txt tools/requirements-bootstrap.txt scripts/venv.sh tools/lockcheck.py | $(VENV)/.stamp
	@bash scripts/venv.sh $(SCAN_VENV) tools/requirements-scan.txt
	@touch $@

scan: scan-config scan-images ## all security scans; fails on findings not waived in scan/waivers.yaml

scan-config: venv scan-venv k8s-tools ## hadolint, trivy config, checkov, compose policy, inventory-scan posture gate on the chart
	@echo "==> config scan: $(words $(SCAN_DOCKERFILES)) Dockerfile(s), k8s: $(or $(SCAN_K8S),none), compose: $(SCAN_COMPOSE)"
	@$(SCAN_ENV) $(PY) scan/scan.py config $(addprefix --dockerfile ,$(SCAN_DOCKERFILES)) $(addprefix --k8s ,$(SCAN_K8S)) \
	  $(addprefix --compose ,$(SCAN_COMPOSE))
	@$(MAKE) --no-print-directory posture-gate

# The posture catalog as a gate on the rendered chart (every env; prod with placeholder digests, as deploy.sh
# passes real ones): inventory-scan fails on any unwaived HIGH/CRITICAL finding; SARIF per env in reports/.
POSTURE_GATE_ENVS ?= minikube dev prod
POSTURE_FAIL_ON   ?= HIGH
INVENTORY_SCAN    ?= $(VENV)/bin/inventory-scan
POSTURE_DIGESTS    = $(foreach img,flask-api nginx-proxy inventory-nginx-exporter vault,--set images.$(img).digest=sha256:$(shell printf '0%.0s' $$(seq 64)))
.PHONY: posture-gate
posture-gate: venv k8s-tools ## inventory-scan on the rendered chart of every env (fails at POSTURE_FAIL_ON)
	@mkdir -p reports
	@for env in $(POSTURE_GATE_ENVS); do \
	  echo "==> posture gate: chart values-$$env.yaml (fail on $(POSTURE_FAIL_ON))"; \
	  $(K8S_BIN)/helm template inv deploy/helm/container-inventory -f deploy/helm/container-inventory/values-$$env.yaml \
	    $(POSTURE_DIGESTS) > reports/chart-$$env.yaml 2>/dev/null; \
	  $(INVENTORY_SCAN) manifests reports/chart-$$env.yaml --format sarif -o reports/posture-chart-$$env.sarif; \
	  $(INVENTORY_SCAN) manifests reports/chart-$$env.yaml --fail-on $(POSTURE_FAIL_ON); \
	done

scan-images: venv scan-venv images ## trivy vulns (fixable HIGH/CRITICAL), secrets, Dockle, SBOM -> reports/sbom/
	@echo "==> image scan: $(SCAN_IMAGES)"
	@$(SCAN_ENV) $(PY) scan/scan.py images $(SCAN_IMAGES)

scan-ci: ## make scan as CI runs it: SCAN_OFFLINE_OK=1 (no vuln DB / no Dockle here), everything else for real
	@echo "==> scan-ci: SCAN_OFFLINE_OK=1 accepts only the two offline gaps (Trivy vuln DB, Dockle)"
	@$(MAKE) --no-print-directory scan SCAN_OFFLINE_OK=1

push: ## push $(IMAGES) as :IMAGE_TAG and :BUILD_TAG to PUSH_REGISTRY, digests -> reports/images.json
	@echo "==> push $(IMAGES) -> $(or $(PUSH_REGISTRY),<PUSH_REGISTRY unset>)"
	@IMAGES="$(IMAGES)" PUSH_REGISTRY="$(PUSH_REGISTRY)" bash jenkins/scripts/registry.sh push

mirror: ## pull the pinned third-party images the chart runs and push them to PUSH_REGISTRY (digests recorded)
	@echo "==> mirror $(MIRROR_IMAGES) -> $(or $(PUSH_REGISTRY),<PUSH_REGISTRY unset>)"
	@PUSH_REGISTRY="$(PUSH_REGISTRY)" MIRROR_SPECS="$(MIRROR_SPECS)" bash jenkins/scripts/registry.sh mirror

images-json: venv ## merge reports/images/*.json into reports/images.json (EXPECT_TAG=<tag> checks our images' tag)
	@echo "==> reports/images.json from $(words $(wildcard reports/images/*.json)) record(s)"
	@mkdir -p reports/images
	@$(PY) jenkins/scripts/images_json.py reports/images --registry "$(PUSH_REGISTRY)" --require $(CHART_IMAGES) \
	  --tag "$(EXPECT_TAG)" --tagged $(filter-out $(MIRROR_IMAGES),$(CHART_IMAGES)) > reports/images.json.tmp
	@mv reports/images.json.tmp reports/images.json

test-cicd: venv scan-venv k8s-tools ## Jenkins-as-code checks (real Groovy) and scanner gate tests (real scanners)
	@echo "==> cicd tests (groovy, jenkins cross-checks, scanner gates)"
	@JAVA_HOME="$(CICD_JAVA_HOME)" pytest -q tests/cicd --junitxml=reports/cicd.xml

TEST_TARGETS += test-cicd scan-ci
