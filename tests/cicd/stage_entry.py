"""The order in which Declarative Pipeline enters a stage, after the Pipeline Syntax reference
(jenkins.io/doc/book/pipeline/syntax, `when`: "Evaluating when before entering agent / before the input directive /
before the options directive").

Declarative goes through a stage's `options`, then its `input`, then its `agent`, and evaluates `when` last: by
default an input is asked, and answered, before Jenkins looks at the stage's `when`. `beforeAgent true` evaluates
`when` before the agent, `beforeInput true` before the input, `beforeOptions true` before the options; beforeOptions
takes precedence over beforeInput, which takes precedence over beforeAgent. So a stage's input is asked only when its
`when` holds exactly when `when` comes before `input`."""

from __future__ import annotations

from typing import Any

ENTERED = ("options", "input", "agent")
# Precedence order: the first flag set decides where `when` goes.
BEFORE = (("beforeOptions", "options"), ("beforeInput", "input"), ("beforeAgent", "agent"))


def _flag(when: dict[str, Any], name: str) -> bool:
    return any(c["name"] == name and c["args"][:1] == [True] for c in when["children"])


def entry_order(stage: dict[str, Any]) -> list[str]:
    """The directives of `stage` (probed call tree) in the order Declarative runs them: options, input, agent and
    when, the last placed by the before* flags."""
    order = list(ENTERED)
    whens = [c for c in stage["children"] if c["name"] == "when"]
    if whens:
        position = len(order)
        for flag, directive in BEFORE:
            if _flag(whens[0], flag):
                position = order.index(directive)
                break
        order.insert(position, "when")
    present = {c["name"] for c in stage["children"]}
    return [d for d in order if d in present]


def when_holds(stage: dict[str, Any]) -> bool:
    """The stage's `when` conditions as evaluated (dsl_probe --context records each closure's result)."""
    for when in (c for c in stage["children"] if c["name"] == "when"):
        if any(c.get("result") == "false" for c in when["children"]):
            return False
    return True


def input_directive(stage: dict[str, Any]) -> dict[str, Any] | None:
    """{option: value} of the stage's input directive (message, ok, submitter, submitterParameter...)."""
    for inp in (c for c in stage["children"] if c["name"] == "input"):
        return {c["name"]: (c["args"][0] if c["args"] else None) for c in inp["children"]}
    return None
