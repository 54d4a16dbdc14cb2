"""Real schema checks for rendered Kubernetes objects.

Core objects: kubernetes-validate in strict mode (unknown fields are errors). Custom resources: the upstream
CRD schemas vendored in tests/crds (or $VLLM_EKS_CRDS_DIR), made strict the way the API server prunes: an object
schema with `properties` and no `additionalProperties`/`x-kubernetes-preserve-unknown-fields` rejects unknown keys.
"""

from __future__ import annotations

import copy
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key

from vllm_eks.planning.catalog import KUBERNETES_VALIDATION_VERSIONS

PROJECT_DIR = Path(__file__).resolve().parent.parent
CRDS_DIR = Path(os.environ.get("VLLM_EKS_CRDS_DIR", PROJECT_DIR / "tests" / "crds"))


def manifest(resource: dict[str, Any]) -> dict[str, Any]:
    """The Kubernetes object a rendered `kubernetes:*` resource would send to the API server: secret values
    unwrapped (the snapshot keeps Pulumi's secret marker) and whole numbers as integers (mocks return floats)."""
    props = _as_sent(copy.deepcopy(resource["props"]))
    props.setdefault("metadata", {}).setdefault("name", resource["name"])
    return props


def _as_sent(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_special_sig_key) == _special_secret_sig:
            return _as_sent(value["value"])
        return {key: _as_sent(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_sent(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def validate_core(obj: dict[str, Any], versions: tuple[str, ...] = KUBERNETES_VALIDATION_VERSIONS) -> None:
    """Raise with every version's message when the object is not valid in strict mode."""
    for version in versions:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            raise AssertionError(f"{obj['kind']} {obj['metadata'].get('name')} invalid for Kubernetes {version}: {error.message} at {list(error.path)}") from None


@lru_cache(maxsize=None)
def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    if not CRDS_DIR.is_dir():
        raise FileNotFoundError(f"no CRD folder at {CRDS_DIR} (the vendored copies live in tests/crds)")
    schemas = {}
    for path in sorted(CRDS_DIR.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not document or document.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = document["spec"]["group"], document["spec"]["names"]["kind"]
            for version in document["spec"]["versions"]:
                schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
                schema.setdefault("properties", {})["metadata"] = {"type": "object"}
                schemas[(f"{group}/{version['name']}", kind)] = _strict(schema)
    return schemas


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


def known_custom_resources() -> set[tuple[str, str]]:
    return set(_crd_schemas())


def validate_custom(obj: dict[str, Any]) -> None:
    """Raise with the path and message of every schema error of a custom resource."""
    key = (obj["apiVersion"], obj["kind"])
    schemas = _crd_schemas()
    if key not in schemas:
        raise AssertionError(f"no upstream CRD for {key} in {CRDS_DIR}; known: {sorted(schemas)}")
    errors = sorted(jsonschema.Draft7Validator(schemas[key]).iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        details = "; ".join(f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors)
        raise AssertionError(f"{obj['kind']} {obj['metadata'].get('name')} violates its CRD schema: {details}")
