# Fleet (issue 12): one inventory API over several engines and clusters (api/inventory/fleet, deploy/fleet).
#   make fleet-certs FLEET_CERTS=DIR [FLEET_PROXY_NAMES="socket-proxy-b"]   mutual-TLS certificates
#   make fleet-up ENGINE_B_SOCKET=/path/docker.sock PODMAN_SOCKET=/path/podman.sock FLEET_CERTS=DIR
#   make fleet-down                                                        (same variables)
#   make test-fleet   real engines: the host's dockerd, a second dockerd, Podman; mutual TLS; outages
FLEET_CERTS       ?=
FLEET_PROXY_NAMES ?= socket-proxy-b
ENGINE_B_SOCKET   ?=
PODMAN_SOCKET     ?=
export FLEET_CERTS ENGINE_B_SOCKET PODMAN_SOCKET
export ENGINE_B_GID ?= $(shell stat -c %g "$(ENGINE_B_SOCKET)" 2>/dev/null || echo 0)
export PODMAN_GID   ?= $(shell stat -c %g "$(PODMAN_SOCKET)" 2>/dev/null || echo 0)
FLEET_COMPOSE = $(COMPOSE) -f compose.yaml -f deploy/fleet/compose.fleet.yaml

.PHONY: fleet-certs fleet-up fleet-down test-fleet
TEST_TARGETS += test-fleet

fleet-certs: ## CA + socket-proxy server cert + API client cert for mutual TLS (FLEET_CERTS=DIR)
	@test -n "$(FLEET_CERTS)" || { echo "fleet-certs: set FLEET_CERTS=DIR" >&2; exit 2; }
	@bash scripts/fleet-certs.sh "$(FLEET_CERTS)" $(FLEET_PROXY_NAMES)

fleet-up: deps images ## the stack over three engines: host, ENGINE_B_SOCKET (mutual TLS), PODMAN_SOCKET
	@for v in ENGINE_B_SOCKET PODMAN_SOCKET FLEET_CERTS; do \
	  test -n "$${!v}" || { echo "fleet-up: set $$v (see docs/FLEET.md)" >&2; exit 2; }; done
	@test -s "$(FLEET_CERTS)/api.pem" || $(MAKE) --no-print-directory fleet-certs
	@echo "==> compose up with the fleet sources (project $(COMPOSE_PROJECT_NAME))"
	@$(FLEET_COMPOSE) up -d --no-build
	@bash scripts/wait-healthy.sh $(COMPOSE_PROJECT_NAME)
	@echo "==> ready: curl -s http://127.0.0.1:$${HTTP_PORT:-8080}/api/sources"

fleet-down: ## remove what fleet-up started
	@$(FLEET_COMPOSE) down -v --remove-orphans

test-fleet: venv images ## fleet suite: three real engines, one stopped and brought back, mTLS refusals
	@echo "==> fleet tests (host dockerd + a second dockerd + Podman; mutual TLS)"
	@pytest -q tests/fleet --junitxml=reports/fleet.xml
