"""CEL evaluated by two independent engines that must agree on every input.

- Google's CEL runtime (PyPI `cel-expr-python`, the C++ cel-cpp behind a Python wrapper; it also type-checks)
- `cel-python` (celpy, a pure-Python interpreter)

The admission rules (deploy/policies/rules.yaml) are written in the Kubernetes ValidatingAdmissionPolicy dialect:
`object` is the Pod, `variables.<name>` are bound in order, each from the previous ones. `evaluate()` does exactly
that with both engines and raises `Disagreement` when they differ in value, type or error-ness. A runtime error
(e.g. a missing key) is an outcome too: `CelError`, and both engines must produce one.

    from tests.support.cel import evaluate, load_policy
    evaluate("object.spec.hostPID == true", pod)                       # -> True / False / CelError
    evaluate("variables.n > 1", pod, variables=[("n", "size(object.spec.containers)")])
    load_policy().violations(pod)                                       # -> {"run-as-root", ...}
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import celpy
from cel_expr_python import cel as google_cel

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "policies" / "rules.yaml"
# Names the Kubernetes admission CEL environment declares (all dynamically typed here).
NAMES = ("object", "oldObject", "request", "params", "namespaceObject", "variables")


@dataclass(frozen=True)
class CelError:
    """A runtime error (both engines raised one; their wording differs, `message` is Google's)."""

    message: str


class Disagreement(AssertionError):
    """The two engines returned different results for the same expression and input."""


class CompileError(AssertionError):
    """An engine rejected the expression (syntax, or Google's type checker)."""


def _plain(value: Any) -> Any:
    """celpy's celtypes -> plain Python (bool before int: BoolType is an int subclass)."""
    if value is None:
        return None
    if isinstance(value, celpy.celtypes.BoolType):
        return bool(value)
    if isinstance(value, celpy.celtypes.IntType | celpy.celtypes.UintType):
        return int(value)
    if isinstance(value, celpy.celtypes.DoubleType):
        return float(value)
    if isinstance(value, celpy.celtypes.StringType):
        return str(value)
    if isinstance(value, celpy.celtypes.BytesType):
        return bytes(value)
    if isinstance(value, list | tuple):  # ListType, or a plain list (celpy's `+` on lists returns one)
        return [_plain(v) for v in value]
    if isinstance(value, dict):  # MapType
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type all the way down (True is not 1, 1 is not 1.0)."""
    if isinstance(a, CelError) or isinstance(b, CelError):
        return isinstance(a, CelError) and isinstance(b, CelError)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


@dataclass(frozen=True)
class Expression:
    """One CEL expression compiled by both engines."""

    source: str
    google: Any
    celpy_program: Any

    def evaluate_google(self, activation: Mapping[str, Any]) -> Any:
        result = self.google.eval(data=dict(activation))
        if result.type() == google_cel.Type.ERROR:
            return CelError(str(result.value()))
        return result.plain_value()

    def evaluate_celpy(self, activation: Mapping[str, Any]) -> Any:
        try:
            result = self.celpy_program.evaluate({k: celpy.json_to_cel(v) for k, v in activation.items()})
        except celpy.CELEvalError as exc:
            return CelError(str(exc))
        if isinstance(result, Exception):
            return CelError(str(result))
        return _plain(result)

    def evaluate(self, activation: Mapping[str, Any]) -> Any:
        """The result both engines agree on: a plain Python value or a CelError."""
        google = self.evaluate_google(activation)
        pure = self.evaluate_celpy(activation)
        if not same(google, pure):
            raise Disagreement(
                f"CEL engines disagree on {self.source!r}: cel-expr-python {google!r}, cel-python {pure!r}"
            )
        return google


_GOOGLE_ENV = google_cel.NewEnv(variables={name: google_cel.Type.DYN for name in NAMES})
_CELPY_ENV = celpy.Environment()


@functools.lru_cache(maxsize=512)
def compile_expression(source: str) -> Expression:
    """Parse + check with Google's runtime, parse with cel-python; a rejection by either is a CompileError."""
    try:
        google = _GOOGLE_ENV.compile(source)
    except RuntimeError as exc:
        raise CompileError(f"cel-expr-python rejects {source!r}: {exc}") from exc
    try:
        program = _CELPY_ENV.program(_CELPY_ENV.compile(source))
    except celpy.CELParseError as exc:
        raise CompileError(f"cel-python rejects {source!r}: {exc}") from exc
    return Expression(source, google, program)


def bind_variables(obj: Mapping[str, Any], variables: Iterable[tuple[str, str]], **names: Any) -> dict[str, Any]:
    """Evaluate `variables` in order (each sees the ones before it), as the API server does."""
    bound: dict[str, Any] = {}
    for name, source in variables:
        value = compile_expression(source).evaluate({**names, "object": obj, "variables": dict(bound)})
        if isinstance(value, CelError):
            raise AssertionError(f"variable {name} errored: {value.message}")
        bound[name] = value
    return bound


def evaluate(
    expression: str,
    obj: Mapping[str, Any],
    variables: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    **names: Any,
) -> Any:
    """Evaluate `expression` against `obj` (bound as `object`) with both engines; they must agree.

    `variables`: (name, expression) pairs (or an insertion-ordered mapping), bound in order as `variables.<name>`.
    `names`: other top-level names (oldObject, request, params, namespaceObject), as plain values.
    Returns the agreed plain value, or a CelError when both engines failed at run time.
    """
    pairs = list(variables.items()) if isinstance(variables, Mapping) else list(variables)
    bound = bind_variables(obj, pairs, **names)
    return compile_expression(expression).evaluate({**names, "object": obj, "variables": bound})


@dataclass(frozen=True)
class Policy:
    """The admission rules of deploy/policies/rules.yaml: variables, then one expression per rule id."""

    variables: tuple[tuple[str, str], ...]
    rules: tuple[tuple[str, str], ...]
    audit: frozenset[str] = frozenset()  # rule ids that are reported, never denied

    def outcomes(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Rule id -> agreed result (True admits)."""
        bound = bind_variables(obj, self.variables)
        activation = {"object": obj, "variables": bound}
        return {rule_id: compile_expression(src).evaluate(activation) for rule_id, src in self.rules}

    def violations(self, obj: Mapping[str, Any]) -> set[str]:
        """Rule ids the object breaks; a rule that errors at run time is a bug in the rule, not a verdict."""
        failed = set()
        for rule_id, result in self.outcomes(obj).items():
            if isinstance(result, CelError):
                raise AssertionError(f"rule {rule_id} errored: {result.message}")
            if result is not True:
                failed.add(rule_id)
        return failed

    def denials(self, obj: Mapping[str, Any]) -> set[str]:
        """The violations that deny admission (audit-only rules excluded)."""
        return self.violations(obj) - self.audit


def load_policy(path: Path = RULES) -> Policy:
    """The rules as installed: the posture catalog's admission rules, rules.yaml, and generate.py's install
    parameters (variables.allowedRegistries)."""
    spec = importlib.util.spec_from_file_location("policy_generate", ROOT / "deploy" / "policies" / "generate.py")
    assert spec and spec.loader
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    doc = generate.load(path)
    return Policy(
        variables=tuple((v["name"], v["expression"]) for v in doc["variables"]),
        rules=tuple((r["id"], r["expression"]) for r in doc["rules"]),
        audit=frozenset(r["id"] for r in doc["rules"] if r.get("action") == "audit"),
    )
