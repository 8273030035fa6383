# Dashboard (issue 12): the browser suite. Headless Debian Chromium (/usr/bin/chromium, tools/apt-packages.txt)
# driven by Playwright for Python (tools/requirements-dev.txt; it never downloads a browser: executable_path),
# through Nginx on a real stack, with axe-core from the npm lock in tools/axe.
#   make test-ui     tests/ui: pages, filters, sign-in flow, console errors, axe; screenshots in reports/ui/
#   make axe-deps    axe-core into .venv-axe (npm ci from tools/axe/package-lock.json)
AXE_DIR  := $(ROOT)/tools/axe
AXE_ENV  := $(ROOT)/.venv-axe
CHROMIUM ?= /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: axe-deps test-ui
TEST_TARGETS += test-ui

axe-deps: $(AXE_ENV)/.stamp ## axe-core for the browser suite (npm ci from tools/axe/package-lock.json)
$(AXE_ENV)/.stamp: $(AXE_DIR)/package-lock.json $(AXE_DIR)/package.json
	@echo "==> npm ci into .venv-axe (tools/axe lock)"
	@command -v npm >/dev/null || { echo "==> apt-get install npm (not shipped with this nodejs)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
	@mkdir -p $(AXE_ENV) && cp $(AXE_DIR)/package.json $(AXE_DIR)/package-lock.json $(AXE_ENV)/
	@cd $(AXE_ENV) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test-ui: venv images axe-deps ## dashboard in headless Chromium through Nginx on a real stack (+ axe-core)
	@echo "==> dashboard browser tests ($(CHROMIUM), Playwright, axe-core)"
	@test -x $(CHROMIUM) || { echo "missing $(CHROMIUM): run scripts/install-deps.sh (tools/apt-packages.txt)" >&2; exit 1; }
	@CHROMIUM=$(CHROMIUM) AXE_JS=$(AXE_ENV)/node_modules/axe-core/axe.min.js \
	  pytest -q tests/ui --junitxml=reports/ui.xml
