"""vllm-eks CrossGuard policy pack: `pulumi preview --policy-pack policies`.

The CLI runs this file with `python -m pulumi.policy <engine-address> .` from this directory, so the pillar
modules are imported as top-level modules (this directory is sys.path[0]), never as `policies.<module>`.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

import cost  # noqa: E402
import operations  # noqa: E402
import performance  # noqa: E402
import reliability  # noqa: E402
import security  # noqa: E402

PolicyPack(
    name="vllm-eks-well-architected",
    description="Well-Architected guard rails for vLLM on Amazon EKS: security, reliability, performance, cost, "
                "operations.",
    enforcement_level=EnforcementLevel.ADVISORY,  # each policy sets its own level
    policies=[*security.POLICIES, *reliability.POLICIES, *performance.POLICIES, *cost.POLICIES,
              *operations.POLICIES],
)
