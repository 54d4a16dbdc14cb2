"""vllm-eks CrossGuard policy pack: `pulumi preview --policy-pack policies`.

The CLI runs this file with `python -m pulumi.policy <engine-address> .` from this directory, so the pillar
modules are imported as top-level modules (this directory is sys.path[0]), never as `policies.<module>`.
This is the one place that lists the pack's policies, pillar by pillar.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

import cost  # noqa: E402
import edge  # noqa: E402
import irsa_trust  # noqa: E402
import model_reads  # noqa: E402
import operations  # noqa: E402
import performance  # noqa: E402
import pod_isolation  # noqa: E402
import reliability  # noqa: E402
import reliability_cluster  # noqa: E402
import security_cluster  # noqa: E402
import security_identity  # noqa: E402
import security_network  # noqa: E402
import security_storage  # noqa: E402
import security_workloads  # noqa: E402

SECURITY = [*security_network.POLICIES, *security_identity.POLICIES, *security_storage.POLICIES,
            *security_workloads.POLICIES, *security_cluster.POLICIES, *edge.SECURITY_POLICIES, *model_reads.POLICIES,
            *irsa_trust.POLICIES, *pod_isolation.POLICIES]
RELIABILITY = [*reliability.POLICIES, *reliability_cluster.POLICIES, *edge.RELIABILITY_POLICIES]

PolicyPack(
    name="vllm-eks-well-architected",
    description="Well-Architected guard rails for vLLM on Amazon EKS: security, reliability, performance, cost, "
                "operations.",
    enforcement_level=EnforcementLevel.ADVISORY,  # each policy sets its own level
    policies=[*SECURITY, *RELIABILITY, *performance.POLICIES, *cost.POLICIES, *operations.POLICIES],
)
