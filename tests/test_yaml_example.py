"""examples/yaml uses the library from Pulumi YAML through the provider schema (issue 19): every `vllm-eks:index:*`
resource there names only inputs the golden provider/schema.json declares, gives every required one, and each value
has the declared type. An interpolation (`${...}`) is an output of another resource: allowed only where the schema
does not mark the input `plain` (Pulumi package schema, "plain": the value must be known, not an Output).

The plan figures in the example are the planner's own (vllm_eks.planning.serving_plan) for its model and instance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from provider_schema import GOLDEN_SCHEMA

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "examples" / "yaml" / "Pulumi.yaml"
JSON_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict}


def _problems(value: Any, prop: dict, where: str, schema: dict) -> list[str]:
    if isinstance(value, str) and value.startswith("${"):
        return [f"{where}: an output (`{value}`) given to a plain input"] if prop.get("plain") else []
    if "$ref" in prop:
        if not prop["$ref"].startswith("#/types/"):
            return []  # another package's resource (e.g. aws:eks NodeGroup): a reference, checked by that package
        type_def = schema["types"][prop["$ref"].removeprefix("#/types/")]
        return _object_problems(value, type_def["properties"], type_def.get("required", []), where, schema)
    expected = JSON_TYPES[prop["type"]]
    if not isinstance(value, expected) or (prop["type"] == "integer" and isinstance(value, bool)):
        return [f"{where}: got {value!r}, expected {prop['type']}"]
    if prop["type"] == "array":
        return [p for i, item in enumerate(value) for p in _problems(item, prop["items"], f"{where}[{i}]", schema)]
    if prop["type"] == "object" and "additionalProperties" in prop:
        return [p for k, item in value.items() for p in _problems(item, prop["additionalProperties"], f"{where}.{k}", schema)]
    return []


def _object_problems(value: Any, properties: dict, required: list[str], where: str, schema: dict) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: got {value!r}, expected an object"]
    problems = [f"{where}.{name}: not an input of the schema (known: {', '.join(sorted(properties))})"
                for name in value if name not in properties]
    problems += [f"{where}.{name}: required and missing" for name in required if name not in value]
    for name, item in value.items():
        if name in properties:
            problems += _problems(item, properties[name], f"{where}.{name}", schema)
    return problems


def validate(program: dict, schema: dict) -> list[str]:
    problems = []
    for name, resource in program["resources"].items():
        token = resource["type"]
        if not token.startswith("vllm-eks:"):
            continue
        if token not in schema["resources"]:
            problems.append(f"{name}: {token} is not a component of the schema")
            continue
        component = schema["resources"][token]
        problems += _object_problems(resource.get("properties", {}), component["inputProperties"],
                                     component.get("requiredInputs", []), name, schema)
    for output, expression in (program.get("outputs") or {}).items():
        resource, _, prop = expression.strip("${}").partition(".")
        token = program["resources"][resource]["type"]
        if token.startswith("vllm-eks:") and prop not in schema["resources"][token]["properties"]:
            problems.append(f"outputs.{output}: {token} has no output {prop}")
    return problems


def test_yaml_example_matches_the_schema():
    program, schema = yaml.safe_load(PROGRAM.read_text()), json.loads(GOLDEN_SCHEMA.read_text())
    assert sum(r["type"].startswith("vllm-eks:") for r in program["resources"].values()) >= 2
    assert validate(program, schema) == []


def test_the_check_catches_a_misspelt_input_a_wrong_type_and_an_output_on_a_plain_input():
    program, schema = yaml.safe_load(PROGRAM.read_text()), json.loads(GOLDEN_SCHEMA.read_text())
    service = program["resources"]["qwen"]["properties"]
    service["bucketNmae"] = service.pop("bucketName")
    service["plan"]["tensorParallelSize"] = "one"
    service["region"] = "${cluster.region}"
    problems = validate(program, schema)
    assert any("bucketNmae: not an input" in p for p in problems)
    assert any("bucketName: required and missing" in p for p in problems)
    assert any("plan.tensorParallelSize: got 'one', expected integer" in p for p in problems)
    assert any("region: an output" in p for p in problems)


def test_plan_figures_are_the_planners():
    from vllm_eks.planning.serving_plan import serving_plan
    from vllm_eks.planning.sizing import plan_capacity

    service = yaml.safe_load(PROGRAM.read_text())["resources"]["qwen"]["properties"]
    model, plan = service["model"], service["plan"]
    planned = serving_plan(plan_capacity(model_name=model["name"], catalog_model=model["catalogModel"],
                                         instance_type=plan["instanceType"], max_model_len=model["maxModelLen"],
                                         gpu_memory_utilization=model["gpuMemoryUtilization"]))
    assert plan == {"instanceType": planned["instance_type"], "tensorParallelSize": planned["tensor_parallel_size"],
                    "weightBytes": planned["weight_bytes"], "podCpu": planned["pod_cpu"], "podMemoryGib": planned["pod_memory_gib"]}
