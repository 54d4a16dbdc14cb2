"""Side branches of policies/security_workloads.py, each with a firing and a quiet case, the whole verdict stated."""

from __future__ import annotations

import pytest

from .branch_cases import DEPLOYMENT, pod_of, run_case, vllm_of
from .snapshots import UNKNOWN, find

# ---------------------------------------------------------------------------------------------------------------
# security_workloads.py
# ---------------------------------------------------------------------------------------------------------------

def _security(container=None, pod=None, init=None):
    """Set (None value: remove) keys of the vLLM container's, the pod's and the init container's securityContext."""
    def mutate(s):
        spec = pod_of(s)
        for context, changes in ((spec["containers"][0]["securityContext"], container),
                                 (spec["securityContext"], pod), (spec["initContainers"][0]["securityContext"], init)):
            for key, value in (changes or {}).items():
                if value is None:
                    context.pop(key, None)
                else:
                    context[key] = value
    return mutate


def _in_namespace(namespace, *mutations):
    def mutate(s):
        find(s, DEPLOYMENT)["props"]["metadata"]["namespace"] = namespace
        for other in mutations:
            other(s)
    return mutate


def _env(*entries):
    return lambda s: vllm_of(s).__setitem__("env", list(entries))


def _image(image, init=False):
    return lambda s: pod_of(s)["initContainers" if init else "containers"][0].__setitem__("image", image)


ROOT = "containers[vllm] runs as root (runAsUser: 0)."
MAY_BE_ROOT = ("containers[vllm] may run as root: set securityContext.runAsNonRoot: true or a non-zero runAsUser.")
WRITABLE = ("containers[vllm] has a writable root filesystem: set securityContext.readOnlyRootFilesystem: true (mount "
            "emptyDir for scratch space).")
ESCALATION = ("containers[vllm] allows privilege escalation: set securityContext.allowPrivilegeEscalation: false.")
DIGEST = "sha256:" + "c" * 64

WORKLOAD_CASES = [
    # A container's own setting wins over the pod's ("Configure a Security Context for a Pod or Container").
    ("non-root-from-the-pod", "containers-run-as-non-root",
     _security(container={"runAsNonRoot": None, "runAsUser": None}), None, [], []),
    ("non-root-container-says-no", "containers-run-as-non-root",
     _security(container={"runAsNonRoot": False, "runAsUser": None}), None, [MAY_BE_ROOT], []),
    ("non-root-user-only", "containers-run-as-non-root",
     _security(container={"runAsNonRoot": None}, pod={"runAsNonRoot": None}), None, [], []),
    ("root-user-from-the-pod", "containers-run-as-non-root",
     _security(container={"runAsNonRoot": None, "runAsUser": None}, pod={"runAsUser": 0.0}), None, [ROOT], []),
    ("root-user-despite-non-root-flag", "containers-run-as-non-root", _security(container={"runAsUser": 0.0}), None,
     [ROOT], []),
    ("root-in-an-exempt-namespace", "containers-run-as-non-root",
     _in_namespace("kube-system", _security(container={"runAsUser": 0.0})), None, [], []),
    ("root-when-nothing-is-exempt", "containers-run-as-non-root",
     _in_namespace("kube-system", _security(container={"runAsUser": 0.0})), {"exemptNamespaces": []}, [ROOT], []),
    ("root-in-another-exempt-namespace", "containers-run-as-non-root",
     _in_namespace("addons", _security(container={"runAsUser": 0.0})), {"exemptNamespaces": ["addons"]}, [], []),
    ("non-root-user-unknown", "containers-run-as-non-root", _security(container={"runAsUser": UNKNOWN}), None, [],
     ["unknown during preview: containers[vllm]"]),
    ("non-root-pod-template-unknown", "containers-run-as-non-root",
     lambda s: find(s, DEPLOYMENT)["props"]["spec"].__setitem__("template", UNKNOWN), None, [],
     ["unknown during preview: pod template"]),
    ("read-only-unset", "containers-read-only-root-filesystem",
     _security(container={"readOnlyRootFilesystem": None}), None, [WRITABLE], []),
    ("read-only-as-text", "containers-read-only-root-filesystem",
     _security(container={"readOnlyRootFilesystem": "true"}), None, [], []),
    ("read-only-init-container", "containers-read-only-root-filesystem",
     _security(init={"readOnlyRootFilesystem": False}), None,
     ["initContainers[wait] has a writable root filesystem: set securityContext.readOnlyRootFilesystem: true (mount "
      "emptyDir for scratch space)."], []),
    ("read-only-exempt", "containers-read-only-root-filesystem",
     _in_namespace("kube-system", _security(container={"readOnlyRootFilesystem": False})), None, [], []),
    ("privileged", "containers-no-privilege-escalation", _security(container={"privileged": True}), None,
     ["containers[vllm] is privileged."], []),
    ("privileged-unknown", "containers-no-privilege-escalation", _security(container={"privileged": UNKNOWN}), None,
     [], ["unknown during preview: containers[vllm]"]),
    # allowPrivilegeEscalation defaults to true when unset (Kubernetes API reference, SecurityContext).
    ("escalation-unset", "containers-no-privilege-escalation",
     _security(container={"allowPrivilegeEscalation": None}), None, [ESCALATION], []),
    ("escalation-off-as-text", "containers-no-privilege-escalation",
     _security(container={"allowPrivilegeEscalation": "false", "privileged": False}), None, [], []),
    ("escalation-exempt", "containers-no-privilege-escalation",
     _in_namespace("kube-system", _security(container={"privileged": True})), None, [], []),
    ("api-key-from-a-config-map", "vllm-api-key-from-secret",
     _env({"name": "VLLM_API_KEY", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "key"}}}), None,
     ["containers[vllm] reads VLLM_API_KEY from a ConfigMap; use a Secret."], []),
    ("api-key-from-a-secret", "vllm-api-key-from-secret",
     _env({"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "api-key", "key": "key"}}}), None, [], []),
    ("api-key-literal-after-another-variable", "vllm-api-key-from-secret",
     _env({"name": "HF_HOME", "value": "/tmp/hf"}, {"name": "VLLM_API_KEY", "value": "secret"}), None,
     ["containers[vllm] sets VLLM_API_KEY as a literal env value; take it from a Secret (valueFrom.secretKeyRef or a "
      "mounted secret file)."], []),
    ("api-key-other-variable", "vllm-api-key-from-secret", _env({"name": "OPENAI_API_KEY", "value": "secret"}), None,
     [], []),
    ("api-key-configured-variable", "vllm-api-key-from-secret", _env({"name": "OPENAI_API_KEY", "value": "secret"}),
     {"apiKeyEnvNames": ["OPENAI_API_KEY"]},
     ["containers[vllm] sets OPENAI_API_KEY as a literal env value; take it from a Secret (valueFrom.secretKeyRef or "
      "a mounted secret file)."], []),
    ("api-key-env-name-unknown", "vllm-api-key-from-secret", _env({"name": UNKNOWN, "value": "x"}), None, [],
     ["unknown during preview: containers[vllm].env"]),
    # A first preview sends unknowns for values built from outputs (a bucket name in another variable): only the
    # names and the key's own source decide.
    ("api-key-other-value-unknown", "vllm-api-key-from-secret",
     _env({"name": "MODEL_BUCKET", "value": UNKNOWN},
          {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "api-key", "key": "key"}}}), None, [], []),
    ("api-key-source-unknown", "vllm-api-key-from-secret", _env({"name": "VLLM_API_KEY", "valueFrom": UNKNOWN}),
     None, [], ["unknown during preview: containers[vllm].env"]),
    ("api-key-secret-name-unknown", "vllm-api-key-from-secret",
     _env({"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": UNKNOWN, "key": "key"}}}), None, [],
     ["unknown during preview: containers[vllm].env"]),
    ("api-key-env-entry-unknown", "vllm-api-key-from-secret", _env(UNKNOWN), None, [],
     ["unknown during preview: containers[vllm].env"]),
    ("api-key-env-unknown", "vllm-api-key-from-secret", lambda s: vllm_of(s).__setitem__("env", UNKNOWN), None, [],
     ["unknown during preview: containers[vllm].env"]),
    ("api-key-literal-beside-an-unknown-name", "vllm-api-key-from-secret",
     _env({"name": UNKNOWN, "value": "x"}, {"name": "VLLM_API_KEY", "value": "secret"}), None,
     ["containers[vllm] sets VLLM_API_KEY as a literal env value; take it from a Secret (valueFrom.secretKeyRef or a "
      "mounted secret file)."], []),
    ("api-key-one-arg-unknown", "vllm-api-key-from-secret", lambda s: vllm_of(s)["args"].append(UNKNOWN), None, [],
     ["unknown during preview: containers[vllm] command/args"]),
    # vLLM 0.32 `--api-key` (vllm/entrypoints/openai/cli_args.py); argparse also takes the `--flag=value` form.
    ("api-key-flag-with-equals", "vllm-api-key-from-secret", lambda s: vllm_of(s)["args"].append("--api-key=secret"),
     None, ["containers[vllm] passes --api-key on the command line (visible in the pod spec and process list); read "
            "VLLM_API_KEY from a Secret instead."], []),
    ("api-key-flag-in-a-shell-script", "vllm-api-key-from-secret",
     lambda s: vllm_of(s).update({"command": ["/bin/sh", "-c", "exec vllm serve /models --api-key secret"],
                                "args": []}), None,
     ["containers[vllm] passes --api-key on the command line (visible in the pod spec and process list); read "
      "VLLM_API_KEY from a Secret instead."], []),
    ("image-latest-any-case", "images-pinned", _image("docker.io/vllm/vllm-openai:LATEST"), None,
     ["containers[vllm] image 'docker.io/vllm/vllm-openai:LATEST' uses :latest; pin a version."], []),
    ("image-latest-with-digest", "images-pinned", _image(f"docker.io/vllm/vllm-openai:latest@{DIGEST}"), None, [], []),
    ("image-untagged-init", "images-pinned", _image("busybox", init=True), None,
     ["initContainers[wait] image 'busybox' has no tag (means :latest); pin a version."], []),
    # A registry port is not a tag (distribution/reference grammar: domain[:port]/path[:tag][@digest]).
    ("image-registry-port-only", "images-pinned", _image("registry.local:5000/vllm/vllm-openai"), None,
     ["containers[vllm] image 'registry.local:5000/vllm/vllm-openai' has no tag (means :latest); pin a version."],
     []),
    ("image-unknown-init-then-latest", "images-pinned",
     lambda s: (_image(UNKNOWN, init=True)(s), _image("vllm/vllm-openai:latest")(s)), None,
     ["containers[vllm] image 'vllm/vllm-openai:latest' uses :latest; pin a version."], []),
    ("image-unknown", "images-pinned", _image(UNKNOWN, init=True), None, [],
     ["unknown during preview: initContainers[wait].image"]),
    ("image-tag-only", "images-pinned-by-digest", _image("registry.local:5000/vllm/vllm-openai:v0.32.0"), None,
     ["containers[vllm] image 'registry.local:5000/vllm/vllm-openai:v0.32.0' is pinned by tag only; add "
      "@sha256:<digest> so the bytes cannot change under the tag."], []),
    ("image-digest-without-tag", "images-pinned-by-digest", _image(f"registry.local:5000/vllm/vllm-openai@{DIGEST}"),
     None, [], []),
]


@pytest.mark.parametrize("policy, mutation, config, messages, reasons", [c[1:] for c in WORKLOAD_CASES],
                         ids=[c[0] for c in WORKLOAD_CASES])
def test_workload_branches(check, policy, mutation, config, messages, reasons):
    """Sources: the Kubernetes documents each case names."""
    run_case(check, policy, mutation, config, messages, reasons)
