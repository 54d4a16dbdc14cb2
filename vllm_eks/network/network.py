"""Network: a VPC whose public subnets hold NAT only, whose private subnets hold every node and pod, and whose small
load-balancer subnets hold the internal ALB alone (so "from the ALB's subnets" means the ALB, never a pod)."""

import ipaddress
import json
from dataclasses import dataclass
from typing import TypedDict

import pulumi
import pulumi_aws as aws

from vllm_eks.iam.iam_documents import flow_log_trust_policy


class NetworkArgs(TypedDict):
    """VPC layout for one EKS cluster."""

    cidr: str
    """The VPC's IPv4 range, e.g. 10.0.0.0/16."""
    availability_zone_count: int
    """How many Availability Zones get subnets (the first ones the Region offers)."""
    nat_gateways: str
    """NAT gateways: `single` (one for the VPC) or `perAz` (one per Availability Zone)."""
    interface_endpoints: list[str]
    """Service suffixes: "ecr.api", "ecr.dkr", "sts", "logs", ..."""
    flow_log_retention_days: int
    """Retention of the VPC flow logs in CloudWatch Logs."""
    cluster_name: str
    """Value of the karpenter.sh/discovery tag on private subnets."""
    region: str
    """The AWS Region of the VPC."""


# AWS, "Application Load Balancers" (subnets): each subnet needs at least a /27 with 8 free addresses.
LOAD_BALANCER_SUBNET_PREFIX = 27


@dataclass(frozen=True)
class SubnetPlan:
    private: list[str]
    public: list[str]
    load_balancer: list[str]


def plan_subnets(cidr: str, zone_count: int) -> SubnetPlan:
    """Large private subnets (pods take VPC addresses with the VPC CNI), small public ones for load balancers.

    The VPC splits into eight blocks: the first `zone_count` are private subnets, and the last one is cut
    into /24-equivalents (prefix + 8) for the public subnets, taken from its start, and /27s for the internal
    load balancer, taken from its end (never overlapping: the last block holds 256 /24-equivalents).
    """
    network = ipaddress.ip_network(cidr)
    blocks = list(network.subnets(prefixlen_diff=3))
    if zone_count > len(blocks) - 1:
        raise ValueError(f"network.availabilityZones: got {zone_count}, expected at most {len(blocks) - 1} for {cidr}")
    public_blocks = list(blocks[-1].subnets(new_prefix=network.prefixlen + 8))
    load_balancer_blocks = list(blocks[-1].subnets(new_prefix=LOAD_BALANCER_SUBNET_PREFIX))
    return SubnetPlan(
        private=[str(block) for block in blocks[:zone_count]],
        public=[str(block) for block in public_blocks[:zone_count]],
        load_balancer=[str(block) for block in load_balancer_blocks[-zone_count:]],
    )


# EKS, "CreateCluster" (kubernetesNetworkConfig.serviceIpv4Cidr): without a value EKS picks 10.100.0.0/16 or
# 172.20.0.0/16; naming it lets NetworkPolicies allow the `kubernetes` Service address before the cluster exists.
SERVICE_CIDR_CHOICES = ("172.20.0.0/16", "10.100.0.0/16")


def kubernetes_service_cidr(vpc_cidr: str) -> str:
    """The cluster's Service range: the first choice that does not overlap the VPC (EKS forbids an overlap)."""
    vpc = ipaddress.ip_network(vpc_cidr)
    return next(cidr for cidr in SERVICE_CIDR_CHOICES if not ipaddress.ip_network(cidr).overlaps(vpc))


def kubernetes_api_service_address(service_cidr: str) -> str:
    """The `kubernetes` Service's ClusterIP: kube-apiserver reserves the first address of its Service range."""
    return str(ipaddress.ip_network(service_cidr).network_address + 1)


def flow_log_write_policy(log_group_arn: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [log_group_arn, f"{log_group_arn}:*"],
            }
        ],
    }


class Network(pulumi.ComponentResource):
    """VPC, public subnets for NAT, private subnets for every node (`internal-elb` and `karpenter.sh/discovery` tags),
    small load-balancer subnets that hold the internal ALB alone, NAT per AZ or single, S3 gateway endpoint on every
    private route table, interface endpoints, flow logs.
    """

    vpc_id: pulumi.Output[str]
    """The VPC's id."""
    vpc_cidr: pulumi.Output[str]
    """The VPC's IPv4 range."""
    private_subnet_ids: pulumi.Output[list[str]]
    """One private subnet per Availability Zone, for every node."""
    public_subnet_ids: pulumi.Output[list[str]]
    """One public subnet per Availability Zone, for the NAT gateways."""
    load_balancer_subnet_ids: pulumi.Output[list[str]]
    """Small private subnets that hold the internal ALB alone."""
    availability_zones: pulumi.Output[list[str]]
    """The Availability Zones the subnets are in."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("vllm-eks:index:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        zone_count = args["availability_zone_count"]
        plan = plan_subnets(args["cidr"], zone_count)
        zone_names = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self)).names.apply(
            lambda names: _first_zones(names, zone_count, args["region"])
        )

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args["cidr"],
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        # The default security group admits all traffic between its members; nothing should ever use it.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], opts=child)
        internet_gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={"Name": f"{name}-igw"}, opts=child)

        public_route_table = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": internet_gateway.id}],
            tags={"Name": f"{name}-public"},
            opts=child,
        )
        # Load-balancer subnets reach only the VPC (the local route): an internal ALB needs nothing else.
        load_balancer_route_table = aws.ec2.RouteTable(
            f"{name}-load-balancer-rt", vpc_id=vpc.id, tags={"Name": f"{name}-load-balancer"}, opts=child
        )
        public_subnets, private_subnets, private_route_tables, load_balancer_subnets = [], [], [], []
        for index in range(zone_count):
            zone = zone_names.apply(lambda names, i=index: names[i])
            public_subnet = aws.ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=vpc.id,
                cidr_block=plan.public[index],
                availability_zone=zone,
                map_public_ip_on_launch=False,  # load balancers and NAT get addresses explicitly; nothing else lives here
                tags={"Name": f"{name}-public-{index}", "kubernetes.io/role/elb": "1"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{index}-rta", subnet_id=public_subnet.id, route_table_id=public_route_table.id, opts=child
            )
            public_subnets.append(public_subnet)
            private_subnets.append(
                aws.ec2.Subnet(
                    f"{name}-private-{index}",
                    vpc_id=vpc.id,
                    cidr_block=plan.private[index],
                    availability_zone=zone,
                    map_public_ip_on_launch=False,
                    tags={
                        "Name": f"{name}-private-{index}",
                        "kubernetes.io/role/internal-elb": "1",
                        "karpenter.sh/discovery": args["cluster_name"],
                    },
                    opts=child,
                )
            )
            load_balancer_subnet = aws.ec2.Subnet(
                f"{name}-load-balancer-{index}",
                vpc_id=vpc.id,
                cidr_block=plan.load_balancer[index],
                availability_zone=zone,
                map_public_ip_on_launch=False,
                # No role/discovery tags: no controller, node or pod may ever pick these subnets.
                tags={"Name": f"{name}-load-balancer-{index}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-load-balancer-{index}-rta",
                subnet_id=load_balancer_subnet.id,
                route_table_id=load_balancer_route_table.id,
                opts=child,
            )
            load_balancer_subnets.append(load_balancer_subnet)

        nat_count = zone_count if args["nat_gateways"] == "perAz" else 1
        nat_gateways = []
        for index in range(nat_count):
            address = aws.ec2.Eip(f"{name}-nat-{index}-eip", domain="vpc", tags={"Name": f"{name}-nat-{index}"}, opts=child)
            nat_gateways.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{index}",
                    subnet_id=public_subnets[index].id,
                    allocation_id=address.id,
                    tags={"Name": f"{name}-nat-{index}"},
                    opts=child.merge(pulumi.ResourceOptions(depends_on=[internet_gateway])),
                )
            )
        for index, subnet in enumerate(private_subnets):
            route_table = aws.ec2.RouteTable(
                f"{name}-private-{index}-rt",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat_gateways[index % nat_count].id}],
                tags={"Name": f"{name}-private-{index}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}-rta", subnet_id=subnet.id, route_table_id=route_table.id, opts=child
            )
            private_route_tables.append(route_table)

        # Model weights (tens of GB) must reach the nodes through the free gateway endpoint, never through NAT.
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args['region']}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[table.id for table in private_route_tables],
            tags={"Name": f"{name}-s3"},
            opts=child,
        )
        if args["interface_endpoints"]:
            self._interface_endpoints(name, args, vpc, private_subnets, child)
        self._flow_logs(name, args, vpc, child)

        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        self.private_subnet_ids = pulumi.Output.all(*[subnet.id for subnet in private_subnets])
        self.public_subnet_ids = pulumi.Output.all(*[subnet.id for subnet in public_subnets])
        self.load_balancer_subnet_ids = pulumi.Output.all(*[subnet.id for subnet in load_balancer_subnets])
        self.availability_zones = zone_names
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
                "load_balancer_subnet_ids": self.load_balancer_subnet_ids,
                "availability_zones": self.availability_zones,
            }
        )

    def _interface_endpoints(self, name, args: NetworkArgs, vpc, private_subnets, child) -> None:
        """Private DNS endpoints so image pulls, STS and logs stay inside the VPC."""
        endpoint_group = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=vpc.id,
            description="HTTPS from inside the VPC to interface endpoints",
            ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": [args["cidr"]], "description": "VPC"}],
            egress=[],
            tags={"Name": f"{name}-endpoints"},
            opts=child,
        )
        for service in args["interface_endpoints"]:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args['region']}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[subnet.id for subnet in private_subnets],
                security_group_ids=[endpoint_group.id],
                tags={"Name": f"{name}-{service}"},
                opts=child,
            )

    def _flow_logs(self, name, args: NetworkArgs, vpc, child) -> None:
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/vpc/{args['cluster_name']}/flow-logs",
            retention_in_days=args["flow_log_retention_days"],
            opts=child,
        )
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=pulumi.Output.all(partition, account_id).apply(
                lambda values: json.dumps(flow_log_trust_policy(values[0], args["region"], values[1]))
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-write",
            role=role.id,
            policy=log_group.arn.apply(lambda arn: json.dumps(flow_log_write_policy(arn))),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            opts=child,
        )


def _first_zones(names: list[str], count: int, region: str) -> list[str]:
    if len(names) < count:
        raise ValueError(f"network.availabilityZones: got {count}, expected at most {len(names)} (zones available in {region})")
    return sorted(names)[:count]
