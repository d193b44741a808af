"""Schemathesis hooks for tests/it/schema_fuzz.rs (loaded through SCHEMATHESIS_HOOKS).

A client's mistake is an answer, not a failure: BAD_USER_INPUT, NOT_FOUND,
UNAUTHENTICATED, FORBIDDEN, CONFLICT and the rest are what the API promises for
bad or unlucky requests. Only a 5xx, an error coded INTERNAL, or an error with no
code at all (which the server would count as INTERNAL) is a bug, and the run's
only check, `screema_no_internal`, fails on exactly those.
"""

import json

import graphql
import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes


@schemathesis.check
def screema_no_internal(ctx, response, case):
    """No 5xx, and no GraphQL error that is INTERNAL or has no code."""
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:2000]}")
    try:
        payload = json.loads(response.content)
    except ValueError:
        return  # a 4xx from the HTTP layer (body too large, bad JSON) need not be JSON
    if not isinstance(payload, dict):
        return
    for error in payload.get("errors") or []:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        if code == "INTERNAL":
            raise AssertionError(f"INTERNAL error: {json.dumps(error)}")
        if not isinstance(code, str):
            raise AssertionError(f"error without a code: {json.dumps(error)}")


def _value(value):
    """A JSON value as a GraphQL literal."""
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([_value(v) for v in value])
    return nodes.Object(
        [graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=_value(v)) for k, v in value.items()]
    )


_numbers = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from([0, 1, 2, 3, 1000, 2**31, 2**63, -(2**63) - 1]),
)
_decimal_text = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.from_regex(r"-?[0-9]{1,40}(\.[0-9]{1,40})?", fullmatch=True),
    st.sampled_from(["0", "0.00", "10.00", "1.50", "-1", "1e30", "1E-30", "9" * 60, "", " ", "NaN", "abc"]),
    st.text(max_size=20),
)
# Decimal: numbers as strings (its usual form), and as Int or Float literals.
schemathesis.graphql.scalar(
    "Decimal",
    st.one_of(
        _decimal_text.map(nodes.String),
        _numbers.map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
    ),
)

_seat = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"number": _numbers, "kind": st.sampled_from(["STANDARD", "PREMIUM", "ACCESSIBLE", "COUPLE", "VIP", ""])},
        optional={"priceMultiplier": _decimal_text},
    ),
)
_row = st.fixed_dictionaries(
    {"label": st.one_of(st.sampled_from(["A", "B", "Z", "AA", ""]), st.text(max_size=4)),
     "seats": st.lists(_seat, max_size=8)},
)
_any_json = st.recursive(
    st.none() | st.booleans() | _numbers | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
# JSON is only a screen's seat layout: mostly layout-shaped, now and then anything.
schemathesis.graphql.scalar(
    "JSON",
    st.one_of(
        st.fixed_dictionaries({"rows": st.lists(_row, max_size=4)}),
        st.fixed_dictionaries({"rows": _any_json}),
        _any_json,
    ).map(_value),
)
