"""IAM documents for the AWS Load Balancer Controller in binding-only mode (pure functions).

The stack uses the controller for one thing: TargetGroupBinding, i.e. registering router pod IPs in target groups
Pulumi created, and reading target health for pod readiness gates. It creates no load balancer, listener, rule or
security group, so its role gets the read-only calls the controller makes at start-up and on every reconcile
(the first statement of the upstream docs/install/iam_policy.json, v3.5.0) plus Register/DeregisterTargets on
exactly the stack's target groups, instead of the upstream policy's create/delete/modify rights.
"""

from __future__ import annotations

CONTROLLER_READ_ACTIONS = (
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeTags",
    "ec2:DescribeVpcs",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
)


def controller_policy(target_group_arns: list[str]) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            # Describe* calls do not support resource-level permissions.
            {"Sid": "Read", "Effect": "Allow", "Action": list(CONTROLLER_READ_ACTIONS), "Resource": "*"},
            {
                "Sid": "BindRouterPods",
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
                "Resource": sorted(target_group_arns),
            },
        ],
    }
