# Hermetic installs (issue 16): each venv holds exactly its lock, whatever the index offers since.
#   make test-install   tests/install: every venv built from Debian's own pip against a local index that also offers
#                       a newer release of every project; a dropped pin or extra fails; .venv-node == its npm lock
.PHONY: test-install
TEST_TARGETS += test-install

test-install: venv scan-venv node-tools ## replay "the day of the lock" against "today": installed == locked, for every venv
	@echo "==> install suite (tests/install: venvs from the OS pip against a local index with newer releases)"
	@pytest -q tests/install --junitxml=reports/install.xml
