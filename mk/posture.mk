# Posture (issue 10): the SARIF consumer the report tests run.
#   make sarif-tools   Microsoft SARIF Multitool (mk/node.mk: tools/node lock, .venv-node)
#   make posture-gate  inventory-scan on the rendered chart (mk/cicd.mk; part of make scan-config)

# The unit suite validates SARIF with it.
unit: sarif-tools
