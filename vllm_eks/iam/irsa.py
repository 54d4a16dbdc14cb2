"""The trust document of an IRSA role, from the cluster's OIDC outputs (shared by every component that makes one)."""

from __future__ import annotations

import json

import pulumi

from vllm_eks.iam.iam_documents import irsa_trust_policy


def irsa_trust_json(
    oidc_provider_arn: pulumi.Input[str], oidc_issuer: pulumi.Input[str], namespace: str, service_account: str
) -> pulumi.Output[str]:
    """`assume_role_policy` for a role only `system:serviceaccount:<namespace>:<service_account>` may assume."""
    return pulumi.Output.all(oidc_provider_arn, oidc_issuer).apply(
        lambda values: json.dumps(irsa_trust_policy(values[0], values[1], namespace, service_account))
    )
