"""Security pillar, workloads: hardened containers, the vLLM API key from a Secret, pinned images."""

from __future__ import annotations

from typing import Mapping, Optional

from _kubernetes import (
    WORKLOAD_TYPES, command_tokens, command_unknown, container_label, containers, namespace_of, parse_image, pod_spec,
)
from _stack import ADVISORY, MANDATORY, resource_policy
from _values import as_bool, as_list, contains_unknown, get, is_unknown


def _judged_pod_spec(resource_type, props, findings, exempt_namespaces=()) -> Optional[Mapping]:
    """The pod spec of a workload outside `exempt_namespaces`; None when there is nothing to judge (an unknown pod
    template is noted as such)."""
    if resource_type not in WORKLOAD_TYPES:
        return None
    namespace = namespace_of(props)
    if isinstance(namespace, str) and namespace in exempt_namespaces:
        return None
    spec = pod_spec(resource_type, props)
    if is_unknown(spec):
        findings.cannot_judge("pod template")
        return None
    return spec if isinstance(spec, Mapping) else None


# ---------------------------------------------------------------------------------------------------------------
# Container hardening
# ---------------------------------------------------------------------------------------------------------------

CONTAINER_CONFIG = {
    "exemptNamespaces": {"type": "array", "items": {"type": "string"}, "default": ["kube-system"],
                         "description": "Namespaces whose workloads are not judged (system add-ons)."},
}


def _check_non_root(resource_type, props, config, findings, args):
    spec = _judged_pod_spec(resource_type, props, findings, config["exemptNamespaces"])
    if spec is None:
        return
    for container in containers(spec):
        # The container's setting, else the pod's (Kubernetes "Configure a Security Context": container wins).
        non_root, user = (_container_or_pod(spec, container, key) for key in ("runAsNonRoot", "runAsUser"))
        if is_unknown(non_root) or is_unknown(user):
            findings.cannot_judge(container_label(container))
            continue
        if user is not None and float(user) == 0:
            findings.fail(f"{container_label(container)} runs as root (runAsUser: 0).")
        elif as_bool(non_root) is not True and user is None:
            findings.fail(f"{container_label(container)} may run as root: set securityContext.runAsNonRoot: true "
                          "or a non-zero runAsUser.")


def _container_or_pod(spec, container, key: str):
    """A security setting of the container, or the pod's when the container has none; UNKNOWN stays UNKNOWN."""
    value = get(container, "securityContext", key)
    return get(spec, "securityContext", key) if value is None else value


containers_run_as_non_root = resource_policy(
    name="containers-run-as-non-root",
    description="Every container (including init containers) runs as a non-root user.",
    enforcement_level=MANDATORY,
    check=_check_non_root,
    config=CONTAINER_CONFIG,
)


def _check_read_only_root(resource_type, props, config, findings, args):
    spec = _judged_pod_spec(resource_type, props, findings, config["exemptNamespaces"])
    for container in containers(spec):
        value = as_bool(get(container, "securityContext", "readOnlyRootFilesystem"))
        if is_unknown(value):
            findings.cannot_judge(container_label(container))
        elif value is not True:
            findings.fail(f"{container_label(container)} has a writable root filesystem: set "
                          "securityContext.readOnlyRootFilesystem: true (mount emptyDir for scratch space).")


containers_read_only_root_filesystem = resource_policy(
    name="containers-read-only-root-filesystem",
    description="Every container (including init containers) has a read-only root filesystem.",
    enforcement_level=MANDATORY,
    check=_check_read_only_root,
    config=CONTAINER_CONFIG,
)


def _check_no_privilege_escalation(resource_type, props, config, findings, args):
    spec = _judged_pod_spec(resource_type, props, findings, config["exemptNamespaces"])
    for container in containers(spec):
        escalation = as_bool(get(container, "securityContext", "allowPrivilegeEscalation"))
        privileged = as_bool(get(container, "securityContext", "privileged"))
        if is_unknown(escalation) or is_unknown(privileged):
            findings.cannot_judge(container_label(container))
        elif privileged is True:
            findings.fail(f"{container_label(container)} is privileged.")
        elif escalation is not False:
            findings.fail(f"{container_label(container)} allows privilege escalation: set "
                          "securityContext.allowPrivilegeEscalation: false.")


containers_no_privilege_escalation = resource_policy(
    name="containers-no-privilege-escalation",
    description="No container (including init containers) is privileged or allows privilege escalation.",
    enforcement_level=MANDATORY,
    check=_check_no_privilege_escalation,
    config=CONTAINER_CONFIG,
)


# ---------------------------------------------------------------------------------------------------------------
# vllm-api-key-from-secret
# ---------------------------------------------------------------------------------------------------------------

API_KEY_CONFIG = {
    "apiKeyEnvNames": {"type": "array", "items": {"type": "string"}, "default": ["VLLM_API_KEY"],
                       "description": "Environment variables that carry the vLLM API key."},
}


def _check_api_key(resource_type, props, config, findings, args):
    for container in containers(_judged_pod_spec(resource_type, props, findings)):
        # Only names and the key's source matter: an unknown value of another variable leaves nothing unjudged.
        env_list = container.get("env")
        if is_unknown(env_list) or any(is_unknown(e) or is_unknown(get(e, "name")) for e in as_list(env_list)):
            findings.cannot_judge(f"{container_label(container)}.env")
        if command_unknown(container):
            findings.cannot_judge(f"{container_label(container)} command/args")
        for env in as_list(container.get("env")):
            if not isinstance(env, Mapping) or env.get("name") not in config["apiKeyEnvNames"]:
                continue
            if "value" in env:
                findings.fail(f"{container_label(container)} sets {env.get('name')} as a literal env value; take it "
                              "from a Secret (valueFrom.secretKeyRef or a mounted secret file).")
            elif contains_unknown(env.get("valueFrom")):
                findings.cannot_judge(f"{container_label(container)}.env")
            elif get(env, "valueFrom", "configMapKeyRef") is not None:
                findings.fail(f"{container_label(container)} reads {env.get('name')} from a ConfigMap; use a Secret.")
        tokens = command_tokens(container)
        if any(t == "--api-key" or t.startswith("--api-key=") for t in tokens):
            findings.fail(f"{container_label(container)} passes --api-key on the command line (visible in the pod "
                          "spec and process list); read VLLM_API_KEY from a Secret instead.")


vllm_api_key_from_secret = resource_policy(
    name="vllm-api-key-from-secret",
    description="The vLLM API key comes only from a Secret: no literal VLLM_API_KEY env value, no --api-key flag.",
    enforcement_level=MANDATORY,
    check=_check_api_key,
    config=API_KEY_CONFIG,
)


# ---------------------------------------------------------------------------------------------------------------
# Image pinning
# ---------------------------------------------------------------------------------------------------------------

def _images(resource_type, props, findings) -> list[tuple[dict, str]]:
    """(container, image) for every container whose image is known."""
    result = []
    for container in containers(_judged_pod_spec(resource_type, props, findings)):
        image = container.get("image")
        if is_unknown(image):
            findings.cannot_judge(f"{container_label(container)}.image")
        elif isinstance(image, str):
            result.append((container, image))
    return result


def _check_images_pinned(resource_type, props, config, findings, args):
    for container, image in _images(resource_type, props, findings):
        _, tag, digest = parse_image(image)
        if digest:
            continue
        if tag is None:
            findings.fail(f"{container_label(container)} image {image!r} has no tag (means :latest); pin a version.")
        elif tag.lower() == "latest":
            findings.fail(f"{container_label(container)} image {image!r} uses :latest; pin a version.")


images_pinned = resource_policy(
    name="images-pinned",
    description="Container images name an explicit version: no :latest and no tag-less images.",
    enforcement_level=MANDATORY,
    check=_check_images_pinned,
)


def _check_images_digest(resource_type, props, config, findings, args):
    for container, image in _images(resource_type, props, findings):
        _, tag, digest = parse_image(image)
        if not digest:
            findings.fail(f"{container_label(container)} image {image!r} is pinned by tag only; add @sha256:<digest> "
                          "so the bytes cannot change under the tag.")


images_pinned_by_digest = resource_policy(
    name="images-pinned-by-digest",
    description="Container images are pinned by @sha256 digest, not only by tag.",
    enforcement_level=ADVISORY,
    check=_check_images_digest,
)


POLICIES = [
    containers_run_as_non_root,
    containers_read_only_root_filesystem,
    containers_no_privilege_escalation,
    vllm_api_key_from_secret,
    images_pinned,
    images_pinned_by_digest,
]
