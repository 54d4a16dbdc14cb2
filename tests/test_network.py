"""Network: AZs, subnet layout, public IPs, NAT count and the S3 gateway endpoint, as rendered."""

import ipaddress
import json

import pytest

from vllm_eks.network.network import kubernetes_api_service_address, kubernetes_service_cidr, plan_subnets
from preflight.mocks import ACCOUNT_ID
from rendered import resource_named, resources_of

SUBNET = "aws:ec2/subnet:Subnet"


def _subnets(snapshot, role):
    return [s for s in resources_of(snapshot, SUBNET) if f"-{role}-" in s["name"]]


@pytest.mark.parametrize("stack, zones", [("dev_snapshot", ["us-east-1a", "us-east-1b"]),
                                          ("prod_snapshot", ["us-east-1a", "us-east-1b", "us-east-1c"])])
def test_one_private_and_one_public_subnet_per_zone(stack, zones, request):
    """The first N zones getAvailabilityZones names (AWS names zones <region><letter>, EC2 user guide "Regions and
    Zones"; preflight/mocks.py answers us-east-1's a, b, c, ...)."""
    snapshot = request.getfixturevalue(stack)
    for role in ("private", "public"):
        subnets = _subnets(snapshot, role)
        assert sorted(s["props"]["availabilityZone"] for s in subnets) == zones


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot"])
def test_subnets_sit_inside_the_vpc_and_never_overlap(stack, request):
    snapshot = request.getfixturevalue(stack)
    vpc = ipaddress.ip_network(resources_of(snapshot, "aws:ec2/vpc:Vpc")[0]["props"]["cidrBlock"])
    blocks = [ipaddress.ip_network(s["props"]["cidrBlock"]) for s in resources_of(snapshot, SUBNET)]
    assert all(block.subnet_of(vpc) for block in blocks)
    for i, first in enumerate(blocks):
        for second in blocks[i + 1 :]:
            assert not first.overlaps(second), (first, second)


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot"])
def test_no_subnet_hands_out_public_addresses(stack, request):
    snapshot = request.getfixturevalue(stack)
    assert all(s["props"]["mapPublicIpOnLaunch"] is False for s in resources_of(snapshot, SUBNET))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_private_subnets_are_tagged_for_internal_load_balancers_and_karpenter(stack, request):
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    assert _subnets(snapshot, "private") and _subnets(snapshot, "public")
    for subnet in _subnets(snapshot, "private"):
        assert subnet["props"]["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert subnet["props"]["tags"]["karpenter.sh/discovery"] == f"vllm-eks-{stack}"
        assert "kubernetes.io/role/elb" not in subnet["props"]["tags"]
    for subnet in _subnets(snapshot, "public"):
        assert subnet["props"]["tags"] == {"Name": subnet["name"], "kubernetes.io/role/elb": "1"}


@pytest.mark.parametrize("stack, nat_count", [("dev_snapshot", 1), ("prod_snapshot", 3)])
def test_nat_gateways_follow_the_config(stack, nat_count, request):
    snapshot = request.getfixturevalue(stack)
    assert len(resources_of(snapshot, "aws:ec2/natGateway:NatGateway")) == nat_count
    assert len(resources_of(snapshot, "aws:ec2/eip:Eip")) == nat_count


def test_prod_private_route_tables_use_their_own_zone_nat(prod_snapshot):
    for index in range(3):
        table = resource_named(prod_snapshot, "aws:ec2/routeTable:RouteTable", f"network-private-{index}-rt")
        assert table["props"]["routes"][0]["natGatewayId"].startswith(f"network-nat-{index}-")


@pytest.mark.parametrize("stack", ["dev_snapshot", "prod_snapshot"])
def test_s3_gateway_endpoint_on_every_private_route_table(stack, request):
    snapshot = request.getfixturevalue(stack)
    endpoint = resource_named(snapshot, "aws:ec2/vpcEndpoint:VpcEndpoint", "network-s3")
    assert endpoint["props"]["vpcEndpointType"] == "Gateway"
    assert endpoint["props"]["serviceName"] == "com.amazonaws.us-east-1.s3"
    private_tables = [t for t in resources_of(snapshot, "aws:ec2/routeTable:RouteTable") if "-private-" in t["name"]]
    assert len(private_tables) == len(_subnets(snapshot, "private"))
    assert sorted(endpoint["props"]["routeTableIds"]) == sorted(_mock_id(t) for t in private_tables)


def _mock_id(resource):
    """The id the mocks gave a resource: what other resources' inputs refer to."""
    from preflight.mocks import _short_hash

    return f"{resource['name']}-{_short_hash(resource['type'] + resource['name'])}-id"


# The interface endpoints each stack file asks for (network.interfaceEndpoints).
INTERFACE_ENDPOINTS = {"dev": ["ecr.api", "ecr.dkr", "sts"], "prod": ["ecr.api", "ecr.dkr", "sts", "logs", "secretsmanager"]}


@pytest.mark.parametrize("stack", sorted(INTERFACE_ENDPOINTS))
def test_interface_endpoints_are_private_and_only_in_private_subnets(stack, request):
    snapshot = request.getfixturevalue(f"{stack}_snapshot")
    endpoints = [e for e in resources_of(snapshot, "aws:ec2/vpcEndpoint:VpcEndpoint") if e["props"]["vpcEndpointType"] == "Interface"]
    services = sorted(e["props"]["serviceName"].removeprefix("com.amazonaws.us-east-1.") for e in endpoints)
    assert services == sorted(INTERFACE_ENDPOINTS[stack])
    private_ids = {_mock_id(s) for s in _subnets(snapshot, "private")}
    for endpoint in endpoints:
        assert endpoint["props"]["privateDnsEnabled"] is True
        assert set(endpoint["props"]["subnetIds"]) == private_ids


def test_flow_logs_capture_all_traffic_with_the_configured_retention(prod_snapshot, dev_snapshot):
    for snapshot, days in ((prod_snapshot, 90), (dev_snapshot, 14)):
        flow_log = resources_of(snapshot, "aws:ec2/flowLog:FlowLog")[0]["props"]
        # To the CloudWatch log group below (pulumi-aws ec2.FlowLog log_destination_type: cloud-watch-logs, s3 or
        # kinesis-data-firehose), every packet accepted or rejected (trafficType ALL).
        assert (flow_log["trafficType"], flow_log["logDestinationType"]) == ("ALL", "cloud-watch-logs")
        assert resource_named(snapshot, "aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")["props"]["retentionInDays"] == days


def test_subnet_plan_for_the_smallest_allowed_vpc():
    plan = plan_subnets("10.20.0.0/20", 6)
    assert plan.private[0] == "10.20.0.0/23" and len(plan.private) == 6
    assert plan.public[0] == "10.20.14.0/28"


def test_subnet_plan_refuses_more_zones_than_blocks():
    with pytest.raises(ValueError, match="network.availabilityZones: got 8"):
        plan_subnets("10.0.0.0/16", 8)


@pytest.mark.parametrize("cidr,zones", [("10.0.0.0/16", 3), ("10.20.0.0/20", 6), ("172.16.0.0/18", 2)])
def test_load_balancer_subnets_are_small_and_apart_from_every_other_subnet(cidr, zones):
    """AWS, "Application Load Balancers" (subnets): at least a /27 with 8 free addresses per subnet. Apart from the
    node subnets, "from the ALB's subnets" admits the ALB and no pod (pods take node-subnet addresses, VPC CNI)."""
    plan = plan_subnets(cidr, zones)
    load_balancer = [ipaddress.ip_network(block) for block in plan.load_balancer]
    others = [ipaddress.ip_network(block) for block in plan.private + plan.public]
    assert len(load_balancer) == zones and all(block.prefixlen == 27 for block in load_balancer)
    assert not any(a.overlaps(b) for a in load_balancer for b in others)
    assert len({str(block) for block in load_balancer}) == zones
    assert all(block.subnet_of(ipaddress.ip_network(cidr)) for block in load_balancer)


@pytest.mark.parametrize("vpc,expected", [("10.0.0.0/16", "172.20.0.0/16"), ("172.20.0.0/18", "10.100.0.0/16")])
def test_service_range_never_overlaps_the_vpc(vpc, expected):
    """EKS, "CreateCluster" kubernetesNetworkConfig.serviceIpv4Cidr: must not overlap the VPC; the `kubernetes`
    Service takes the range's first address (Kubernetes, "Service ClusterIP allocation")."""
    assert kubernetes_service_cidr(vpc) == expected
    assert kubernetes_api_service_address(expected) == expected.replace("0.0/16", "0.1")


def test_flow_log_role_trusts_only_this_accounts_flow_logs(prod_snapshot, dev_snapshot):
    """Amazon VPC User Guide, "IAM role for publishing flow logs to CloudWatch Logs": the trust policy should pin
    `aws:SourceAccount` to the flow log's owner and `aws:SourceArn` to its flow logs (confused-deputy prevention)."""
    for snapshot in (prod_snapshot, dev_snapshot):
        role = resource_named(snapshot, "aws:iam/role:Role", "network-flow-logs-role")
        (statement,) = json.loads(role["props"]["assumeRolePolicy"])["Statement"]
        assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
        assert statement["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:us-east-1:{ACCOUNT_ID}:vpc-flow-log/*"},
        }
