# Observability (issue 5): alerts, Alertmanager, dashboards, local monitoring profile, and the
# suite that proves them on a real Prometheus / Alertmanager / gunicorn / Nginx.
#   make monitoring-local        stack + Prometheus (127.0.0.1:9090) + Alertmanager (:9093) + nginx exporter
#   make monitoring-local-down   remove it again
#   make monitoring-up|logging-up|tracing-up [ARGS=--dry-run]   install into a cluster with Helm
#   make dashboards              regenerate dashboard JSON + ConfigMaps from deploy/monitoring/dashboards/generate.py
#   make test-observability      the suite (tests/observability)
MONITORING_IMAGES := inventory-prometheus inventory-alertmanager inventory-nginx-exporter
MONITORING_COMPOSE = $(COMPOSE) -f compose.yaml -f compose.monitoring.yaml
ARGS ?=

.PHONY: monitoring-images monitoring-local monitoring-local-down monitoring-up logging-up tracing-up dashboards \
        lint-observability test-observability
LINT_TARGETS += lint-observability
TEST_TARGETS += test-observability

monitoring-images: base-image ## build the Prometheus, Alertmanager and nginx-exporter images (Debian packages)
	@for img in $(MONITORING_IMAGES); do \
	  echo "==> docker build $(REGISTRY)$$img:$(IMAGE_TAG)"; \
	  DOCKER_BUILDKIT=1 $(DOCKER) build -q --build-arg BASE_IMAGE=$(BASE_IMAGE) \
	    -t $(REGISTRY)$$img:$(IMAGE_TAG) deploy/monitoring/images/$${img#inventory-} >/dev/null; \
	done

monitoring-local: images monitoring-images ## stack + local Prometheus/Alertmanager/nginx exporter on 127.0.0.1
	@echo "==> compose up with the monitoring profile (project $(COMPOSE_PROJECT_NAME))"
	@$(MONITORING_COMPOSE) up -d --no-build
	@bash scripts/wait-healthy.sh $(COMPOSE_PROJECT_NAME) 180
	@echo "==> Prometheus:   http://127.0.0.1:$${PROMETHEUS_PORT:-9090}/targets"
	@echo "    Alertmanager: http://127.0.0.1:$${ALERTMANAGER_PORT:-9093}/#/alerts"

monitoring-local-down: ## remove the stack started by monitoring-local
	@echo "==> compose down (project $(COMPOSE_PROJECT_NAME), monitoring profile)"
	@$(MONITORING_COMPOSE) down -v --remove-orphans

monitoring-up: ## kube-prometheus-stack + our values, rules, dashboards (ARGS=--dry-run prints the commands)
	@echo "==> monitoring-up $(ARGS)"
	@$(K8S_PATH) bash deploy/monitoring/scripts/monitoring-up.sh $(ARGS)

logging-up: ## Fluent Bit + OpenSearch with our values, index template, ISM policy (ARGS=--dry-run)
	@echo "==> logging-up $(ARGS)"
	@$(K8S_PATH) bash deploy/monitoring/scripts/logging-up.sh $(ARGS)

tracing-up: ## OpenTelemetry Collector + Jaeger with our values (ARGS=--dry-run)
	@echo "==> tracing-up $(ARGS)"
	@$(K8S_PATH) bash deploy/monitoring/scripts/tracing-up.sh $(ARGS)

dashboards: ## regenerate the Grafana dashboard JSON and their ConfigMaps
	@echo "==> generate dashboards"
	@$(PY) deploy/monitoring/dashboards/generate.py

lint-observability: venv ## promtool/amtool config checks, generated dashboards up to date, ruff on deploy/monitoring
	@echo "==> promtool check rules"; promtool check rules deploy/monitoring/alerts/inventory-rules.yaml >/dev/null
	@echo "==> amtool check-config"; amtool check-config deploy/monitoring/alertmanager/alertmanager.yml >/dev/null
	@echo "==> dashboards up to date"; $(PY) deploy/monitoring/dashboards/generate.py --check
	@echo "==> ruff deploy/monitoring"; ruff format --check deploy/monitoring && ruff check deploy/monitoring

test-observability: venv images monitoring-images ## alerts, Alertmanager, PromQL, multiprocess metrics, real Prometheus, logs, traces
	@echo "==> observability tests (real promtool, amtool, Prometheus, Alertmanager, gunicorn, Docker stack)"
	@pytest -q tests/observability --junitxml=reports/observability.xml
