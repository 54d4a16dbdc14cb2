"""Shared predicates for the vllm-eks policy pack: plain values, unknowns, pod templates, vLLM detection, linking.

The pack judges any Pulumi program, so nothing here imports the project's components. The engine hands the
pack resource *inputs* (camelCase, as the provider sees them); during a preview some of them are unknown.
Every helper returns the `UNKNOWN` marker for those instead of raising, so a policy can decide "not applicable"
rather than pass or crash.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from pulumi_policy import PolicyConfigSchema
from pulumi_policy.deserialize import serialize_properties

# Pulumi's sentinels for values not known during preview (pulumi/sdk/go/common/resource/plugin/rpc.go).
UNKNOWN_SENTINELS = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # bool
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string (the usual one)
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
    "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
    "e48ece36-62e2-4504-bad9-02848725956a",  # archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
})


class _Unknown:
    """Marker for a value the engine cannot know yet (preview)."""

    def __repr__(self) -> str:
        return "<unknown>"

    def __bool__(self) -> bool:  # an unknown is never a pass
        return False


UNKNOWN: Any = _Unknown()

WORKLOAD_TYPES = {
    "kubernetes:apps/v1:Deployment": ("spec", "template"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template"),
    "kubernetes:batch/v1:Job": ("spec", "template"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
    "kubernetes:core/v1:Pod": (),  # the object itself is the pod template
}
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


# ---------------------------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------------------------

def plain(props: Any) -> Any:
    """Unwrap pulumi_policy's unknown-checking proxies into plain dicts/lists (unknowns stay as sentinels)."""
    if props is None:
        return {}
    return serialize_properties(props) if isinstance(props, Mapping) else props


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN or (isinstance(value, str) and value in UNKNOWN_SENTINELS)


def contains_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False


def get(obj: Any, *path: Any, default: Any = None) -> Any:
    """Walk dict keys / list indexes; returns UNKNOWN if an unknown is met on the way, `default` if absent."""
    current = obj
    for key in path:
        if is_unknown(current):
            return UNKNOWN
        if isinstance(current, Mapping):
            if key not in current:
                return default
            current = current[key]
        elif isinstance(current, (list, tuple)) and isinstance(key, int):
            if key >= len(current):
                return default
            current = current[key]
        else:
            return default
    if is_unknown(current):
        return UNKNOWN
    return current


def as_list(value: Any) -> list:
    if value is None or is_unknown(value):
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def as_bool(value: Any) -> Any:
    """True/False for booleans and "true"/"false" strings (the AWS provider types some flags as strings)."""
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def as_number(value: Any) -> Any:
    """A float from an int, float or numeric string (mocks hand numbers back as floats)."""
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def parse_json_document(value: Any) -> Any:
    """An IAM/bucket policy document from a JSON string or a dict; UNKNOWN if not known; None if unparsable."""
    if value is None:
        return None
    if contains_unknown(value):
        return UNKNOWN
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            doc = json.loads(value)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None
    return None


def statements(document: Any) -> list[dict]:
    if not isinstance(document, Mapping):
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


def tags_of(props: Mapping) -> dict:
    tags = props.get("tags")
    return dict(tags) if isinstance(tags, Mapping) else {}


# ---------------------------------------------------------------------------------------------------------------
# Policy configuration
# ---------------------------------------------------------------------------------------------------------------

def config_value(args: Any, schema: PolicyConfigSchema, key: str) -> Any:
    """The configured value, falling back to the schema default (the engine normally sends defaults itself)."""
    config = {}
    try:
        config = args.get_config() or {}
    except Exception:  # pragma: no cover - defensive, get_config never raises in 1.x
        config = {}
    if key in config and config[key] is not None:
        return config[key]
    return schema.properties.get(key, {}).get("default")


# ---------------------------------------------------------------------------------------------------------------
# Kubernetes workloads
# ---------------------------------------------------------------------------------------------------------------

def pod_template(resource_type: str, props: Mapping) -> Any:
    """The pod template (`{metadata, spec}`) of a workload, the Pod itself for a Pod, None for anything else."""
    if resource_type not in WORKLOAD_TYPES:
        return None
    path = WORKLOAD_TYPES[resource_type]
    template = get(props, *path) if path else props
    return template


def pod_spec(resource_type: str, props: Mapping) -> Any:
    template = pod_template(resource_type, props)
    if template is None or is_unknown(template):
        return template
    return get(template, "spec", default=None)


def pod_labels(resource_type: str, props: Mapping) -> Any:
    template = pod_template(resource_type, props)
    if template is None or is_unknown(template):
        return template
    labels = get(template, "metadata", "labels", default={})
    return labels


def namespace_of(props: Mapping) -> Any:
    """metadata.namespace; None means "the provider's default namespace"."""
    return get(props, "metadata", "namespace", default=None)


def object_name(props: Mapping) -> Any:
    return get(props, "metadata", "name", default=None)


def containers(spec: Any, include_init: bool = True) -> list[dict]:
    """Containers (and init/ephemeral containers) of a pod spec, each tagged with `__kind` for messages."""
    if not isinstance(spec, Mapping):
        return []
    result = []
    kinds = ["containers", "initContainers", "ephemeralContainers"] if include_init else ["containers"]
    for kind in kinds:
        for c in as_list(spec.get(kind)):
            if isinstance(c, Mapping):
                item = dict(c)
                item["__kind"] = kind
                result.append(item)
    return result


def container_label(container: Mapping) -> str:
    kind = container.get("__kind", "containers")
    name = container.get("name")
    name = name if isinstance(name, str) and not is_unknown(name) else "?"
    return f"{kind}[{name}]"


def command_tokens(container: Mapping) -> list[str]:
    """command + args as tokens; shell scripts (`sh -c "..."`) are split too so flags inside them are seen."""
    tokens: list[str] = []
    for part in ("command", "args"):
        for item in as_list(container.get(part)):
            if not isinstance(item, str) or is_unknown(item):
                continue
            tokens.append(item)
            if any(ch.isspace() for ch in item.strip()):
                try:
                    tokens.extend(shlex.split(item))
                except ValueError:
                    tokens.extend(item.split())
    return tokens


def flag_values(container: Mapping, *flags: str) -> list[str]:
    """Values of `--flag value` / `--flag=value` in a container's args (args first: they win in vLLM)."""
    values: list[str] = []
    for part in ("args", "command"):
        items = [i for i in as_list(container.get(part)) if isinstance(i, str)]
        for index, token in enumerate(items):
            for flag in flags:
                if token == flag and index + 1 < len(items):
                    values.append(items[index + 1])
                elif token.startswith(flag + "="):
                    values.append(token[len(flag) + 1:])
    return values


_IMAGE_RE = re.compile(r"^(?P<name>[^@]+?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>[A-Za-z0-9_+.-]+:[A-Fa-f0-9]+))?$")


def parse_image(image: str) -> tuple[str, Optional[str], Optional[str]]:
    """(repository, tag, digest) of an image reference; a registry port (`host:5000/x`) is not a tag."""
    match = _IMAGE_RE.match(image.strip())
    if not match:
        return image, None, None
    name, tag, digest = match.group("name"), match.group("tag"), match.group("digest")
    if tag is not None and "/" in tag:  # pragma: no cover - regex forbids it, kept for clarity
        name, tag = f"{name}:{tag}", None
    return name, tag, digest


def is_vllm_container(container: Mapping) -> bool:
    image = container.get("image")
    if isinstance(image, str) and not is_unknown(image):
        repository = parse_image(image)[0].lower()
        if repository.endswith("vllm-openai") or "vllm/vllm" in repository:
            return True
    joined = " ".join(command_tokens(container))
    return "vllm.entrypoints.openai.api_server" in joined or re.search(r"(^|\s)vllm\s+serve(\s|$)", joined) is not None


def is_vllm_deployment(resource_type: str, props: Mapping) -> bool:
    """A Deployment serving vLLM: vLLM image, vLLM entrypoint, or pod label app.kubernetes.io/name=vllm."""
    if resource_type != DEPLOYMENT:
        return False
    labels = pod_labels(resource_type, props)
    if isinstance(labels, Mapping) and labels.get("app.kubernetes.io/name") == "vllm":
        return True
    return any(is_vllm_container(c) for c in containers(pod_spec(resource_type, props), include_init=False))


def vllm_containers(resource_type: str, props: Mapping) -> list[dict]:
    spec = pod_spec(resource_type, props)
    found = [c for c in containers(spec, include_init=False) if is_vllm_container(c)]
    if found:
        return found
    labels = pod_labels(resource_type, props)
    if isinstance(labels, Mapping) and labels.get("app.kubernetes.io/name") == "vllm":
        # Labelled as vLLM but the container is not recognisable: judge its first container.
        return containers(spec, include_init=False)[:1]
    return []


def selector_matches(selector: Any, labels: Mapping) -> Any:
    """Kubernetes label selector (matchLabels + matchExpressions) against labels; UNKNOWN if it can't be known."""
    if contains_unknown(selector) or contains_unknown(labels):
        return UNKNOWN
    if not isinstance(selector, Mapping):
        return False
    match_labels = selector.get("matchLabels") or {}
    expressions = as_list(selector.get("matchExpressions"))
    if not match_labels and not expressions:
        return False  # an empty selector in a PDB selects nothing useful for us
    for key, value in match_labels.items():
        if labels.get(key) != value:
            return False
    for expr in expressions:
        key, operator, values = expr.get("key"), expr.get("operator"), as_list(expr.get("values"))
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def round_down_percent(value: Any, total: float) -> Any:
    """An int-or-percent field resolved like Kubernetes does for maxUnavailable (percentages round down)."""
    if is_unknown(value):
        return UNKNOWN
    if isinstance(value, str) and value.strip().endswith("%"):
        number = as_number(value.strip()[:-1])
        if number is None or is_unknown(number):
            return None
        return float(math.floor(total * number / 100.0))
    return as_number(value)


# ---------------------------------------------------------------------------------------------------------------
# IAM documents
# ---------------------------------------------------------------------------------------------------------------

def statement_actions(statement: Mapping) -> list[str]:
    return [a for a in as_list(statement.get("Action")) if isinstance(a, str)]


def statement_resources(statement: Mapping) -> list[str]:
    return [r for r in as_list(statement.get("Resource")) if isinstance(r, str)]


def action_matches(pattern: str, action: str) -> bool:
    """IAM action pattern (case-insensitive, `*`/`?` wildcards) against a concrete action."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def grants(statement: Mapping, action: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement:
        return not any(action_matches(p, action) for p in as_list(statement.get("NotAction")) if isinstance(p, str))
    return any(action_matches(p, action) for p in statement_actions(statement))


def is_s3_resource(resource: str) -> bool:
    return resource == "*" or resource.startswith("arn:aws:s3:::") or resource.startswith("arn:aws*:s3:::") \
        or bool(re.match(r"^arn:aws[\w-]*:s3:::", resource))


def bucket_of_arn(resource: str) -> Optional[str]:
    match = re.match(r"^arn:aws[\w-]*:s3:::([^/]+)", resource)
    return match.group(1) if match else None


# ---------------------------------------------------------------------------------------------------------------
# The stack as a graph
# ---------------------------------------------------------------------------------------------------------------

# What mocks and providers append to a resource name to form its id: "-id", "_arn", "-1a2b3c4d-id", "-1a2b3c4d".
_ID_SUFFIX = re.compile(r"(?:[-_][0-9a-f]{4,})?(?:[-_:.]?(?:id|arn|name))?(?:[-_][0-9a-f]{4,})?")


class StackView:
    """Stack resources with plain props, indexed by URN and type, plus reference resolution between them."""

    def __init__(self, resources: Sequence[Any]):
        self.resources = list(resources)
        self.props: dict[str, dict] = {}
        self.by_urn: dict[str, Any] = {}
        for r in self.resources:
            self.by_urn[r.urn] = r
            try:
                self.props[r.urn] = plain(r.props)
            except Exception:  # pragma: no cover - a prop we cannot unwrap: judge it as unknown
                self.props[r.urn] = {}

    def of_type(self, *types: str) -> list[Any]:
        return [r for r in self.resources if r.resource_type in types]

    def p(self, resource: Any) -> dict:
        return self.props.get(resource.urn, {})

    @staticmethod
    def parent_urn(resource: Any) -> Optional[str]:
        if resource.parent is not None:
            return resource.parent.urn
        return getattr(resource.opts, "parent", None) or None

    def identity_strings(self, resource: Any) -> set[str]:
        props = self.p(resource)
        ids = {resource.name}
        for key in ("name", "bucket", "arn", "id", "roleName"):
            value = props.get(key)
            if isinstance(value, str) and not is_unknown(value) and value:
                ids.add(value)
        return ids

    def refers_to(self, source: Any, prop: str, value: Any, target: Any) -> bool:
        """Does `source.<prop>` (whose value is `value`) point at `target`?

        Evidence, strongest first: the engine's property dependencies; the value equals the target's name/ARN/
        explicit physical name; the value is the target's resource name plus an id suffix (what mocks return).
        """
        deps = getattr(source, "property_dependencies", None) or {}
        if any(d.urn == target.urn for d in deps.get(prop, [])):
            return True
        values = [v for v in as_list(value) if isinstance(v, str) and not is_unknown(v)]
        ids = self.identity_strings(target)
        for v in values:
            if v in ids:
                return True
            for ident in ids:
                if ident and (f"arn:aws:iam::" in v and v.endswith("/" + ident)):
                    return True
            if v.startswith(target.name) and _ID_SUFFIX.fullmatch(v[len(target.name):]):
                return True
        return False

    def resolve(self, source: Any, prop: str, candidates: Iterable[Any]) -> list[Any]:
        value = self.p(source).get(prop)
        return [c for c in candidates if self.refers_to(source, prop, value, c)]

    def siblings(self, resource: Any, candidates: Iterable[Any]) -> list[Any]:
        parent = self.parent_urn(resource)
        if not parent or parent.endswith("pulumi:pulumi:Stack") or "::pulumi:pulumi:Stack::" in parent:
            return []
        return [c for c in candidates if self.parent_urn(c) == parent or c.urn == parent]

    def related(self, source: Any, prop: str, targets: list[Any]) -> list[Any]:
        """Targets `source.<prop>` refers to; falls back to parent/sibling structure when ids are not visible."""
        found = self.resolve(source, prop, targets)
        if found:
            return found
        value = self.p(source).get(prop)
        if isinstance(value, str) and not is_unknown(value) and value.startswith("arn:"):
            return []  # a concrete ARN that matches nothing here (e.g. an AWS-managed policy)
        # A child of the target, or the only target beside it under the same component.
        parents = [t for t in targets if self.parent_urn(source) == t.urn]
        if parents:
            return parents
        siblings = self.siblings(source, targets)
        return siblings if len(siblings) == 1 else []


# ---------------------------------------------------------------------------------------------------------------
# Policy plumbing: findings with unknown tracking
# ---------------------------------------------------------------------------------------------------------------

class Findings:
    """Violations found by one policy run, plus the places it could not judge because a value was unknown."""

    def __init__(self) -> None:
        self.violations: list[tuple[str, Optional[str]]] = []
        self.unknown: list[str] = []

    def fail(self, message: str, urn: Optional[str] = None) -> None:
        self.violations.append((message, urn))

    def cannot_judge(self, where: str) -> None:
        self.unknown.append(where)


def _strict() -> bool:
    import os
    return os.environ.get("VLLM_EKS_POLICY_STRICT") == "1"


def run_resource_check(check, schema: PolicyConfigSchema):
    """Adapt `check(resource_type, props, config, findings, args)` to pulumi_policy's validate signature."""

    def validate(args, report_violation):
        findings = Findings()
        try:
            props = plain(args.props)
            config = {k: config_value(args, schema, k) for k in schema.properties}
            check(args.resource_type, props, config, findings, args)
        except Exception as error:  # never let one policy break the pack during a preview
            if _strict():
                raise
            args.not_applicable(f"policy could not evaluate this resource: {error!r}")
            return
        for message, _ in findings.violations:
            report_violation(message, None)
        if not findings.violations and findings.unknown:
            args.not_applicable("unknown during preview: " + ", ".join(sorted(set(findings.unknown))))

    return validate


def run_stack_check(check, schema: PolicyConfigSchema):
    """Adapt `check(stack_view, config, findings, args)` to pulumi_policy's stack validate signature."""

    def validate(args, report_violation):
        findings = Findings()
        try:
            view = StackView(args.resources)
            config = {k: config_value(args, schema, k) for k in schema.properties}
            check(view, config, findings, args)
        except Exception as error:
            if _strict():
                raise
            args.not_applicable(f"policy could not evaluate the stack: {error!r}")
            return
        for message, urn in findings.violations:
            report_violation(message, urn)
        if not findings.violations and findings.unknown:
            args.not_applicable("unknown during preview: " + ", ".join(sorted(set(findings.unknown))))

    return validate


def schema(**properties: dict) -> PolicyConfigSchema:
    return PolicyConfigSchema(properties=properties)


def describe(resource: Any) -> str:
    return f"{resource.resource_type} '{resource.name}'"


# Common configuration fragments.
MODEL_BUCKET_CONFIG = {
    "modelBucketTagKey": {"type": "string", "default": "vllm-eks:purpose",
                          "description": "Tag key that marks the S3 bucket holding model weights."},
    "modelBucketTagValue": {"type": "string", "default": "model-weights",
                            "description": "Tag value that marks the S3 bucket holding model weights."},
}
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")


def model_buckets(view: StackView, config: Mapping) -> list[Any]:
    key, value = config["modelBucketTagKey"], config["modelBucketTagValue"]
    return [b for b in view.of_type(*BUCKET_TYPES) if tags_of(view.p(b)).get(key) == value]


def vllm_deployments(view: StackView) -> list[Any]:
    return [r for r in view.of_type(DEPLOYMENT) if is_vllm_deployment(r.resource_type, view.p(r))]
