"""The library served to other Pulumi languages (issue 19): the schema the SDK's analyzer infers from the components
(pulumi/provider/experimental/analyzer.py, the code `component_provider_host` runs for `pulumi package add`) holds
every public component with typed, described inputs and outputs, and equals the committed provider/schema.json.

Regenerate after an intentional change of a component's Args or outputs:
    .venv/bin/python tests/provider_schema.py --write
"""

from __future__ import annotations

import difflib
from typing import Any

import pytest

from provider_schema import GOLDEN_SCHEMA, PACKAGE, inferred_schema, schema_text


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return inferred_schema()


def test_schema_matches_the_committed_golden(schema):
    kept, now = GOLDEN_SCHEMA.read_text(), schema_text(schema)
    diff = "\n".join(list(difflib.unified_diff(kept.splitlines(), now.splitlines(), "provider/schema.json", "inferred", lineterm="", n=1))[:60])
    assert kept == now, f"the inferred schema differs from provider/schema.json (`.venv/bin/python tests/provider_schema.py --write`):\n{diff}"


def test_every_public_component_is_a_described_component_with_inputs_and_outputs(schema):
    from vllm_eks.components import PUBLIC_COMPONENTS

    expected = {f"{PACKAGE}:index:{component.__name__}" for component in PUBLIC_COMPONENTS}
    assert set(schema["resources"]) == expected
    assert {"Network", "GpuCluster", "ModelStore", "VllmService", "Autoscaling", "Observability", "Edge"} <= {
        token.rsplit(":", 1)[1] for token in expected}
    for token, resource in schema["resources"].items():
        assert resource["isComponent"] is True, token
        assert resource.get("description"), f"{token} has no description (the class docstring)"
        assert resource["inputProperties"] and resource["properties"], token
        assert set(resource["requiredInputs"]) <= set(resource["inputProperties"]), token


def _properties(schema: dict[str, Any]):
    for token, resource in schema["resources"].items():
        for kind in ("inputProperties", "properties"):
            for name, prop in resource[kind].items():
                yield f"{token}.{kind}.{name}", prop
    for token, type_def in schema["types"].items():
        for name, prop in type_def["properties"].items():
            yield f"{token}.{name}", prop


def test_every_property_is_typed_and_described(schema):
    """A field without a docstring reaches TypeScript/Go users as an undocumented property; `Any` means the analyzer
    could not express a type."""
    undescribed = [where for where, prop in _properties(schema) if not prop.get("description")]
    untyped = [where for where, prop in _properties(schema) if not (prop.get("type") or prop.get("$ref"))
               or prop.get("$ref") == "pulumi.json#/Any"]
    assert not undescribed, undescribed
    assert not untyped, untyped


def test_examples_of_types_as_a_consumer_sees_them(schema):
    service = schema["resources"][f"{PACKAGE}:index:VllmService"]
    assert service["inputProperties"]["plan"]["$ref"] == f"#/types/{PACKAGE}:index:ServingPlan"
    assert service["inputProperties"]["readRoleArn"] == {
        "type": "string", "description": service["inputProperties"]["readRoleArn"]["description"]}  # an Input: not plain
    assert schema["types"][f"{PACKAGE}:index:ServingPlan"]["properties"]["tensorParallelSize"]["type"] == "integer"
    edge = schema["resources"][f"{PACKAGE}:index:Edge"]["inputProperties"]
    assert edge["systemNodeGroup"]["$ref"].endswith("/schema.json#/resources/aws:eks%2FnodeGroup:NodeGroup")
    assert "k8sProvider" not in edge  # Kubernetes children get the provider from the `providers` resource option


def test_readme_component_table_is_generated_from_the_schema(schema):
    from provider_schema import README, TABLE_BEGIN, TABLE_END, component_table

    readme = README.read_text()
    section = readme[readme.index(TABLE_BEGIN): readme.index(TABLE_END) + len(TABLE_END)]
    assert section == component_table(schema), "run `.venv/bin/python tests/provider_schema.py --write`"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_each_component_registers_under_the_token_other_languages_construct(schema, stack):
    """A component provider constructs `<package>:index:<class>` (the schema's resource keys) and the component
    registers itself under its own type string (ComponentResource.__init__'s `t`): the two must be the same token."""
    from rendered import rendered

    registered = {r["type"] for r in rendered(stack)["resources"] if not r.get("custom") and r["type"].startswith(PACKAGE)}
    assert registered == {f"vllm-eks:index:{name}" for name in (
        "Network", "GpuCluster", "ClusterAddons", "ImageCache", "ModelStore", "VllmService", "InternalApiKey",
        "Autoscaling", "Observability", "Edge", "ModelRouter")}
    assert set(schema["resources"]) <= registered


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_registered_output_is_an_output_the_schema_declares(schema, stack):
    """`register_outputs` names what the component shows in the stack's state; each name is one of the outputs
    other languages read (the schema's `properties`, camelCase of the Python attribute)."""
    from pydantic.alias_generators import to_camel

    from rendered import rendered

    components = [r for r in rendered(stack)["resources"] if r["type"] in schema["resources"]]
    assert {r["type"] for r in components} == set(schema["resources"])
    for component in components:
        registered = {to_camel(key) for key in component["outputs"]}
        assert registered and registered <= set(schema["resources"][component["type"]]["properties"]), component["type"]
