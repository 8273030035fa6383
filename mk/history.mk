# History (issue 11): recorder, history database (SQLite / PostgreSQL), webhooks, history backup/restore.
#   make test-history     real SQLite + a throwaway PostgreSQL 15 cluster + the compose stack with its recorder
#   make history-migrate  run the Alembic migrations against DATABASE_URL (default: ./history.db)
#   make backup-history   invops history backup of DATABASE_URL into $(BACKUP_DIR)
DATABASE_URL ?= sqlite:///$(ROOT)/history.db

.PHONY: test-history history-migrate backup-history
TEST_TARGETS += test-history

test-history: venv images ## history suite: migrations, backup/restore on SQLite+PostgreSQL, recorder on real Docker
	@echo "==> history tests (real SQLite, PostgreSQL 15, Docker engine, compose stack with recorder)"
	@command -v pg_dump >/dev/null || { echo "missing pg_dump: run scripts/install-deps.sh (tools/apt-packages.txt)" >&2; exit 1; }
	@pytest -q tests/history --junitxml=reports/history.xml

history-migrate: venv ## alembic upgrade head on DATABASE_URL (the recorder also does this on start)
	@cd api && DATABASE_URL='$(DATABASE_URL)' $(PY) -m inventory.history upgrade

backup-history: venv ## back up the history database (DATABASE_URL) into $(BACKUP_DIR)
	@$(INVOPS) history backup $(dry) --database-url '$(DATABASE_URL)' --out $(BACKUP_DIR)
