"""`pulumi destroy` completes and keeps what must survive; the first `pulumi up` can reach the cluster and installs
in an order that teardown can reverse.

Sources (also in tests/aws_behaviour.py): Pulumi docs, "Resource option: protect" (a protected resource makes
`pulumi destroy` fail until it is unprotected) and "Resource option: retainOnDelete" (the resource is left in the
cloud and removed from the state, the destroy completes).
"""

from __future__ import annotations

import pytest

STACKS = ["dev_snapshot", "prod_snapshot"]


@pytest.mark.parametrize("stack", STACKS)
def test_nothing_is_protected_so_destroy_completes(stack, request):
    snapshot = request.getfixturevalue(stack)
    protected = [r["name"] for r in snapshot["resources"] if r["options"].get("protect")]
    assert not protected, f"`pulumi destroy` would stop at {protected}: use retain_on_delete"


@pytest.mark.parametrize("stack", STACKS)
def test_weights_and_their_key_are_kept_on_destroy(stack, request):
    snapshot = request.getfixturevalue(stack)
    kept = {r["type"] for r in snapshot["resources"] if r["options"].get("retainOnDelete")}
    assert {"aws:s3/bucket:Bucket", "aws:kms/key:Key"} <= kept


# --- first `pulumi up`: the deployer reaches the cluster endpoint -------------------------------------------------------

DEPLOYER = {"deployerCidrs": ["10.20.0.0/16"], "deployerSecurityGroupIds": ["sg-0123456789abcdef0"]}


@pytest.fixture(scope="module")
def deployer_snapshot() -> dict:
    import copy

    from preflight.render import read_stack_config, render_config

    config = copy.deepcopy(read_stack_config("prod"))
    config["vllm-eks:cluster"].update(DEPLOYER)
    return render_config("prod-deployer", config)


def test_deployer_networks_get_443_on_the_cluster_security_group_and_nothing_more(deployer_snapshot):
    """AWS EKS user guide, "Cluster API server endpoint": with the public endpoint off, the API server is reachable
    only from the VPC or a connected network, and the cluster security group must allow 443 from that network."""
    rules = [r for r in deployer_snapshot["resources"]
             if r["type"] == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule" and "-deployer-" in r["name"]]
    assert {r["props"].get("cidrIpv4") for r in rules} - {None} == {"10.20.0.0/16"}
    assert {r["props"].get("referencedSecurityGroupId") for r in rules} - {None} == {"sg-0123456789abcdef0"}
    for rule in rules:
        assert float(rule["props"]["fromPort"]) == float(rule["props"]["toPort"]) == 443
        assert rule["props"]["securityGroupId"].startswith("sg-") or "cluster" in rule["props"]["securityGroupId"]
    provider = next(r for r in deployer_snapshot["resources"]
                    if r["type"] == "pulumi:providers:kubernetes" and r["name"] == "cluster-k8s")
    assert {r["urn"] for r in rules} <= set(provider["options"]["dependsOn"]), "the route must exist before any Kubernetes call"


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot", "deployer_snapshot"])
def test_nothing_opens_443_to_the_world(stack, request):
    snapshot = request.getfixturevalue(stack)
    for resource in snapshot["resources"]:
        if resource["type"] == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
            assert resource["props"].get("cidrIpv4") != "0.0.0.0/0", resource["name"]


def test_deployer_cidrs_refuse_everywhere():
    from stack_config import StackConfigError, load_stack_config

    sections = {"models": [{"name": "m", "servedName": "m", "catalogModel": "qwen3-8b", "s3Prefix": "models/m", "maxModelLen": 4096}],
                "edge": {"consumers": [{"name": "a", "requestsPerSecond": 1, "burst": 1}]}}
    with pytest.raises(StackConfigError, match=r"cluster.deployerCidrs: got \['0.0.0.0/0'\], expected restricted CIDR blocks"):
        load_stack_config({**sections, "cluster": {"deployerCidrs": ["0.0.0.0/0"]}})
    with pytest.raises(StackConfigError, match=r"cluster.deployerSecurityGroupIds"):
        load_stack_config({**sections, "cluster": {"deployerSecurityGroupIds": ["default"]}})


# --- ordering: controllers are installed after, and removed before, what they need --------------------------------------

RELEASE = "kubernetes:helm.sh/v3:Release"


def _urn(snapshot: dict, type_token: str, name: str) -> str:
    return next(r["urn"] for r in snapshot["resources"] if r["type"] == type_token and r["name"] == name)


@pytest.mark.parametrize("stack", STACKS)
def test_controller_releases_depend_on_their_permissions_and_the_system_nodes(stack, request):
    """Pulumi docs, "Resource option: dependsOn": a resource is created after, and deleted before, what it depends on.
    Karpenter docs ("Disruption": termination finalizers) and the AWS Load Balancer Controller (target group
    deregistration) need their IAM permissions until their own finalizers have run; their pods need system nodes."""
    snapshot = request.getfixturevalue(stack)
    nodes = _urn(snapshot, "aws:eks/nodeGroup:NodeGroup", "cluster-system")
    expected = {
        "cluster-karpenter": {
            nodes,
            _urn(snapshot, "aws:iam/rolePolicy:RolePolicy", "cluster-karpenter-controller-policy"),
            _urn(snapshot, "aws:eks/accessEntry:AccessEntry", "cluster-karpenter-node-access"),
            _urn(snapshot, "aws:sqs/queuePolicy:QueuePolicy", "cluster-interruptions-policy"),
        },
        "edge-lb-controller": {nodes, _urn(snapshot, "aws:iam/rolePolicy:RolePolicy", "edge-lb-controller")},
    }
    for release_name, needs in expected.items():
        release = next(r for r in snapshot["resources"] if r["type"] == RELEASE and r["name"] == release_name)
        missing = needs - set(release["options"]["dependsOn"])
        assert not missing, f"{release_name} does not wait for {missing}"
        # Helm's default of 300 s is short while system nodes are still joining on a first deploy: 15 minutes.
        assert float(release["props"]["timeout"]) == 900


@pytest.mark.parametrize("stack", STACKS)
def test_karpenter_listens_to_every_interruption_source(stack, request):
    """Karpenter getting-started CloudFormation (v1.14): five EventBridge rules feed the interruption queue, the fifth
    being "EC2 Capacity Reservation Instance Interruption Warning"."""
    snapshot = request.getfixturevalue(stack)
    import json

    kinds = {json.loads(r["props"]["eventPattern"])["detail-type"][0]
             for r in snapshot["resources"] if r["type"] == "aws:cloudwatch/eventRule:EventRule"}
    assert kinds >= {"AWS Health Event", "EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation",
                     "EC2 Instance State-change Notification", "EC2 Capacity Reservation Instance Interruption Warning"}


# --- the deploying principal is admitted once --------------------------------------------------------------------------


@pytest.mark.parametrize("principal, caller, same", [
    ("arn:aws:iam::123456789012:role/deployer", "arn:aws:sts::123456789012:assumed-role/deployer/ci-run-42", True),
    ("arn:aws:iam::123456789012:role/platform/deployer", "arn:aws:sts::123456789012:assumed-role/deployer/s", True),
    ("arn:aws:iam::123456789012:role/deployer", "arn:aws:iam::123456789012:role/deployer", True),
    ("arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/alice", True),
    ("arn:aws:iam::123456789012:role/Admin", "arn:aws:sts::123456789012:assumed-role/deployer/s", False),
    ("arn:aws:iam::210987654321:role/deployer", "arn:aws:sts::123456789012:assumed-role/deployer/s", False),
    ("arn:aws:iam::123456789012:user/deployer", "arn:aws:sts::123456789012:assumed-role/deployer/s", False),
    # A user group is never a caller (IAM user guide, "IAM user groups": a group cannot be a principal).
    ("arn:aws:iam::123456789012:group/deployer", "arn:aws:iam::123456789012:group/deployer", False),
])
def test_same_principal_across_iam_and_sts_arns(principal, caller, same):
    """IAM user guide, "IAM identifiers": a role session is arn:aws:sts::<account>:assumed-role/<name>/<session>."""
    from vllm_eks.iam.principals import is_same_principal

    assert is_same_principal(principal, caller) is same


def test_admin_principal_that_deploys_gets_no_second_access_entry():
    """EKS user guide, "Grant IAM users access to Kubernetes with EKS access entries": the cluster creator gets an
    admin access entry at creation (bootstrapClusterCreatorAdminPermissions defaults to true); creating a second entry
    for the same principal fails (ResourceInUseException)."""
    import copy

    from preflight.mocks import ACCOUNT_ID
    from preflight.render import read_stack_config, render_config

    config = copy.deepcopy(read_stack_config("dev"))
    config["vllm-eks:cluster"]["adminPrincipalArn"] = f"arn:aws:iam::{ACCOUNT_ID}:role/deployer"  # the mocked caller
    snapshot = render_config("dev-admin", config)
    assert not [r for r in snapshot["resources"] if r["type"] == "aws:eks/accessEntry:AccessEntry" and "admin" in r["name"]]


def test_the_mocked_caller_is_a_role_session_as_sts_answers_it():
    """STS API Reference, GetCallerIdentity (example for an assumed role): Arn is the session's
    `arn:aws:sts::<account>:assumed-role/<role>/<session>` and UserId the role's unique id (AROA..., IAM User Guide
    "IAM identifiers") joined to the session name; pulumi-aws's result has exactly these fields
    (get_caller_identity.py GetCallerIdentityResult: account_id, arn, id, user_id)."""
    import inspect
    import re

    import pulumi
    from pulumi_aws import get_caller_identity as module_function

    from preflight.mocks import ACCOUNT_ID, AwsLikeMocks

    result_type = inspect.getmodule(module_function).GetCallerIdentityResult
    fields = [name for name in inspect.signature(result_type.__init__).parameters if name != "__self__"]
    answer = AwsLikeMocks("us-east-1").call(pulumi.runtime.MockCallArgs(
        "aws:index/getCallerIdentity:getCallerIdentity", {}, None))[0]
    assert sorted(answer) == sorted("".join(w.capitalize() if i else w for i, w in enumerate(f.split("_")))
                                    for f in fields) == ["accountId", "arn", "id", "userId"]
    role, session = re.fullmatch(rf"arn:aws:sts::{ACCOUNT_ID}:assumed-role/([\w+=,.@-]+)/([\w+=,.@-]+)",
                                 answer["arn"]).groups()
    assert (role, answer["accountId"]) == ("deployer", ACCOUNT_ID)
    assert re.fullmatch(rf"AROA[A-Z0-9]+:{session}", answer["userId"])
