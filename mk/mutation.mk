# Mutation testing (issue 22): mutmut (pinned in tools/requirements-dev.txt) over the modules that decide risk.
#   make mutation                           every module, incremental (killed mutants stay killed until their code changes)
#   make mutation MUTATE=api/inventory/fleet one module (or several paths, space-separated)
#   make mutation NO_RUN=1                  only rewrite docs/MUTATION.md from the last results
#   make mutation FRESH=1                   forget earlier results; MUTATION_JOBS=2 runs two mutants at once
# Writes docs/MUTATION.md (committed) and fails below 90 % killed on a selected module. Not part of `make test`.
MUTATE ?=
MUTATION_JOBS ?= 1

.PHONY: mutation
mutation: venv ## mutation testing (mutmut) of posture, history, live, fleet, socket proxy: docs/MUTATION.md
	@$(PY) tools/mutation.py --modules "$(MUTATE)" --jobs $(MUTATION_JOBS) $(if $(FRESH),--fresh) $(if $(NO_RUN),--no-run)
