"""Two CEL engines (tests/support/cel.py): every admission expression compiles in Google's runtime
(cel-expr-python, type-checked) and in cel-python, and the engines agree on every fixture; the agreement
check itself fails on a disagreeing engine, a rule that errors, or an expression only one engine accepts."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from tests.support import cel

from .conftest import ENVS, render
from .test_policies import MUTATIONS, as_pod

POLICY = cel.load_policy()
EXPRESSIONS = [src for _, src in POLICY.variables] + [src for _, src in POLICY.rules]


@pytest.mark.parametrize("source", EXPRESSIONS, ids=[n for n, _ in POLICY.variables] + [r for r, _ in POLICY.rules])
def test_every_admission_expression_compiles_in_both_engines(source):
    cel.compile_expression(source)  # raises CompileError naming the engine that rejects it


@pytest.mark.parametrize(("rule_id", "source"), POLICY.rules, ids=[r for r, _ in POLICY.rules])
def test_google_type_checker_proves_every_rule_returns_bool(rule_id, source):
    assert cel.compile_expression(source).google.return_type() == cel.google_cel.Type.BOOL, rule_id


def _fixtures() -> list[dict]:
    """The rendered pods of every environment, and each of them broken by every mutation of test_policies."""
    pods = []
    for env in ENVS:
        for doc in render(env):
            if doc["kind"] in ("Deployment", "Pod"):
                pods.append(as_pod(doc))
    broken = []
    for pod in pods:
        for mutate in MUTATIONS.values():
            bad = copy.deepcopy(pod)
            try:
                mutate(bad)
            except (KeyError, IndexError):
                continue  # the mutation needs a field this pod does not have (e.g. no volumeMounts)
            broken.append(bad)
    return pods + broken


def test_engines_agree_on_every_fixture_and_rule():
    fixtures = _fixtures()
    assert len(fixtures) > 50
    verdicts = {True: 0, False: 0}
    for pod in fixtures:
        for result in POLICY.outcomes(pod).values():  # raises cel.Disagreement on any difference
            assert isinstance(result, bool), result
            verdicts[result] += 1
    assert verdicts[True] and verdicts[False]  # both verdicts occur, so agreement is not vacuous


def test_evaluate_binds_variables_in_order():
    pod = {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    variables = [("n", "size(object.spec.containers)"), ("twice", "variables.n * 2")]
    assert cel.evaluate("variables.twice", pod, variables) == 4
    assert cel.evaluate("object.spec.containers.map(c, c.name)", pod) == ["a", "b"]
    assert isinstance(cel.evaluate("object.spec.hostPID", pod), cel.CelError)  # both engines: no such key


# --- mutation checks of the checker itself ----------------------------------------------------------------------


def test_a_disagreeing_engine_is_caught(monkeypatch):
    expression = cel.compile_expression("object.spec.hostPID == true")
    activation = {"object": {"spec": {"hostPID": True}}}
    assert expression.evaluate(activation) is True
    monkeypatch.setattr(cel.Expression, "evaluate_celpy", lambda self, activation: False)
    with pytest.raises(cel.Disagreement, match="cel-expr-python True, cel-python False"):
        expression.evaluate(activation)


@pytest.mark.parametrize(("google", "pure"), [(1, True), (1, 1.0), ([1], [True]), ({"a": 1}, {"a": "1"})])
def test_values_of_another_type_are_a_disagreement(google, pure):
    assert not cel.same(google, pure)


def test_an_error_in_one_engine_only_is_a_disagreement(monkeypatch):
    expression = cel.compile_expression("object.spec.missing")
    activation = {"object": {"spec": {}}}
    assert isinstance(expression.evaluate(activation), cel.CelError)  # both engines: no such key
    monkeypatch.setattr(cel.Expression, "evaluate_celpy", lambda self, activation: None)
    with pytest.raises(cel.Disagreement):
        expression.evaluate(activation)


def test_a_rule_that_errors_is_reported_not_counted_as_a_verdict():
    broken = dataclasses.replace(POLICY, rules=(("typo", "object.spec.hostPIDD == false"),))
    with pytest.raises(AssertionError, match="rule typo errored"):
        broken.violations({"spec": {"containers": []}})


@pytest.mark.parametrize(
    ("source", "engine"),
    [("object.spec.(", "cel-expr-python"), ("undeclared == 1", "cel-expr-python"), ("1 == 1.0", "cel-expr-python")],
)
def test_expressions_an_engine_rejects_fail_to_compile(source, engine):
    with pytest.raises(cel.CompileError, match=engine):
        cel.compile_expression(source)
