"""Kubernetes predicates for the vllm-eks policy pack: pod templates, containers, vLLM detection, selectors."""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from typing import Any, Optional

from _stack import StackView
from _values import UNKNOWN, as_list, as_number, contains_unknown, get, is_unknown

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


def pod_template(resource_type: str, props: Mapping) -> Any:
    """The pod template (`{metadata, spec}`) of a workload, the Pod itself for a Pod, None for anything else."""
    if resource_type not in WORKLOAD_TYPES:
        return None
    path = WORKLOAD_TYPES[resource_type]
    template = get(props, *path) if path else props
    return template


def pod_spec(resource_type: str, props: Mapping) -> Any:
    """The pod template's spec: None without one, UNKNOWN when not known yet."""
    return get(pod_template(resource_type, props), "spec", default=None)


def pod_labels(resource_type: str, props: Mapping) -> Any:
    """The pod template's labels: {} when there are none (or no template), UNKNOWN when not known yet."""
    return get(pod_template(resource_type, props), "metadata", "labels", default={})


def namespace_of(props: Mapping) -> Any:
    """metadata.namespace; None means "the provider's default namespace"."""
    return get(props, "metadata", "namespace", default=None)


def same_namespace(a: Any, b: Any) -> Any:
    """Namespaces equal; an unset namespace is the provider default, taken to be "default"."""
    if is_unknown(a) or is_unknown(b):
        return UNKNOWN
    return (a or "default") == (b or "default")


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


def containers_unknown(spec: Any) -> bool:
    """Is a container list of a pod spec, or one of its containers, unknown (so `containers` cannot list it)?"""
    if not isinstance(spec, Mapping):
        return is_unknown(spec)
    return any(is_unknown(spec.get(kind)) or any(is_unknown(c) for c in as_list(spec.get(kind)))
               for kind in ("containers", "initContainers", "ephemeralContainers"))


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


def command_unknown(container: Mapping) -> bool:
    """Is any part of the command line unknown (the whole list, or one token that could be any flag)?"""
    return contains_unknown(container.get("command")) or contains_unknown(container.get("args"))


def flag_values(container: Mapping, *flags: str) -> Any:
    """Values of `--flag value` / `--flag=value` in the order the process sees them: the container runs its command
    followed by its args (Kubernetes docs, "Define a Command and Arguments for a Container"), so with argparse the
    last value is the one that counts. UNKNOWN when the command line is not known yet (an unknown list is not an
    empty one)."""
    if command_unknown(container):
        return UNKNOWN
    values: list[str] = []
    for part in ("command", "args"):
        items = [i for i in as_list(container.get(part)) if isinstance(i, str)]
        for index, token in enumerate(items):
            for flag in flags:
                if token == flag and index + 1 < len(items):
                    values.append(items[index + 1])
                elif token.startswith(flag + "="):
                    values.append(token[len(flag) + 1:])
    return values


_IMAGE_RE = re.compile(r"^(?P<name>[^@]+?)"
                       r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
                       r"(?:@(?P<digest>[A-Za-z0-9_+.-]+:[A-Fa-f0-9]+))?$")


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
        # The server image (vllm/vllm-openai, and its -rocm/-cpu variants), not vllm-router or other tools.
        image_name = parse_image(image)[0].lower().rsplit("/", 1)[-1]
        if image_name.startswith("vllm-openai") or image_name == "vllm":
            return True
    joined = " ".join(command_tokens(container))
    return "vllm.entrypoints.openai.api_server" in joined or re.search(r"(^|\s)vllm\s+serve(\s|$)", joined) is not None


def is_vllm_deployment(resource_type: str, props: Mapping) -> bool:
    """A Deployment (callers pass Deployments only) serving vLLM: vLLM image, vLLM entrypoint, or pod label
    app.kubernetes.io/name=vllm."""
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


def vllm_deployments(view: StackView) -> list[Any]:
    return [r for r in view.of_type(DEPLOYMENT) if is_vllm_deployment(r.resource_type, view.p(r))]


def vllm_identity(resource_type: str, props: Mapping) -> Any:
    """Whether a workload is a vLLM Deployment: True, False, or UNKNOWN when its pod template cannot tell yet (an
    unknown template, container list, image with no recognisable entrypoint, or app.kubernetes.io/name label)."""
    if resource_type != DEPLOYMENT:
        return False
    if is_vllm_deployment(resource_type, props):
        return True
    template = pod_template(resource_type, props)
    spec = get(template, "spec")
    if is_unknown(spec) or is_unknown(get(spec, "containers")):
        return UNKNOWN
    if any(is_unknown(c.get("image")) for c in containers(spec, include_init=False)):
        return UNKNOWN
    labels = get(template, "metadata", "labels")
    if is_unknown(labels) or (isinstance(labels, Mapping) and is_unknown(labels.get("app.kubernetes.io/name"))):
        return UNKNOWN
    return False


def judged_as_vllm(resource_type: str, props: Mapping, findings: Any) -> bool:
    """For a resource policy on vLLM Deployments: judge it (True), skip it, or say it cannot be judged yet."""
    identity = vllm_identity(resource_type, props)
    if is_unknown(identity):
        findings.cannot_judge("pod template (is this Deployment vLLM?)")
        return False
    return identity is True


def undecided_vllm_deployments(view: StackView, findings: Any) -> list[Any]:
    """Deployments that may be vLLM but cannot be told yet; each is reported as "cannot judge yet"."""
    undecided = [r for r in view.of_type(DEPLOYMENT) if is_unknown(vllm_identity(r.resource_type, view.p(r)))]
    for deployment in undecided:
        findings.cannot_judge(f"{deployment.name} pod template (is it vLLM?)")
    return undecided
