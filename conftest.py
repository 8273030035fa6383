"""The root conftest of every suite (pytest's rootdir): under CI=true no test is skipped, any skip is a failure
with its reason (tests/support/prereq.py)."""

pytest_plugins = ["tests.support.prereq"]
