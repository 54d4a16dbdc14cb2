"""serving-namespace-default-deny: the namespace running vLLM isolates its pods by default.

Source: kubernetes.io, Concepts > Services > Network Policies ("Default deny all ingress and all egress traffic": a
policy with `podSelector: {}` and `policyTypes` but no rules; `policyTypes` defaults to Ingress).
"""

from __future__ import annotations

import pytest

from preflight.policy_config import PolicyConfigError

from .snapshots import UNKNOWN, compliant_stack, find, remove

POLICY = "serving-namespace-default-deny"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _spec(s):
    return find(s, NETWORK_POLICY, "llm-default-deny")["props"]["spec"]


FIRING = {
    "removed": lambda s: remove(s, NETWORK_POLICY, "llm-default-deny"),
    "other-namespace": lambda s: find(s, NETWORK_POLICY)["props"]["metadata"].update(namespace="other"),
    "selects-some-pods": lambda s: _spec(s).update(podSelector={"matchLabels": {"app": "x"}}),
    "ingress-allowed-to-all": lambda s: _spec(s).update(ingress=[{}]),
    "egress-only": lambda s: _spec(s).update(policyTypes=["Egress"]),
}


@pytest.mark.parametrize("case", sorted(FIRING))
def test_missing_default_deny_fires(check, case):
    snapshot = compliant_stack()
    FIRING[case](snapshot)
    hits = check(snapshot).by_policy(POLICY)
    assert hits and hits[0].enforcement_level == "mandatory" and "Namespace 'llm'" in hits[0].message


def test_default_deny_is_quiet_and_implicit_ingress_type_counts(check):
    assert not check(compliant_stack()).by_policy(POLICY)
    snapshot = compliant_stack()
    _spec(snapshot).pop("policyTypes")
    hits = check(snapshot, {POLICY: {"requiredDirections": ["Ingress"]}}).by_policy(POLICY)
    assert not hits, [v.message for v in hits]


def test_unknown_spec_cannot_be_judged_yet(check):
    snapshot = compliant_stack()
    find(snapshot, NETWORK_POLICY, "llm-default-deny")["props"]["spec"] = UNKNOWN
    result = check(snapshot)
    assert not result.by_policy(POLICY)
    assert any(i["policy"] == POLICY and "unknown during preview" in i["reason"] for i in result.not_applicable)


def _drop_namespace(snapshot, types):
    for resource in snapshot["resources"]:
        if resource["type"] in types and resource["props"].get("metadata", {}).get("namespace") == "llm":
            resource["props"]["metadata"].pop("namespace")


def test_an_unset_namespace_is_the_default_namespace_for_pods_and_policies(check):
    # kubernetes.io, "Namespaces": an object created without a namespace lands in `default`.
    snapshot = compliant_stack()
    _drop_namespace(snapshot, {DEPLOYMENT, NETWORK_POLICY})
    assert not check(snapshot).by_policy(POLICY)
    snapshot = compliant_stack()
    _drop_namespace(snapshot, {DEPLOYMENT})
    hits = check(snapshot).by_policy(POLICY)
    assert hits and "Namespace 'default'" in hits[0].message, [v.message for v in hits]


def test_a_direction_outside_the_schema_is_a_config_error(check):
    with pytest.raises(PolicyConfigError, match=rf"{POLICY}: requiredDirections.*'Sideways' is not one of "
                                                r"\['Ingress', 'Egress'\]"):
        check(compliant_stack(), {POLICY: {"requiredDirections": ["Sideways"]}})
