"""Guard: the refusal codes an entry can get, pinned for ``backtest.affordable``.

``affordable`` skips a flat engine's entry signals only where it has shown, check by
check, that ``RiskManager._refusal`` (``check_entry``) and ``plan_entry`` (``plan``)
refuse nothing (a refusal is counted, so a skipped one would change the report). A new
refusal code, or a check moved in ``_refusal``, is a case that proof does not cover:
if this test fails, re-review ``affordable.py`` (its module docstring lists the checks
and ``configured_for_it`` / ``clear_now`` the conditions), then update the lists here.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

from kinetic.risk import entry, manager

# check_entry's checks, in the order _refusal makes them (the first failing one counts)
CHECK_ENTRY_CODES = [
    "stopping",
    "circuit_breaker",
    "confidence",
    "position_open",
    "max_positions",
    "cooldown",
    "size",
    "no_capital",
]
# every Refusal risk/entry.py builds (plan_entry and the helpers it calls)
PLAN_CODES = {"stop_too_tight", "no_price", "edge", "size", "liquidation"}


def _constant(node: ast.expr, names: dict[str, object]) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    assert isinstance(node, ast.Name), f"a refusal code that is not a constant: {ast.dump(node)}"
    return names[node.id]


def test_check_entry_refusal_codes_are_pinned() -> None:
    tree = ast.parse(textwrap.dedent(inspect.getsource(manager.RiskManager._refusal)))
    codes = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and node.value is not None:
            if isinstance(node.value, ast.Constant) and node.value.value is None:
                continue
            assert isinstance(node.value, ast.Tuple), ast.dump(node.value)
            codes.append(_constant(node.value.elts[0], vars(manager)))
    assert codes == CHECK_ENTRY_CODES


def test_plan_refusal_codes_are_pinned() -> None:
    tree = ast.parse(inspect.getsource(entry))
    codes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Refusal":
            codes.add(_constant(node.args[0], vars(entry)))
    assert codes == PLAN_CODES
