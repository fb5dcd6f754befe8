"""JSON paths: dotted keys, list indices, `*` wildcards and the `{0}` fields they fill."""

from __future__ import annotations

import pytest

from sublim.report.jsonpath import expand, fill, instantiate, resolve


def test_paths_with_wildcards():
    data = {"m1": {"conditions": {"shared/aux/ce": {"x": 1}, "different/aux/ce": {"x": 2}}}, "items": [10, 20]}
    assert resolve(data, "items.1") == 20
    with pytest.raises(KeyError):
        resolve(data, "m1.nothing")
    assert expand(data, "*.conditions.shared/*/*.x") == [(("m1", "aux", "ce"), 1)]
    assert expand(data, "m1.conditions.*.x") == [(("shared/aux/ce",), 1), (("different/aux/ce",), 2)]
    assert expand(data, "m2.*") == []
    assert fill("{0}.{1} {name}", ("a", "b")) == "a.b {name}"
    assert fill("{0} {2}", ("a",)) == "a {2}"  # a field with no matched key is left alone
    assert instantiate("*.conditions.shared/*/*.x", ("m1", "aux", "ce")) == "m1.conditions.shared/aux/ce.x"
