"""vllm-eks CrossGuard policy pack: `pulumi preview --policy-pack policies`.

The CLI runs this file with `python -m pulumi.policy <engine-address> .` from this directory, so the pillar
modules are imported as top-level modules, never as `policies.<module>`: `runpy.run_path` puts this directory first
on sys.path while the pack runs (pulumi/policy/__main__.py; Python docs, runpy.run_path).
This is the one place that lists the pack's policies, pillar by pillar.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

import cost
import edge
import irsa_trust
import model_reads
import operations
import performance
import pod_isolation
import reliability
import reliability_cluster
import security_cluster
import security_identity
import security_network
import security_storage
import security_workloads

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
