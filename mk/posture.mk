# Posture (issue 10): the SARIF consumer the report tests run.
#   make sarif-tools   Microsoft SARIF Multitool from tools/sarif/package-lock.json into .venv-sarif (git-ignored)
#   make posture-gate  inventory-scan on the rendered chart (mk/cicd.mk; part of make scan-config)

SARIF_DIR := $(ROOT)/tools/sarif
SARIF_ENV := $(ROOT)/.venv-sarif
SARIF_MULTITOOL := $(SARIF_ENV)/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool

.PHONY: sarif-tools
sarif-tools: $(SARIF_ENV)/.stamp ## SARIF Multitool (npm, locked) used by the posture report tests
$(SARIF_ENV)/.stamp: $(SARIF_DIR)/package-lock.json $(SARIF_DIR)/package.json
	@echo "==> npm ci into .venv-sarif (tools/sarif lock: @microsoft/sarif-multitool-linux)"
	@command -v npm >/dev/null || { echo "==> apt-get install npm (not shipped with this nodejs)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
	@mkdir -p $(SARIF_ENV) && cp $(SARIF_DIR)/package.json $(SARIF_DIR)/package-lock.json $(SARIF_ENV)/
	@cd $(SARIF_ENV) && npm ci --no-audit --no-fund --loglevel=error
	@chmod u+x $(SARIF_MULTITOOL)  # the run bit the npm tarball does not carry everywhere
	@touch $@

# The unit suite validates SARIF with it.
unit: sarif-tools
