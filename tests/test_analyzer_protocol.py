"""The Analyzer messages `preflight.analyzer_protocol` builds, compared whole (as JSON) with what the Pulumi engine
sends: pulumi/pulumi proto/pulumi/analyzer.proto (AnalyzeRequest, AnalyzeStackRequest, AnalyzerResourceOptions with
deleteBeforeReplaceDefined, CustomTimeouts in seconds, AnalyzerProviderResource), pkg/resource/plugin/analyzer_plugin.go
(marshalling with SkipInternalKeys, policy metadata), sdk/go/common/providers/reference.go (provider references)."""

from __future__ import annotations

from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2

from preflight.analyzer_protocol import (
    LEVEL_VALUES,
    analyze_request,
    analyze_stack_request,
    configure_request,
    engine_view,
    initial_config_of,
    policies_of,
    provider_urn,
)

STACK = "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev"
PROVIDER = "urn:pulumi:dev::p::pulumi:providers:aws::default_7_1_0"
BUCKET = "urn:pulumi:dev::p::vllm-eks:index:Store$aws:s3/bucketV2:BucketV2::weights"


def as_json(message) -> dict:
    return json_format.MessageToDict(message)


def test_an_analyze_request_carries_props_without_internal_keys_options_and_the_provider():
    resource = {"urn": BUCKET, "type": "aws:s3/bucketV2:BucketV2", "name": "weights", "parent": "urn:parent",
                "props": {"bucket": "w", "__defaults": ["x"], "__meta": "{}"},
                "options": {"protect": True, "ignoreChanges": ["tags"], "additionalSecretOutputs": ["arn"],
                            "aliases": ["urn:old"], "deleteBeforeReplace": False,
                            "customTimeouts": {"create": 2400, "delete": 60.5}, "provider": f"{PROVIDER}::id-1"}}
    by_urn = {PROVIDER: {"urn": PROVIDER, "props": {"region": "us-east-1"}}}
    assert as_json(analyze_request(resource, by_urn)) == {
        "type": "aws:s3/bucketV2:BucketV2", "properties": {"bucket": "w"}, "urn": BUCKET, "name": "weights",
        "options": {"protect": True, "ignoreChanges": ["tags"], "additionalSecretOutputs": ["arn"], "aliases": ["urn:old"],
                    "parent": "urn:parent", "deleteBeforeReplaceDefined": True,
                    "customTimeouts": {"create": 2400.0, "delete": 60.5}},
        "provider": {"type": "pulumi:providers:aws", "urn": PROVIDER, "name": "default_7_1_0",
                     "properties": {"region": "us-east-1"}},
    }
    minimal = as_json(analyze_request({"type": "t", "props": None}, {}))
    assert minimal == {"type": "t", "properties": {}, "options": {"customTimeouts": {}}}
    defined = as_json(analyze_request({"type": "t", "options": {"deleteBeforeReplace": True}}, {}))["options"]
    assert defined == {"deleteBeforeReplace": True, "deleteBeforeReplaceDefined": True, "customTimeouts": {}}


def test_a_provider_reference_is_the_urn_before_its_last_double_colon():
    assert provider_urn(f"{PROVIDER}::04da6b54-80e4-46f7-96ec-b56ff0331ba9") == PROVIDER
    assert provider_urn(PROVIDER) == PROVIDER  # a bare URN from a hand-made snapshot
    unknown_target = as_json(analyze_request({"type": "t", "provider": "urn:pulumi:s::p::pulumi:providers:k8s::k::id"}, {}))
    assert unknown_target["provider"] == {"type": "pulumi:providers:k8s", "urn": "urn:pulumi:s::p::pulumi:providers:k8s::k",
                                          "name": "k", "properties": {}}
    odd = as_json(analyze_request({"type": "t", "options": {"provider": "not-a-urn"}}, {}))["provider"]
    assert odd == {"urn": "not-a-urn", "name": "not-a-urn", "properties": {}}


def test_the_engine_view_puts_its_own_resources_first_and_parents_top_level_ones_to_the_stack():
    snapshot = {"engineResources": [{"urn": STACK, "type": "pulumi:pulumi:Stack"}, {"urn": PROVIDER, "type": "pulumi:providers:aws"},
                                    {"urn": "x"}, "junk"],
                "resources": [{"urn": "a", "type": "t"}, {"urn": "b", "type": "t", "parent": "a"}, {"urn": "c"}, 7]}
    assert engine_view(snapshot) == [
        {"urn": STACK, "type": "pulumi:pulumi:Stack"}, {"urn": PROVIDER, "type": "pulumi:providers:aws"},
        {"urn": "a", "type": "t", "parent": STACK}, {"urn": "b", "type": "t", "parent": "a"}]
    assert engine_view({"resources": [{"urn": "a", "type": "t"}]}) == [{"urn": "a", "type": "t"}]


def test_analyze_stack_sends_outputs_merged_for_resources_and_registered_for_components():
    resources = [
        {"urn": "urn:r", "type": "aws:x:X", "custom": True, "props": {"a": 1, "b": 2}, "outputs": {"b": 3, "arn": "z"},
         "options": {"dependsOn": ["urn:d1", ""]}, "dependencies": None,
         "propertyDependencies": {"a": ["urn:d2"], "b": []}, "parent": "urn:p"},
        {"urn": "urn:c", "type": "vllm-eks:index:C", "custom": False, "props": {"a": 1}, "outputs": {"o": 1},
         "dependencies": ["urn:r"]},
        {"urn": "urn:m", "type": "eks:index:Cluster", "remote": True, "props": {}, "outputs": {"k": "v"}},
        {"urn": "urn:h", "type": "t", "props": {"hand": "made"}},
    ]
    assert as_json(analyze_stack_request(resources, {}))["resources"] == [
        {"type": "aws:x:X", "properties": {"a": 1.0, "b": 3.0, "arn": "z"}, "urn": "urn:r",
         "options": {"parent": "urn:p", "customTimeouts": {}}, "parent": "urn:p", "dependencies": ["urn:d1"],
         "propertyDependencies": {"a": {"urns": ["urn:d2"]}}},
        {"type": "vllm-eks:index:C", "properties": {"o": 1.0}, "urn": "urn:c", "options": {"customTimeouts": {}},
         "dependencies": ["urn:r"]},
        {"type": "eks:index:Cluster", "properties": {"k": "v"}, "urn": "urn:m", "options": {"customTimeouts": {}}},
        {"type": "t", "properties": {"hand": "made"}, "urn": "urn:h", "options": {"customTimeouts": {}}},
    ]


def test_policy_metadata_initial_config_and_configure_requests():
    info = analyzer_pb2.AnalyzerInfo(name="pack", policies=[
        analyzer_pb2.PolicyInfo(name="a", description="A", enforcementLevel=analyzer_pb2.MANDATORY,
                                policy_type=analyzer_pb2.POLICY_TYPE_RESOURCE,
                                configSchema=analyzer_pb2.PolicyConfigSchema(required=["n"])),
        analyzer_pb2.PolicyInfo(name="b", description="B", enforcementLevel=analyzer_pb2.REMEDIATE,
                                policy_type=analyzer_pb2.POLICY_TYPE_STACK),
        analyzer_pb2.PolicyInfo(name="c", enforcementLevel=analyzer_pb2.DISABLED),
    ])
    info.policies[0].configSchema.properties.update({"n": {"type": "integer"}})
    info.initialConfig["a"].CopyFrom(analyzer_pb2.PolicyConfig(enforcementLevel=analyzer_pb2.ADVISORY))
    info.initialConfig["a"].properties.update({"n": 2})
    assert policies_of(info) == [
        {"name": "a", "description": "A", "enforcementLevel": "mandatory",
         "configSchema": {"properties": {"n": {"type": "integer"}}, "required": ["n"]}, "hasConfigSchema": True,
         "type": "resource"},
        {"name": "b", "description": "B", "enforcementLevel": "remediate", "configSchema": {"properties": {}, "required": []},
         "hasConfigSchema": False, "type": "stack"},
        {"name": "c", "description": "", "enforcementLevel": "disabled", "configSchema": {"properties": {}, "required": []},
         "hasConfigSchema": False, "type": "unknown"},
    ]
    assert initial_config_of(info) == {"a": {"n": 2.0, "enforcementLevel": "advisory"}}
    request = configure_request({"a": {"enforcementLevel": "mandatory", "properties": {"n": 3}},
                                 "b": {"enforcementLevel": "disabled", "properties": None}})
    assert as_json(request) == {"policyConfig": {"a": {"enforcementLevel": "MANDATORY", "properties": {"n": 3.0}},
                                                 "b": {"enforcementLevel": "DISABLED"}}}
    assert LEVEL_VALUES == {"advisory": analyzer_pb2.ADVISORY, "mandatory": analyzer_pb2.MANDATORY,
                            "disabled": analyzer_pb2.DISABLED, "remediate": analyzer_pb2.REMEDIATE}


def test_an_explicit_provider_under_a_component_is_typed_by_the_last_type_of_its_urn():
    """URN format (Pulumi docs, "Resource names": urn:pulumi:<stack>::<project>::<parent types $-joined>$<type>::<name>)."""
    urn = "urn:pulumi:dev::p::vllm-eks:index:GpuCluster$pulumi:providers:kubernetes::cluster-k8s"
    provider = as_json(analyze_request({"type": "t", "options": {"provider": f"{urn}::abc"}}, {}))["provider"]
    assert (provider["type"], provider["name"], provider["urn"]) == ("pulumi:providers:kubernetes", "cluster-k8s", urn)
