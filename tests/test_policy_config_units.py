"""Policy config reconciliation details (`preflight/policy_config.py`, mirroring pulumi/pulumi
pkg/resource/analyzer/config.go): a schema's `required`, nested error paths, defaults merged under the user's
properties, the parsed form passing through, and an unreadable file."""

from __future__ import annotations

import pytest

from preflight.policy_config import PolicyConfigError, load_policy_pack_config, normalize, reconcile


def _policy(name: str, properties: dict | None = None, required: list[str] | None = None, level: str = "mandatory") -> dict:
    return {"name": name, "enforcementLevel": level, "hasConfigSchema": True,
            "configSchema": {"properties": properties or {}, "required": required or []}}


def test_a_required_property_the_config_lacks_and_a_nested_type_error_are_reported_sorted():
    """validatePolicyPackConfig: each policy's properties against its JSON schema (draft 7), every error listed."""
    policies = [_policy("b", {"limit": {"type": "integer"}}, ["limit"]),
                _policy("a", {"ports": {"type": "array", "items": {"type": "integer"}}})]
    with pytest.raises(PolicyConfigError) as error:
        reconcile(policies, None, {"a": {"ports": [80, "x"]}})
    assert str(error.value) == ("validating policy config:\n  a: ports.1: 'x' is not of type 'integer'\n"
                                "  b: 'limit' is a required property")
    assert reconcile(policies, None, {"b": {"limit": 3}})["b"] == {"enforcementLevel": "mandatory", "properties": {"limit": 3}}


def test_defaults_then_initial_config_then_the_users_properties_merge_per_key():
    policies = [_policy("p", {"a": {"type": "integer", "default": 1}, "b": {"type": "integer", "default": 2}},
                        level="advisory")]
    result = reconcile(policies, {"p": {"enforcementLevel": "mandatory", "b": 5}}, {"p": {"a": 9}})
    assert result == {"p": {"enforcementLevel": "mandatory", "properties": {"a": 9, "b": 5}}}
    assert reconcile(policies, None, {"all": "disabled"}) == {
        "p": {"enforcementLevel": "disabled", "properties": {"a": 1, "b": 2}},
        "all": {"enforcementLevel": "disabled", "properties": None}}


def test_a_parsed_config_passes_normalize_unchanged_and_a_document_is_parsed():
    parsed = {"p": {"enforcementLevel": "advisory", "properties": None}}
    assert normalize(parsed) is parsed
    assert normalize({"p": "advisory"}) == parsed
    assert normalize(None) is None


def test_a_config_file_that_cannot_be_read_is_a_config_error(tmp_path):
    with pytest.raises(PolicyConfigError, match="No such file or directory"):
        load_policy_pack_config(tmp_path / "missing.json")
    (tmp_path / "c.json").write_text('{"p": {"enforcementLevel": "advisory", "reason": "noise"}}')
    assert load_policy_pack_config(tmp_path / "c.json") == (
        {"p": {"enforcementLevel": "advisory", "properties": {"reason": "noise"}}}, [])


def test_lowerings_are_listed_one_per_line_and_counted_in_the_heading():
    """The repository's rule (policies/config/README): every policy lowered below mandatory says why."""
    from preflight.stack_policy_config import Lowering, default_config_path, format_lowerings, lowerings, unexplained

    policies = [{"name": "a", "enforcementLevel": "mandatory"}, {"name": "b", "enforcementLevel": "advisory"},
                {"name": "c", "enforcementLevel": "mandatory"}]
    found = lowerings(policies, {"a": {"enforcementLevel": "advisory", "reason": "  noisy  "}, "b": "disabled",
                                 "c": "disabled"})
    assert found == [Lowering("a", "advisory", "noisy"), Lowering("c", "disabled", "")]
    assert lowerings(policies, {"all": "mandatory", "b": "disabled"}) == [Lowering("b", "disabled", "")]
    assert lowerings(policies, {"all": "advisory"}) == [Lowering("a", "advisory", ""), Lowering("c", "advisory", "")]
    assert lowerings(policies, {"a": "remediate"}) == [] and lowerings(policies, None) == []
    assert format_lowerings("cfg.json", found) == ("Policy config cfg.json lowers 2 policies below mandatory:\n"
                                                   "    - a -> advisory: noisy\n"
                                                   "    - c -> disabled: NO REASON GIVEN (refused)")
    assert format_lowerings("cfg.json", found[:1]).splitlines()[0] == "Policy config cfg.json lowers 1 policy below mandatory:"
    assert format_lowerings("cfg.json", []) == "Policy config cfg.json: no policy lowered below mandatory"
    assert unexplained(found) == ["c"]
    assert default_config_path("prod").name == "prod.json" and default_config_path("nowhere") is None
    assert default_config_path(None) is None and default_config_path("") is None
