"""Identity-policy evaluation with the ``Condition`` element, as IAM documents it.

moto matches a statement's Action and Resource only: a condition never narrows an Allow, so a
role allowed ``s3:ListBucket`` only where ``s3:prefix`` is its own folder lists every folder.
This module decides a request from its policies and its request context (the condition keys the
emulator knows how to fill, :data:`KNOWN_KEYS`). A key outside that set cannot be evaluated:
its condition is ignored, as moto ignores every condition, and ``unevaluated`` names it so the
emulator can warn.

AWS's rules followed here (IAM User Guide, "Condition operators" and "Policy evaluation logic"):
an explicit Deny wins; otherwise an Allow whose Action, Resource and every condition match
allows; a statement whose condition does not match does not apply, whatever its Effect. "If the
key that you specify in a policy condition is not present in the request context, the values do
not match and the condition is false. If the policy condition requires that the key is not
matched, such as StringNotLike or ArnNotLike, and the right key is not present, the condition is
true. This logic applies to all condition operators except ...IfExists and Null check."
Several values for one key match if any does; several keys and several operators must all match.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

KNOWN_KEYS = frozenset(
    {
        "aws:requestedregion",
        "aws:principalarn",
        "aws:principalaccount",
        "s3:prefix",
        "s3:delimiter",
        "s3:max-keys",
        "ecs:cluster",
        "ecs:createaction",
    }
)
"""Lower-cased: condition key names are case-insensitive."""

Context = Mapping[str, Sequence[str]]
"""Condition key (lower-cased) to its values in this request; an absent key is not present."""


class Decision(enum.Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


def _wildcard(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    escaped = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(f"^{escaped}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _like(pattern: str, value: str) -> bool:
    return _wildcard(pattern).match(value) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ARN operators compare the six colon-delimited parts one by one, each with wildcards."""
    wanted, actual = pattern.split(":", 5), value.split(":", 5)
    if len(wanted) != len(actual):
        return _like(pattern, value)
    return all(_like(w, a) for w, a in zip(wanted, actual, strict=True))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def matches(wanted: str, value: str) -> bool:
        left, right = _number(value), _number(wanted)
        return left is not None and right is not None and compare(left, right)

    return matches


_POSITIVE: dict[str, Callable[[str, str], bool]] = {
    "stringequals": lambda wanted, value: value == wanted,
    "stringequalsignorecase": lambda wanted, value: value.lower() == wanted.lower(),
    "stringlike": _like,
    "arnequals": _arn_like,
    "arnlike": _arn_like,
    "numericequals": _numeric(lambda a, b: a == b),
    "numericlessthan": _numeric(lambda a, b: a < b),
    "numericlessthanequals": _numeric(lambda a, b: a <= b),
    "numericgreaterthan": _numeric(lambda a, b: a > b),
    "numericgreaterthanequals": _numeric(lambda a, b: a >= b),
    "bool": lambda wanted, value: value.lower() == wanted.lower(),
}
_NEGATED = {
    "stringnotequals": "stringequals",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
    "numericnotequals": "numericequals",
}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_matches(operator: str, key: str, wanted: list[str], context: Context) -> bool | None:
    """True or False; None when this operator cannot be evaluated here."""
    name = operator.lower()
    qualifier = ""
    if ":" in name:
        qualifier, name = name.split(":", 1)
    if_exists = name.endswith("ifexists") and name != "ifexists"
    name = name.removesuffix("ifexists") if if_exists else name
    values = context.get(key)
    if name == "null":
        absent = values is None
        return any(str(w).lower() == ("true" if absent else "false") for w in wanted)
    negated = name in _NEGATED
    positive = _POSITIVE.get(_NEGATED.get(name, name))
    if positive is None or qualifier not in ("", "foranyvalue", "forallvalues"):
        return None
    if values is None:
        if if_exists:
            return True
        return qualifier == "forallvalues" or (negated and qualifier == "")

    def one(value: str) -> bool:
        hit = any(positive(str(w), value) for w in wanted)
        return not hit if negated else hit

    if qualifier == "forallvalues":
        return all(one(v) for v in values)
    if qualifier == "foranyvalue" or not negated:
        return any(one(v) for v in values)
    return all(one(v) for v in values)


def conditions_match(
    conditions: Mapping[str, Mapping[str, Any]],
    context: Context,
    unevaluated: Callable[[str], None],
) -> bool:
    for operator, keys in conditions.items():
        for key, wanted in keys.items():
            lowered = key.lower()
            if lowered not in KNOWN_KEYS:
                unevaluated(f"{operator} on {key}")
                continue
            result = _condition_matches(operator, lowered, _listed(wanted), context)
            if result is None:
                unevaluated(f"{operator} on {key}")
                continue
            if not result:
                return False
    return True


def _element_matches(patterns: Any, value: str, ignore_case: bool) -> bool:
    return any(_wildcard(str(p), ignore_case).match(value) for p in _listed(patterns))


def _applies(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    if "Action" in statement:
        action_hit = _element_matches(statement["Action"], action, ignore_case=True)
    else:
        action_hit = not _element_matches(statement.get("NotAction", []), action, True)
    if "Resource" in statement:
        resource_hit = _element_matches(statement["Resource"], resource, ignore_case=False)
    elif "NotResource" in statement:
        resource_hit = not _element_matches(statement["NotResource"], resource, False)
    else:
        resource_hit = True
    return action_hit and resource_hit


def decide(
    documents: Iterable[Mapping[str, Any]],
    action: str,
    resource: str,
    context: Context,
    unevaluated: Callable[[str], None] = lambda _: None,
) -> Decision:
    allowed = False
    for document in documents:
        for statement in _listed(document.get("Statement", [])):
            if not _applies(statement, action, resource):
                continue
            if not conditions_match(statement.get("Condition") or {}, context, unevaluated):
                continue
            if statement.get("Effect") == "Deny":
                return Decision.EXPLICIT_DENY
            allowed = allowed or statement.get("Effect") == "Allow"
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY
