"""Policy pack config parsed and reconciled as the Pulumi CLI does (pulumi/pulumi pkg/resource/analyzer/config.go
parsePolicyPackConfig / extractEnforcementLevel / ReconcilePolicyPackConfig / applyConfig, pkg/engine/update.go
loadPolicyPlugins, sdk/go/common/resource/plugin/analyzer_plugin.go Configure), and the CLI's exit code for a config
error: 1, a plain error (pkg/cmd/pulumi/cmd/exit_codes.go ExitCodeFor falls back to ExitCodeError)."""

from __future__ import annotations

import json

import pytest

from preflight import check_cli
from preflight.policy_config import PolicyConfigError, parse_policy_pack_config, reconcile
from .snapshots import compliant_stack

POLICIES = [
    {"name": "with-schema", "enforcementLevel": "advisory", "hasConfigSchema": True,
     "configSchema": {"properties": {"limit": {"type": "number", "default": 1}}, "required": []}},
    {"name": "no-schema", "enforcementLevel": "mandatory", "hasConfigSchema": False,
     "configSchema": {"properties": {}, "required": []}},
]


@pytest.mark.parametrize("text", ["", "   \n"], ids=["empty", "whitespace"])
def test_an_empty_file_is_no_config(text):
    """`if strings.TrimSpace(string(b)) == "" { return nil, nil, nil }`"""
    assert parse_policy_pack_config(text) == (None, [])


def test_environments_key_lists_esc_environments_and_is_not_a_policy():
    config, environments = parse_policy_pack_config(json.dumps({"environments": ["org/policy-env"],
                                                               "with-schema": "mandatory"}))
    assert environments == ["org/policy-env"] and set(config) == {"with-schema"}
    with pytest.raises(PolicyConfigError, match=r'"environments" must be an array of strings'):
        parse_policy_pack_config('{"environments": "org/env"}')
    with pytest.raises(PolicyConfigError, match=r'"environments\[1\]" must be a string'):
        parse_policy_pack_config('{"environments": ["a", 2]}')


@pytest.mark.parametrize("document, message", [
    ({"with-schema": None}, 'parsing "with-schema": <nil> is not a valid value; must be a string or object'),
    ({"with-schema": {"enforcementLevel": None}},
     'parsing enforcement level for "with-schema": <nil> is not a valid enforcement level; must be a string'),
    ({"with-schema": "strict"}, 'parsing enforcement level for "with-schema": "strict" is not a valid enforcement'),
    ({"with-schema": {"enforcementLevel": "high"}}, '"high" is not a valid enforcement level'),
    ({"with-schema": 3}, 'parsing "with-schema": 3 is not a valid value'),
    # Go's %v of a decoded JSON object and array (fmt: maps print sorted by key as map[k:v ...], slices as [a b]).
    ({"with-schema": {"enforcementLevel": {"b": [True, None], "a": 1}}},
     'parsing enforcement level for "with-schema": map[a:1 b:[true <nil>]] is not a valid enforcement level; '
     'must be a string'),
    ({"with-schema": [False]}, 'parsing "with-schema": [false] is not a valid value; must be a string or object'),
], ids=["null-value", "null-level", "bad-level-string", "bad-level-object", "number", "object-level", "array"])
def test_null_and_invalid_levels_are_errors(document, message):
    with pytest.raises(PolicyConfigError) as raised:
        parse_policy_pack_config(json.dumps(document))
    assert message in str(raised.value)


def test_empty_entries_are_dropped_and_unknown_names_pass_through():
    config, _ = parse_policy_pack_config('{"with-schema": {}, "typo-policy": "mandatory"}')
    assert config == {"typo-policy": {"enforcementLevel": "mandatory", "properties": None}}
    reconciled = reconcile(POLICIES, None, config)
    assert reconciled["typo-policy"]["enforcementLevel"] == "mandatory"  # sent on; the pack ignores it
    assert reconciled["with-schema"] == {"enforcementLevel": "advisory", "properties": {"limit": 1}}


def test_unknown_name_without_level_fails_in_configure():
    config, _ = parse_policy_pack_config('{"typo-policy": {"limit": 2}}')
    with pytest.raises(PolicyConfigError, match='invalid enforcement level ""'):
        reconcile(POLICIES, None, config)


def test_all_sets_every_level_and_is_passed_on():
    config, _ = parse_policy_pack_config('{"all": "disabled", "with-schema": {"limit": 5}}')
    reconciled = reconcile(POLICIES, None, config)
    assert {name: entry["enforcementLevel"] for name, entry in reconciled.items()} == {
        "with-schema": "disabled", "no-schema": "disabled", "all": "disabled"}
    assert reconciled["with-schema"]["properties"] == {"limit": 5}


def test_schema_validation_skips_policies_without_a_schema():
    config, _ = parse_policy_pack_config('{"no-schema": {"anything": "goes"}, "with-schema": {"limit": "x"}}')
    with pytest.raises(PolicyConfigError) as raised:
        reconcile(POLICIES, None, config)
    assert "with-schema: limit: 'x' is not of type 'number'" in str(raised.value)
    assert "no-schema" not in str(raised.value)


@pytest.mark.parametrize("content", ['{"vllm-gpu-memory-utilization-range": null}', "[1, 2]", "{not json",
                                     '{"vllm-gpu-memory-utilization-range": {"minUtilization": "high"}}',
                                     '{"vllm-gpu-memory-utilization-range": {"minUtilization": 1.01}}',
                                     '{"environments": ["org/env"]}'],
                         ids=["null", "not-an-object", "not-json", "schema", "schema-above-one", "esc-offline"])
def test_check_exits_1_on_a_config_error_like_the_cli(tmp_path, capsys, content):
    snapshot, config = tmp_path / "s.json", tmp_path / "policy-config.json"
    snapshot.write_text(json.dumps(compliant_stack()))
    config.write_text(content)
    assert check_cli.main(["--snapshot", str(snapshot), "--policy-config", str(config)]) == 1
    assert capsys.readouterr().err.startswith("error: ")


def test_check_accepts_an_empty_config_file(tmp_path):
    snapshot, config = tmp_path / "s.json", tmp_path / "policy-config.json"
    snapshot.write_text(json.dumps(compliant_stack()))
    config.write_text("")
    assert check_cli.main(["--snapshot", str(snapshot), "--policy-config", str(config)]) == 0
