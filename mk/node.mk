# Node tools of the test suites, one npm lock (tools/node): mermaid-cli renders the architecture diagrams
# (make test-docs), Microsoft's SARIF Multitool validates SARIF (make unit), axe-core checks the dashboard's
# accessibility (make test-ui). `npm ci` installs exactly the lock (integrity-checked, nothing resolved) into
# .venv-node (ignored like every .venv*). PUPPETEER_SKIP_DOWNLOAD: mermaid-cli drives the system Chromium.
#   make node-tools   (sarif-tools, mermaid-deps and axe-deps are the same step)
NODE_DIR        := $(ROOT)/tools/node
NODE_ENV        := $(ROOT)/.venv-node
MMDC            := $(NODE_ENV)/node_modules/.bin/mmdc
SARIF_MULTITOOL := $(NODE_ENV)/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
AXE_JS          := $(NODE_ENV)/node_modules/axe-core/axe.min.js
export PUPPETEER_SKIP_DOWNLOAD := 1
export MMDC_PUPPETEER_CONFIG   := $(NODE_DIR)/puppeteer-config.json

.PHONY: node-tools sarif-tools mermaid-deps axe-deps
node-tools: $(NODE_ENV)/.stamp ## mermaid-cli, SARIF Multitool, axe-core: npm ci from tools/node/package-lock.json
sarif-tools mermaid-deps axe-deps: node-tools
$(NODE_ENV)/.stamp: $(NODE_DIR)/package-lock.json $(NODE_DIR)/package.json
	@echo "==> npm ci into .venv-node (tools/node lock: mermaid-cli, SARIF Multitool, axe-core)"
	@command -v npm >/dev/null || { echo "==> apt-get install npm (not shipped with this nodejs)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
	@rm -rf $(NODE_ENV) && mkdir -p $(NODE_ENV) && cp $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json $(NODE_ENV)/
	@cd $(NODE_ENV) && npm ci --no-audit --no-fund --loglevel=error
	@chmod u+x $(SARIF_MULTITOOL)  # the run bit the npm tarball does not carry everywhere
	@touch $@
