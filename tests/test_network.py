"""Network: AZs, subnet layout, public IPs, NAT count and the S3 gateway endpoint, as rendered."""

import ipaddress
import json
import re

import pytest

from vllm_eks.network.network import _first_zones, kubernetes_api_service_address, kubernetes_service_cidr, plan_subnets
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
    with pytest.raises(ValueError) as raised:
        plan_subnets("10.0.0.0/16", 8)
    assert str(raised.value) == "network.availabilityZones: got 8, expected at most 7 for 10.0.0.0/16"
    # seven zones, the most the eight /19 blocks allow (the last one holds the public and load-balancer subnets)
    plan = plan_subnets("10.0.0.0/16", 7)
    assert plan.private == [f"10.0.{32 * index}.0/19" for index in range(7)]
    assert plan.public == [f"10.0.{224 + index}.0/24" for index in range(7)]
    assert plan.load_balancer == [f"10.0.255.{32 * index}/27" for index in range(1, 8)]


def test_zones_are_the_first_available_ones_by_name_and_never_more_than_there_are():
    assert _first_zones(["us-east-1c", "us-east-1a", "us-east-1b"], 2, "us-east-1") == ["us-east-1a", "us-east-1b"]
    assert _first_zones(["us-east-1b", "us-east-1a"], 2, "us-east-1") == ["us-east-1a", "us-east-1b"]
    with pytest.raises(ValueError) as raised:
        _first_zones(["us-east-1a", "us-east-1b"], 3, "us-east-1")
    assert str(raised.value) == "network.availabilityZones: got 3, expected at most 2 (zones available in us-east-1)"


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


def _without_mock_suffixes(props: dict) -> dict:
    """preflight.mocks names an id `<resource name>-<8 hex>-id`; dropping the hash keeps only what the program chose."""
    def plain(value):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value
    props = json.loads(re.sub(r"-[0-9a-f]{8}(?=-id\"|\")", "", json.dumps(props)))
    for key in ("policy", "assumeRolePolicy"):
        if key in props:
            props[key] = json.loads(props[key])
    return plain(props)


DEV_NETWORK = {'network-default-sg': ('DefaultSecurityGroup', {'egress': [], 'ingress': [], 'vpcId': 'network-vpc-id'}),
 'network-ecr-api': ('VpcEndpoint',
                     {'privateDnsEnabled': True,
                      'securityGroupIds': ['network-endpoints-sg-id'],
                      'serviceName': 'com.amazonaws.us-east-1.ecr.api',
                      'subnetIds': ['network-private-0-id', 'network-private-1-id'],
                      'tags': {'Name': 'network-ecr.api'},
                      'vpcEndpointType': 'Interface',
                      'vpcId': 'network-vpc-id'}),
 'network-ecr-dkr': ('VpcEndpoint',
                     {'privateDnsEnabled': True,
                      'securityGroupIds': ['network-endpoints-sg-id'],
                      'serviceName': 'com.amazonaws.us-east-1.ecr.dkr',
                      'subnetIds': ['network-private-0-id', 'network-private-1-id'],
                      'tags': {'Name': 'network-ecr.dkr'},
                      'vpcEndpointType': 'Interface',
                      'vpcId': 'network-vpc-id'}),
 'network-endpoints-sg': ('SecurityGroup',
                          {'description': 'HTTPS from inside the VPC to interface endpoints',
                           'egress': [],
                           'ingress': [{'cidrBlocks': ['10.0.0.0/16'],
                                        'description': 'VPC',
                                        'fromPort': 443,
                                        'protocol': 'tcp',
                                        'toPort': 443}],
                           'tags': {'Name': 'network-endpoints'},
                           'vpcId': 'network-vpc-id'}),
 'network-flow-log': ('FlowLog',
                      {'iamRoleArn': 'arn:aws:iam::123456789012:role/network-flow-logs-role',
                       'logDestination': 'arn:aws:logs:us-east-1:123456789012:log-group:/vpc/vllm-eks-dev/flow-logs',
                       'logDestinationType': 'cloud-watch-logs',
                       'maxAggregationInterval': 60,
                       'trafficType': 'ALL',
                       'vpcId': 'network-vpc-id'}),
 'network-flow-logs': ('LogGroup', {'name': '/vpc/vllm-eks-dev/flow-logs', 'retentionInDays': 14}),
 'network-flow-logs-role': ('Role',
                            {'assumeRolePolicy': {'Statement': [{'Action': 'sts:AssumeRole',
                                                                 'Condition': {'ArnLike': {'aws:SourceArn': 'arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/*'},
                                                                               'StringEquals': {'aws:SourceAccount': '123456789012'}},
                                                                 'Effect': 'Allow',
                                                                 'Principal': {'Service': 'vpc-flow-logs.amazonaws.com'}}],
                                                  'Version': '2012-10-17'}}),
 'network-flow-logs-write': ('RolePolicy',
                             {'policy': {'Statement': [{'Action': ['logs:CreateLogStream',
                                                                   'logs:PutLogEvents',
                                                                   'logs:DescribeLogStreams'],
                                                        'Effect': 'Allow',
                                                        'Resource': ['arn:aws:logs:us-east-1:123456789012:log-group:/vpc/vllm-eks-dev/flow-logs',
                                                                     'arn:aws:logs:us-east-1:123456789012:log-group:/vpc/vllm-eks-dev/flow-logs:*']}],
                                         'Version': '2012-10-17'},
                              'role': 'network-flow-logs-role-id'}),
 'network-igw': ('InternetGateway', {'tags': {'Name': 'network-igw'}, 'vpcId': 'network-vpc-id'}),
 'network-load-balancer-0': ('Subnet',
                             {'availabilityZone': 'us-east-1a',
                              'cidrBlock': '10.0.255.192/27',
                              'mapPublicIpOnLaunch': False,
                              'tags': {'Name': 'network-load-balancer-0'},
                              'vpcId': 'network-vpc-id'}),
 'network-load-balancer-0-rta': ('RouteTableAssociation',
                                 {'routeTableId': 'network-load-balancer-rt-id',
                                  'subnetId': 'network-load-balancer-0-id'}),
 'network-load-balancer-1': ('Subnet',
                             {'availabilityZone': 'us-east-1b',
                              'cidrBlock': '10.0.255.224/27',
                              'mapPublicIpOnLaunch': False,
                              'tags': {'Name': 'network-load-balancer-1'},
                              'vpcId': 'network-vpc-id'}),
 'network-load-balancer-1-rta': ('RouteTableAssociation',
                                 {'routeTableId': 'network-load-balancer-rt-id',
                                  'subnetId': 'network-load-balancer-1-id'}),
 'network-load-balancer-rt': ('RouteTable', {'tags': {'Name': 'network-load-balancer'}, 'vpcId': 'network-vpc-id'}),
 'network-nat-0': ('NatGateway',
                   {'allocationId': 'network-nat-0-eip-id',
                    'subnetId': 'network-public-0-id',
                    'tags': {'Name': 'network-nat-0'}}),
 'network-nat-0-eip': ('Eip', {'domain': 'vpc', 'tags': {'Name': 'network-nat-0'}}),
 'network-private-0': ('Subnet',
                       {'availabilityZone': 'us-east-1a',
                        'cidrBlock': '10.0.0.0/19',
                        'mapPublicIpOnLaunch': False,
                        'tags': {'Name': 'network-private-0',
                                 'karpenter.sh/discovery': 'vllm-eks-dev',
                                 'kubernetes.io/role/internal-elb': '1'},
                        'vpcId': 'network-vpc-id'}),
 'network-private-0-rt': ('RouteTable',
                          {'routes': [{'cidrBlock': '0.0.0.0/0', 'natGatewayId': 'network-nat-0-id'}],
                           'tags': {'Name': 'network-private-0'},
                           'vpcId': 'network-vpc-id'}),
 'network-private-0-rta': ('RouteTableAssociation',
                           {'routeTableId': 'network-private-0-rt-id', 'subnetId': 'network-private-0-id'}),
 'network-private-1': ('Subnet',
                       {'availabilityZone': 'us-east-1b',
                        'cidrBlock': '10.0.32.0/19',
                        'mapPublicIpOnLaunch': False,
                        'tags': {'Name': 'network-private-1',
                                 'karpenter.sh/discovery': 'vllm-eks-dev',
                                 'kubernetes.io/role/internal-elb': '1'},
                        'vpcId': 'network-vpc-id'}),
 'network-private-1-rt': ('RouteTable',
                          {'routes': [{'cidrBlock': '0.0.0.0/0', 'natGatewayId': 'network-nat-0-id'}],
                           'tags': {'Name': 'network-private-1'},
                           'vpcId': 'network-vpc-id'}),
 'network-private-1-rta': ('RouteTableAssociation',
                           {'routeTableId': 'network-private-1-rt-id', 'subnetId': 'network-private-1-id'}),
 'network-public-0': ('Subnet',
                      {'availabilityZone': 'us-east-1a',
                       'cidrBlock': '10.0.224.0/24',
                       'mapPublicIpOnLaunch': False,
                       'tags': {'Name': 'network-public-0', 'kubernetes.io/role/elb': '1'},
                       'vpcId': 'network-vpc-id'}),
 'network-public-0-rta': ('RouteTableAssociation',
                          {'routeTableId': 'network-public-rt-id', 'subnetId': 'network-public-0-id'}),
 'network-public-1': ('Subnet',
                      {'availabilityZone': 'us-east-1b',
                       'cidrBlock': '10.0.225.0/24',
                       'mapPublicIpOnLaunch': False,
                       'tags': {'Name': 'network-public-1', 'kubernetes.io/role/elb': '1'},
                       'vpcId': 'network-vpc-id'}),
 'network-public-1-rta': ('RouteTableAssociation',
                          {'routeTableId': 'network-public-rt-id', 'subnetId': 'network-public-1-id'}),
 'network-public-rt': ('RouteTable',
                       {'routes': [{'cidrBlock': '0.0.0.0/0', 'gatewayId': 'network-igw-id'}],
                        'tags': {'Name': 'network-public'},
                        'vpcId': 'network-vpc-id'}),
 'network-s3': ('VpcEndpoint',
                {'routeTableIds': ['network-private-0-rt-id', 'network-private-1-rt-id'],
                 'serviceName': 'com.amazonaws.us-east-1.s3',
                 'tags': {'Name': 'network-s3'},
                 'vpcEndpointType': 'Gateway',
                 'vpcId': 'network-vpc-id'}),
 'network-sts': ('VpcEndpoint',
                 {'privateDnsEnabled': True,
                  'securityGroupIds': ['network-endpoints-sg-id'],
                  'serviceName': 'com.amazonaws.us-east-1.sts',
                  'subnetIds': ['network-private-0-id', 'network-private-1-id'],
                  'tags': {'Name': 'network-sts'},
                  'vpcEndpointType': 'Interface',
                  'vpcId': 'network-vpc-id'}),
 'network-vpc': ('Vpc',
                 {'cidrBlock': '10.0.0.0/16',
                  'enableDnsHostnames': True,
                  'enableDnsSupport': True,
                  'tags': {'Name': 'network-vpc'}})}


def test_the_dev_network_whole(dev_snapshot):
    """Every resource of dev's Network (two zones, one NAT, three interface endpoints) with every input, whole.

    Sources: Amazon VPC user guide ("DNS attributes for your VPC": private DNS of interface endpoints needs both DNS
    attributes; "Gateway endpoints for Amazon S3": on the private route tables; "Publish flow logs to CloudWatch
    Logs": the role's log-stream permissions, maxAggregationInterval 60 or 600 s); AWS Load Balancer Controller
    "Subnet auto-discovery" (`kubernetes.io/role/elb` public, `kubernetes.io/role/internal-elb` private); Karpenter
    "NodeClasses" subnetSelectorTerms by the `karpenter.sh/discovery` tag; "Application Load Balancers": a /27 per
    subnet. The layout is plan_subnets' on 10.0.0.0/16: eight /19 blocks, private ones first, the public /24s from the
    start of the last block and the load balancer's /27s from its end."""
    rendered_network = {r["name"]: (r["type"].split(":")[-1], _without_mock_suffixes(r["props"]))
                        for r in dev_snapshot["resources"] if r["name"].startswith("network-")}
    assert rendered_network == DEV_NETWORK
