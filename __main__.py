"""vllm-eks: load and validate the stack config once, compose the components, export a few outputs."""

import pulumi

from components.network import Network
from components.sizing import SizingError, plan_models
from stack_config import SECTIONS, StackConfigError, load_stack_config

project_config = pulumi.Config()
region = pulumi.Config("aws").require("region")
try:
    config = load_stack_config({section: project_config.get_object(section) for section in SECTIONS})
    # Resolves `instanceType: auto` and rejects models that cannot fit, before any resource exists.
    capacity_plans = plan_models(config.models)
except (StackConfigError, SizingError) as error:
    raise pulumi.RunError(str(error)) from None

stack = pulumi.get_stack()
cluster_name = f"vllm-eks-{stack}"

network = Network(
    "network",
    {
        "cidr": config.network.cidr,
        "availability_zone_count": config.network.availability_zones,
        "nat_gateways": config.network.nat_gateways,
        "interface_endpoints": list(config.network.interface_endpoints),
        "flow_log_retention_days": config.network.flow_log_retention_days,
        "cluster_name": cluster_name,
        "region": region,
    },
)

STACK_OUTPUTS = {
    "vpcId": network.vpc_id,
    "privateSubnetIds": network.private_subnet_ids,
    "availabilityZones": network.availability_zones,
}
for output_name, value in STACK_OUTPUTS.items():
    pulumi.export(output_name, value)
