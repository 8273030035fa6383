# Dashboard (issue 12): the browser suite. Headless Debian Chromium (/usr/bin/chromium, tools/apt-packages.txt)
# driven by Playwright for Python (tools/requirements-dev.txt; it never downloads a browser: executable_path),
# through Nginx on a real stack, with axe-core from the npm lock in tools/node.
#   make test-ui     tests/ui: pages, filters, sign-in flow, console errors, axe; screenshots in reports/ui/
#   make axe-deps    axe-core (mk/node.mk: npm ci from tools/node/package-lock.json)
CHROMIUM ?= /usr/bin/chromium
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: test-ui
TEST_TARGETS += test-ui

test-ui: venv images axe-deps ## dashboard in headless Chromium through Nginx on a real stack (+ axe-core)
	@echo "==> dashboard browser tests ($(CHROMIUM), Playwright, axe-core)"
	@test -x $(CHROMIUM) || { echo "missing $(CHROMIUM): run scripts/install-deps.sh (tools/apt-packages.txt)" >&2; exit 1; }
	@CHROMIUM=$(CHROMIUM) AXE_JS=$(AXE_JS) \
	  pytest -q tests/ui --junitxml=reports/ui.xml
