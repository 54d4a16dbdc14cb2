"""Security pillar: private nodes, private API endpoint, IRSA-only least-privilege model reads, locked-down bucket,
encrypted secrets, hardened containers, API key from a secret, pinned images."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Mapping

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from _resources import (
    BUCKET_TYPES, MODEL_BUCKET_CONFIG, UNKNOWN, WORKLOAD_TYPES, StackView, as_bool, as_list, bucket_of_arn,
    container_label, containers, contains_unknown, describe, get, grants, is_s3_resource, is_unknown,
    model_buckets, namespace_of, parse_image, parse_json_document, pod_spec, run_resource_check, run_stack_check,
    schema, statement_actions, statement_resources, statements, tags_of, command_tokens, action_matches,
)

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

SUBNET = "aws:ec2/subnet:Subnet"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
EKS_MANAGED_NODE_GROUP = "eks:index:ManagedNodeGroup"
EKS_SELF_MANAGED = ("eks:index:NodeGroup", "eks:index:NodeGroupV2")
EC2_NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"

NODE_SUBNET_CONFIG = {
    "nodeSubnetTagKeys": {
        "type": "array", "items": {"type": "string"},
        "default": ["kubernetes.io/role/internal-elb", "karpenter.sh/discovery"],
        "description": "Subnet tag keys that mark subnets where nodes run (must be private).",
    },
    "publicSubnetTagKeys": {
        "type": "array", "items": {"type": "string"}, "default": ["kubernetes.io/role/elb"],
        "description": "Subnet tag keys that mark public (internet-facing load balancer) subnets.",
    },
}


def is_public_subnet(props: Mapping, config: Mapping) -> Any:
    """True if the subnet maps public IPs or is tagged for internet-facing load balancers."""
    mapping = as_bool(props.get("mapPublicIpOnLaunch"))
    if mapping is True:
        return True
    tags = tags_of(props)
    if any(key in tags for key in config["publicSubnetTagKeys"]):
        return True
    if is_unknown(mapping):
        return UNKNOWN
    return False


# ---------------------------------------------------------------------------------------------------------------
# no-public-node-ips
# ---------------------------------------------------------------------------------------------------------------

def _check_no_public_node_ips(resource_type, props, config, findings, args):
    if resource_type == SUBNET:
        tags = tags_of(props)
        node_keys = [k for k in config["nodeSubnetTagKeys"] if k in tags]
        if not node_keys:
            return
        mapping = as_bool(props.get("mapPublicIpOnLaunch"))
        if is_unknown(mapping):
            findings.cannot_judge("mapPublicIpOnLaunch")
        elif mapping is True:
            findings.fail(f"Subnet tagged {', '.join(node_keys)} (a node subnet) has mapPublicIpOnLaunch: true; "
                          "set it to false so nodes never get public IPs.")
        public_keys = [k for k in config["publicSubnetTagKeys"] if k in tags]
        if public_keys:
            findings.fail(f"Subnet is tagged both as a node subnet ({', '.join(node_keys)}) and as a public "
                          f"load-balancer subnet ({', '.join(public_keys)}); nodes must run in private subnets only.")
    elif resource_type == LAUNCH_TEMPLATE:
        for index, nic in enumerate(as_list(props.get("networkInterfaces"))):
            value = as_bool(get(nic, "associatePublicIpAddress"))
            if is_unknown(value):
                findings.cannot_judge(f"networkInterfaces[{index}].associatePublicIpAddress")
            elif value is True:
                findings.fail(f"networkInterfaces[{index}].associatePublicIpAddress is true; node launch "
                              "templates must not associate public IP addresses.")
    elif resource_type == LAUNCH_CONFIGURATION:  # what a real preview shows for pulumi-eks' default node group
        value = as_bool(props.get("associatePublicIpAddress"))
        if is_unknown(value):
            findings.cannot_judge("associatePublicIpAddress")
        elif value is True:
            findings.fail("associatePublicIpAddress is true; node launch configurations must not assign public IPs.")
    elif resource_type == EKS_COMPONENT or resource_type in EKS_SELF_MANAGED:
        if resource_type == EKS_COMPONENT:
            skip = as_bool(props.get("skipDefaultNodeGroup"))
            if skip is True:
                return
            if is_unknown(skip):
                findings.cannot_judge("skipDefaultNodeGroup")
                return
        value = props.get("nodeAssociatePublicIpAddress")
        flag = as_bool(value)
        if is_unknown(flag):
            findings.cannot_judge("nodeAssociatePublicIpAddress")
        elif flag is not False:
            # pulumi-eks nodes/nodegroup.ts: `args.nodeAssociatePublicIpAddress ?? true`
            shown = "unset (pulumi-eks defaults to true)" if value is None else "true"
            findings.fail(f"nodeAssociatePublicIpAddress is {shown}; set it to false (or skipDefaultNodeGroup: true) "
                          "so worker nodes get no public IPs.")
    elif resource_type == EC2_NODE_CLASS:
        value = as_bool(get(props, "spec", "associatePublicIPAddress"))
        if is_unknown(value):
            findings.cannot_judge("spec.associatePublicIPAddress")
        elif value is True:
            findings.fail("EC2NodeClass spec.associatePublicIPAddress is true; Karpenter nodes must not get public IPs.")


no_public_node_ips = ResourceValidationPolicy(
    name="no-public-node-ips",
    description="Nodes never get public IPs: node subnets, launch templates, node groups and Karpenter node classes "
                "must not assign them.",
    enforcement_level=MANDATORY,
    config_schema=schema(**NODE_SUBNET_CONFIG),
    validate=run_resource_check(_check_no_public_node_ips, schema(**NODE_SUBNET_CONFIG)),
)


# ---------------------------------------------------------------------------------------------------------------
# nodes-in-private-subnets
# ---------------------------------------------------------------------------------------------------------------

def _node_subnet_refs(view: StackView, resource) -> list[str]:
    """The input properties holding the subnets a node-producing resource puts nodes into."""
    props = view.p(resource)
    if resource.resource_type in (EKS_NODE_GROUP, EKS_MANAGED_NODE_GROUP):
        return ["subnetIds"]
    if resource.resource_type in EKS_SELF_MANAGED:
        return ["nodeSubnetIds"]
    if resource.resource_type == EKS_COMPONENT:
        if as_bool(props.get("skipDefaultNodeGroup")) is True:
            return []
        if props.get("nodeSubnetIds"):
            return ["nodeSubnetIds"]
        if props.get("privateSubnetIds"):
            return ["privateSubnetIds"]
        if props.get("publicSubnetIds"):
            return ["publicSubnetIds"]
        return ["subnetIds"]
    return []


def _check_nodes_in_private_subnets(view: StackView, config, findings, args):
    subnets = view.of_type(SUBNET)
    node_producers = view.of_type(EKS_NODE_GROUP, EKS_MANAGED_NODE_GROUP, EKS_COMPONENT, *EKS_SELF_MANAGED)
    for producer in node_producers:
        props = view.p(producer)
        for prop in _node_subnet_refs(view, producer):
            if producer.resource_type == EKS_COMPONENT and prop == "publicSubnetIds":
                findings.fail(f"{describe(producer)} puts its default node group in publicSubnetIds (no "
                              "privateSubnetIds given); give privateSubnetIds or skip the default node group.",
                              producer.urn)
                continue
            value = props.get(prop)
            if contains_unknown(value) and not getattr(producer, "property_dependencies", None):
                findings.cannot_judge(f"{producer.name}.{prop}")
            for subnet in view.related(producer, prop, subnets) if value is not None else []:
                if is_public_subnet(view.p(subnet), config) is True:
                    findings.fail(f"{describe(producer)} places nodes in public subnet '{subnet.name}' via {prop}; "
                                  "nodes must run in private subnets.", producer.urn)
    for node_class in view.of_type(EC2_NODE_CLASS):
        terms = get(view.p(node_class), "spec", "subnetSelectorTerms")
        if is_unknown(terms):
            findings.cannot_judge(f"{node_class.name}.spec.subnetSelectorTerms")
            continue
        for index, term in enumerate(as_list(terms)):
            tags = get(term, "tags", default={}) or {}
            if is_unknown(tags) or not isinstance(tags, Mapping):
                findings.cannot_judge(f"{node_class.name}.spec.subnetSelectorTerms[{index}].tags")
                continue
            public_keys = [k for k in tags if k in config["publicSubnetTagKeys"]]
            if public_keys:
                findings.fail(f"EC2NodeClass '{node_class.name}' subnetSelectorTerms[{index}] selects subnets by "
                              f"{', '.join(public_keys)} (public load-balancer subnets); select private subnets, "
                              "e.g. by karpenter.sh/discovery.", node_class.urn)
                continue
            subnet_id = get(term, "id")
            if not tags and not subnet_id:
                findings.fail(f"EC2NodeClass '{node_class.name}' subnetSelectorTerms[{index}] selects no private "
                              "subnet tag or id.", node_class.urn)
                continue
            if tags and not any(k in config["nodeSubnetTagKeys"] for k in tags):
                findings.fail(f"EC2NodeClass '{node_class.name}' subnetSelectorTerms[{index}] selects by "
                              f"{sorted(tags)}; select private subnets by one of {config['nodeSubnetTagKeys']}.",
                              node_class.urn)
                continue
            # Every subnet in the stack this term selects must be private.
            for subnet in subnets:
                subnet_props = view.p(subnet)
                subnet_tags = tags_of(subnet_props)
                selected = tags and all(
                    key in subnet_tags and (value in ("*", None) or subnet_tags[key] == value or is_unknown(value)
                                            or is_unknown(subnet_tags[key]))
                    for key, value in tags.items())
                if subnet_id and not is_unknown(subnet_id):
                    selected = selected or subnet_id in view.identity_strings(subnet)
                if selected and is_public_subnet(subnet_props, config) is True:
                    findings.fail(f"EC2NodeClass '{node_class.name}' subnetSelectorTerms[{index}] selects public "
                                  f"subnet '{subnet.name}'; Karpenter nodes must land in private subnets.",
                                  node_class.urn)


nodes_in_private_subnets = StackValidationPolicy(
    name="nodes-in-private-subnets",
    description="Node groups and Karpenter EC2NodeClass subnet selectors select private subnets only.",
    enforcement_level=MANDATORY,
    config_schema=schema(**NODE_SUBNET_CONFIG),
    validate=run_stack_check(_check_nodes_in_private_subnets, schema(**NODE_SUBNET_CONFIG)),
)


# ---------------------------------------------------------------------------------------------------------------
# eks-endpoint-private
# ---------------------------------------------------------------------------------------------------------------

ENDPOINT_CONFIG = {
    "forbiddenPublicCidrs": {"type": "array", "items": {"type": "string"}, "default": ["0.0.0.0/0", "::/0"],
                             "description": "CIDRs that may never reach a public EKS API endpoint."},
    "minPublicCidrPrefixLength": {"type": "integer", "minimum": 0, "maximum": 128, "default": 16,
                                  "description": "Shortest prefix allowed in publicAccessCidrs (IPv4)."},
}


def _endpoint_violation(public, cidrs, config, prefix: str) -> Any:
    if is_unknown(public):
        return UNKNOWN
    if public is False:
        return None
    if is_unknown(cidrs) or contains_unknown(cidrs):
        return UNKNOWN
    if cidrs is None or len(cidrs) == 0:
        return (f"{prefix}endpointPublicAccess is on and publicAccessCidrs is unset (AWS defaults to 0.0.0.0/0); "
                "turn the public endpoint off or restrict publicAccessCidrs.")
    bad = []
    for cidr in cidrs:
        if cidr in config["forbiddenPublicCidrs"]:
            bad.append(cidr)
            continue
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            bad.append(cidr)
            continue
        if network.version == 4 and network.prefixlen < int(config["minPublicCidrPrefixLength"]):
            bad.append(cidr)
    if bad:
        return (f"{prefix}endpointPublicAccess is on with publicAccessCidrs {bad}; turn the public endpoint off "
                f"or allow only specific networks (prefix /{config['minPublicCidrPrefixLength']} or longer).")
    return None


def _check_endpoint_private(resource_type, props, config, findings, args):
    if resource_type == EKS_COMPONENT:
        public = as_bool(props.get("endpointPublicAccess", True))
        result = _endpoint_violation(public, props.get("publicAccessCidrs"), config, "")
    elif resource_type == EKS_CLUSTER:
        vpc = props.get("vpcConfig") or {}
        if is_unknown(vpc):
            findings.cannot_judge("vpcConfig")
            return
        public = as_bool(vpc.get("endpointPublicAccess", True))
        result = _endpoint_violation(public, vpc.get("publicAccessCidrs"), config, "vpcConfig.")
    else:
        return
    if result is UNKNOWN:
        findings.cannot_judge("endpointPublicAccess/publicAccessCidrs")
    elif result:
        findings.fail(result)


eks_endpoint_private = ResourceValidationPolicy(
    name="eks-endpoint-private",
    description="The EKS API endpoint is private, or public only to restricted CIDRs (never 0.0.0.0/0).",
    enforcement_level=MANDATORY,
    config_schema=schema(**ENDPOINT_CONFIG),
    validate=run_resource_check(_check_endpoint_private, schema(**ENDPOINT_CONFIG)),
)


# ---------------------------------------------------------------------------------------------------------------
# IAM helpers shared by irsa-only-model-access and no-wildcard-model-actions
# ---------------------------------------------------------------------------------------------------------------

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"


def documents_of(resource_type: str, props: Mapping) -> list[tuple[str, Any]]:
    """(where, parsed document) for every permission document a resource carries."""
    docs = []
    if resource_type in (ROLE_POLICY, IAM_POLICY, BUCKET_POLICY, USER_POLICY):
        docs.append(("policy", parse_json_document(props.get("policy"))))
    if resource_type == ROLE:
        for index, inline in enumerate(as_list(props.get("inlinePolicies"))):
            if isinstance(inline, Mapping):
                docs.append((f"inlinePolicies[{index}].policy", parse_json_document(inline.get("policy"))))
    return docs


def role_documents(view: StackView, role) -> list[tuple[Any, str, Any]]:
    """(resource, where, document) for all permission documents attached to a role."""
    roles = view.of_type(ROLE)
    result = [(role, where, doc) for where, doc in documents_of(ROLE, view.p(role))]
    for role_policy in view.of_type(ROLE_POLICY):
        if role in view.related(role_policy, "role", roles):
            result.extend((role_policy, where, doc) for where, doc in documents_of(ROLE_POLICY, view.p(role_policy)))
    policies = view.of_type(IAM_POLICY)
    for attachment in view.of_type(ROLE_POLICY_ATTACHMENT):
        if role not in view.related(attachment, "role", roles):
            continue
        for policy in view.related(attachment, "policyArn", policies):
            result.extend((policy, where, doc) for where, doc in documents_of(IAM_POLICY, view.p(policy)))
    return result


def _model_bucket_names(view: StackView, config) -> tuple[set[str], bool]:
    """Explicit physical names/prefixes of model buckets, and whether some model bucket is auto-named."""
    names, auto_named = set(), False
    for bucket in model_buckets(view, config):
        props = view.p(bucket)
        name = props.get("bucket") or props.get("bucketPrefix")
        if isinstance(name, str) and not is_unknown(name):
            names.add(name)
        else:
            auto_named = True
    return names, auto_named


def _touches_model_bucket(resources: list[str], names: set[str], any_s3: bool) -> bool:
    for resource in resources:
        if not is_s3_resource(resource):
            continue
        if resource == "*" or any_s3:
            return True
        bucket = bucket_of_arn(resource) or ""
        if any(bucket == n or bucket.startswith(n) or "*" in bucket for n in names):
            return True
    return False


# ---------------------------------------------------------------------------------------------------------------
# irsa-only-model-access
# ---------------------------------------------------------------------------------------------------------------

IRSA_CONFIG = {
    **MODEL_BUCKET_CONFIG,
    "allowedActions": {"type": "array", "items": {"type": "string"}, "default": ["s3:GetObject", "s3:ListBucket"],
                       "description": "Actions a model-reading role may hold (kms:Decrypt is allowed only with "
                                      "a kms:ViaService s3 condition)."},
    "requireListBucketPrefixCondition": {"type": "boolean", "default": True,
                                         "description": "s3:ListBucket must carry an s3:prefix condition inside "
                                                        "the role's one prefix."},
}


def _trust_problems(document: Any) -> list[str]:
    problems = []
    allow = [s for s in statements(document) if s.get("Effect") == "Allow"]
    if not allow:
        return ["the trust policy allows nobody"]
    for index, statement in enumerate(allow):
        actions = statement_actions(statement)
        principal = statement.get("Principal") or {}
        federated = as_list(principal.get("Federated")) if isinstance(principal, Mapping) else []
        if actions != ["sts:AssumeRoleWithWebIdentity"]:
            problems.append(f"trust statement {index} allows {actions or statement.get('NotAction')}, "
                            "only sts:AssumeRoleWithWebIdentity is allowed")
        if not federated or not all(isinstance(f, str) and (":oidc-provider/" in f or is_unknown(f))
                                    for f in federated) or (isinstance(principal, Mapping) and set(principal) - {"Federated"}):
            problems.append(f"trust statement {index} principal {principal} is not an EKS OIDC provider")
        condition = statement.get("Condition") or {}
        string_equals = condition.get("StringEquals") or {}
        subs = {k: v for k, v in string_equals.items() if k.endswith(":sub")}
        auds = {k: v for k, v in string_equals.items() if k.endswith(":aud")}
        for operator, clauses in condition.items():
            if operator != "StringEquals" and isinstance(clauses, Mapping) and \
                    any(k.endswith(":sub") or k.endswith(":aud") for k in clauses):
                problems.append(f"trust statement {index} uses {operator} on sub/aud; use StringEquals")
        sub_values = [v for value in subs.values() for v in as_list(value)]
        if len(sub_values) != 1:
            problems.append(f"trust statement {index} must bind exactly one service account with "
                            f"StringEquals <issuer>:sub (found {sub_values or 'none'})")
        else:
            sub = sub_values[0]
            if not isinstance(sub, str) or not re.fullmatch(r"system:serviceaccount:[a-z0-9.-]+:[a-z0-9.-]+", sub):
                problems.append(f"trust statement {index} sub {sub!r} is not one exact "
                                "system:serviceaccount:<namespace>:<name>")
        aud_values = [v for value in auds.values() for v in as_list(value)]
        if aud_values != ["sts.amazonaws.com"]:
            problems.append(f"trust statement {index} must require StringEquals <issuer>:aud = sts.amazonaws.com "
                            f"(found {aud_values or 'none'})")
    return problems


def _object_prefix(resource: str) -> Any:
    match = re.match(r"^arn:aws[\w-]*:s3:::([^/]+)/(.*)$", resource)
    if not match:
        return None
    key = match.group(2)
    return (match.group(1), key[:-1] if key.endswith("*") else key)


def _permission_problems(docs: list[tuple[Any, str, Any]], config) -> list[str]:
    problems, prefixes = [], set()
    allowed = [a.lower() for a in config["allowedActions"]]
    list_statements = []
    for resource, where, document in docs:
        for statement in statements(document):
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement:
                problems.append(f"{resource.name}.{where} uses NotAction in an Allow statement")
                continue
            resources = statement_resources(statement)
            for action in statement_actions(statement):
                lowered = action.lower()
                if lowered == "kms:decrypt":
                    via = [v for clauses in (statement.get("Condition") or {}).values() if isinstance(clauses, Mapping)
                           for k, value in clauses.items() if k.lower() == "kms:viaservice" for v in as_list(value)]
                    if not via or not all(isinstance(v, str) and v.startswith("s3.") for v in via):
                        problems.append(f"{resource.name}.{where} allows kms:Decrypt without a kms:ViaService "
                                        "s3.<region>.amazonaws.com condition")
                    continue
                if "*" in action or "?" in action or lowered not in allowed:
                    problems.append(f"{resource.name}.{where} allows {action}; a model-reading role may only hold "
                                    f"{config['allowedActions']} (+ kms:Decrypt via S3)")
                    continue
                if lowered == "s3:getobject":
                    for r in resources:
                        prefix = _object_prefix(r)
                        if prefix is None:
                            problems.append(f"{resource.name}.{where} allows s3:GetObject on {r!r}, not on one "
                                            "object prefix")
                        else:
                            prefixes.add(prefix)
                if lowered == "s3:listbucket":
                    list_statements.append((resource, where, statement))
    if len(prefixes) > 1:
        problems.append(f"the role reads several prefixes {sorted('/'.join(p) for p in prefixes)}; one role per "
                        "model prefix")
    for bucket, prefix in prefixes:
        if prefix.strip("/") == "" or "*" in prefix:
            problems.append(f"s3:GetObject covers the whole bucket {bucket!r}; restrict it to the model's prefix")
    if config["requireListBucketPrefixCondition"]:
        for resource, where, statement in list_statements:
            values = [v for clauses in (statement.get("Condition") or {}).values() if isinstance(clauses, Mapping)
                      for k, value in clauses.items() if k.lower() == "s3:prefix" for v in as_list(value)]
            if not values:
                problems.append(f"{resource.name}.{where} allows s3:ListBucket without an s3:prefix condition")
            elif prefixes and not all(isinstance(v, str) and any(v.startswith(p.rstrip('*')) or p.startswith(v.rstrip('*'))
                                                                 for _, p in prefixes) for v in values):
                problems.append(f"{resource.name}.{where} lists prefixes {values} outside the role's object prefix")
    return problems


def _check_irsa_only(view: StackView, config, findings, args):
    names, auto_named = _model_bucket_names(view, config)
    buckets_present = bool(model_buckets(view, config))
    any_s3 = auto_named or not buckets_present
    for role in view.of_type(ROLE):
        docs = role_documents(view, role)
        reads_model = False
        for _, where, document in docs:
            if contains_unknown(document):
                findings.cannot_judge(f"{role.name}.{where}")
                continue
            for statement in statements(document):
                if grants(statement, "s3:GetObject") and _touches_model_bucket(statement_resources(statement),
                                                                              names, any_s3):
                    reads_model = True
        if not reads_model:
            continue
        trust = parse_json_document(view.p(role).get("assumeRolePolicy"))
        if trust is UNKNOWN:
            findings.cannot_judge(f"{role.name}.assumeRolePolicy")
        else:
            for problem in _trust_problems(trust):
                findings.fail(f"Role '{role.name}' reads model weights but its trust policy is not IRSA for one "
                              f"service account: {problem}.", role.urn)
        known_docs = [(r, w, d) for r, w, d in docs if d not in (None, UNKNOWN)]
        for problem in _permission_problems(known_docs, config):
            findings.fail(f"Role '{role.name}' reads model weights with more than least privilege: {problem}.",
                          role.urn)


irsa_only_model_access = StackValidationPolicy(
    name="irsa-only-model-access",
    description="Roles that read model weights are IRSA roles for exactly one service account (sub + aud) "
                "holding only s3:GetObject/s3:ListBucket (+ kms:Decrypt via S3) on one prefix.",
    enforcement_level=MANDATORY,
    config_schema=schema(**IRSA_CONFIG),
    validate=run_stack_check(_check_irsa_only, schema(**IRSA_CONFIG)),
)


# ---------------------------------------------------------------------------------------------------------------
# no-pod-identity, no-iam-users
# ---------------------------------------------------------------------------------------------------------------

def _check_no_pod_identity(resource_type, props, config, findings, args):
    if resource_type == "aws:eks/podIdentityAssociation:PodIdentityAssociation":
        findings.fail("EKS Pod Identity associations are not allowed: this stack is IRSA-only (annotate the "
                      "service account with an IRSA role instead).")


no_pod_identity = ResourceValidationPolicy(
    name="no-pod-identity",
    description="Pods get AWS access through IRSA only; EKS Pod Identity associations are rejected.",
    enforcement_level=MANDATORY,
    validate=run_resource_check(_check_no_pod_identity, schema()),
)

IAM_USER_TYPES = ("aws:iam/user:User", "aws:iam/accessKey:AccessKey", "aws:iam/userPolicy:UserPolicy",
                  "aws:iam/userPolicyAttachment:UserPolicyAttachment", "aws:iam/userLoginProfile:UserLoginProfile")


def _check_no_iam_users(resource_type, props, config, findings, args):
    if resource_type in IAM_USER_TYPES:
        findings.fail(f"{resource_type} creates long-lived IAM user credentials; use IAM roles (IRSA for pods).")


no_iam_users = ResourceValidationPolicy(
    name="no-iam-users",
    description="No IAM users or access keys: every identity is a role with temporary credentials.",
    enforcement_level=MANDATORY,
    validate=run_resource_check(_check_no_iam_users, schema()),
)


# ---------------------------------------------------------------------------------------------------------------
# no-wildcard-model-actions
# ---------------------------------------------------------------------------------------------------------------

def _check_no_wildcards(resource_type, props, config, findings, args):
    for where, document in documents_of(resource_type, props):
        if document is UNKNOWN:
            findings.cannot_judge(where)
            continue
        for index, statement in enumerate(statements(document)):
            if statement.get("Effect") != "Allow":
                continue  # Deny s3:* (e.g. the TLS-only rule) is fine
            resources = statement_resources(statement)
            if not any(is_s3_resource(r) for r in resources) and not ("NotResource" in statement):
                continue
            if "NotAction" in statement:
                findings.fail(f"{where} statement {index} allows NotAction on S3 resources; list actions explicitly.")
                continue
            wild = [a for a in statement_actions(statement)
                    if a == "*" or (a.lower().startswith("s3:") and ("*" in a or "?" in a))]
            if wild:
                findings.fail(f"{where} statement {index} allows wildcard actions {wild} on {resources}; grant "
                              "explicit actions (s3:GetObject, s3:ListBucket).")


no_wildcard_model_actions = ResourceValidationPolicy(
    name="no-wildcard-model-actions",
    description="IAM and bucket policies never allow wildcard actions (*, s3:*, s3:Get*) on S3 resources.",
    enforcement_level=MANDATORY,
    validate=run_resource_check(_check_no_wildcards, schema()),
)


# ---------------------------------------------------------------------------------------------------------------
# Model bucket: encrypted, versioned, public access blocked, TLS only
# ---------------------------------------------------------------------------------------------------------------

SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
SSE_V2 = "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
VERSIONING_V2 = "aws:s3/bucketVersioningV2:BucketVersioningV2"
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"


def _bucket_companions(view: StackView, bucket, types: tuple[str, ...]) -> list:
    buckets = view.of_type(*BUCKET_TYPES)
    return [r for r in view.of_type(*types) if bucket in view.related(r, "bucket", buckets)]


def _bucket_check(judge, what: str):
    def check(view: StackView, config, findings, args):
        for bucket in model_buckets(view, config):
            verdict = judge(view, bucket, config)
            if verdict is UNKNOWN:
                findings.cannot_judge(f"{bucket.name} {what}")
            elif verdict:
                findings.fail(f"Model bucket '{bucket.name}': {verdict}", bucket.urn)
    return check


def _judge_encrypted(view, bucket, config):
    unknown = False
    inline = view.p(bucket).get("serverSideEncryptionConfiguration")
    candidates = [view.p(r) for r in _bucket_companions(view, bucket, (SSE, SSE_V2))]
    if isinstance(inline, Mapping):
        candidates.append({"rules": as_list(get(inline, "rule")) or as_list(get(inline, "rules"))})
    for props in candidates:
        for rule in as_list(props.get("rules")):
            algorithm = get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
            if is_unknown(algorithm):
                unknown = True
            elif algorithm in ("aws:kms", "aws:kms:dsse"):
                if config["requireCustomerManagedKey"]:
                    key = get(rule, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")
                    if not key and not is_unknown(key):
                        continue
                return None
    if unknown:
        return UNKNOWN
    return ("no server-side encryption with SSE-KMS (a BucketServerSideEncryptionConfiguration with sseAlgorithm "
            "aws:kms" + (" and a kmsMasterKeyId" if config["requireCustomerManagedKey"] else "") + ").")


ENCRYPTION_CONFIG = {**MODEL_BUCKET_CONFIG,
                     "requireCustomerManagedKey": {"type": "boolean", "default": True,
                                                   "description": "The rule must name a KMS key (kmsMasterKeyId)."}}

model_bucket_encrypted = StackValidationPolicy(
    name="model-bucket-encrypted",
    description="The model-weights bucket is encrypted with SSE-KMS.",
    enforcement_level=MANDATORY,
    config_schema=schema(**ENCRYPTION_CONFIG),
    validate=run_stack_check(_bucket_check(_judge_encrypted, "encryption"), schema(**ENCRYPTION_CONFIG)),
)


def _judge_versioned(view, bucket, config):
    unknown = False
    for companion in _bucket_companions(view, bucket, (VERSIONING, VERSIONING_V2)):
        status = get(view.p(companion), "versioningConfiguration", "status")
        if is_unknown(status):
            unknown = True
        elif status == "Enabled":
            return None
    inline = as_bool(get(view.p(bucket), "versioning", "enabled"))
    if inline is True:
        return None
    if unknown:
        return UNKNOWN
    return "versioning is not enabled (add a BucketVersioning with versioningConfiguration.status: Enabled)."


model_bucket_versioned = StackValidationPolicy(
    name="model-bucket-versioned",
    description="The model-weights bucket has versioning enabled, so overwritten weights can be restored.",
    enforcement_level=MANDATORY,
    config_schema=schema(**MODEL_BUCKET_CONFIG),
    validate=run_stack_check(_bucket_check(_judge_versioned, "versioning"), schema(**MODEL_BUCKET_CONFIG)),
)

PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _judge_public_access(view, bucket, config):
    blocks = _bucket_companions(view, bucket, (PUBLIC_ACCESS_BLOCK,))
    if not blocks:
        return "no BucketPublicAccessBlock (all four flags must be true)."
    unknown = False
    for block in blocks:
        flags = {f: as_bool(view.p(block).get(f)) for f in PUBLIC_ACCESS_FLAGS}
        if all(v is True for v in flags.values()):
            return None
        if any(is_unknown(v) for v in flags.values()):
            unknown = True
    if unknown:
        return UNKNOWN
    missing = [f for f in PUBLIC_ACCESS_FLAGS if as_bool(view.p(blocks[0]).get(f)) is not True]
    return f"public access is not fully blocked: {missing} must be true."


model_bucket_public_access_blocked = StackValidationPolicy(
    name="model-bucket-public-access-blocked",
    description="The model-weights bucket blocks all public access (all four BucketPublicAccessBlock flags).",
    enforcement_level=MANDATORY,
    config_schema=schema(**MODEL_BUCKET_CONFIG),
    validate=run_stack_check(_bucket_check(_judge_public_access, "public access block"), schema(**MODEL_BUCKET_CONFIG)),
)


def _denies_insecure_transport(document) -> bool:
    for statement in statements(document):
        if statement.get("Effect") != "Deny":
            continue
        principal = statement.get("Principal")
        if principal not in ("*", {"AWS": "*"}, {"AWS": ["*"]}):
            continue
        if not any(action_matches(a, "s3:GetObject") for a in statement_actions(statement)):
            continue
        for operator, clauses in (statement.get("Condition") or {}).items():
            if operator != "Bool" or not isinstance(clauses, Mapping):
                continue
            for key, value in clauses.items():
                if key.lower() == "aws:securetransport" and \
                        any(str(v).lower() == "false" for v in as_list(value)):
                    return True
    return False


def _judge_tls_only(view, bucket, config):
    unknown = False
    for policy in _bucket_companions(view, bucket, (BUCKET_POLICY,)):
        document = parse_json_document(view.p(policy).get("policy"))
        if document is UNKNOWN:
            unknown = True
        elif _denies_insecure_transport(document):
            return None
    if unknown:
        return UNKNOWN
    return ("no bucket policy denies requests with aws:SecureTransport = false (Deny s3:* to Principal * with "
            "Condition Bool aws:SecureTransport false).")


model_bucket_tls_only = StackValidationPolicy(
    name="model-bucket-tls-only",
    description="The model-weights bucket policy denies every request that is not over TLS.",
    enforcement_level=MANDATORY,
    config_schema=schema(**MODEL_BUCKET_CONFIG),
    validate=run_stack_check(_bucket_check(_judge_tls_only, "bucket policy"), schema(**MODEL_BUCKET_CONFIG)),
)


# ---------------------------------------------------------------------------------------------------------------
# eks-secrets-encrypted
# ---------------------------------------------------------------------------------------------------------------

def _check_secrets_encrypted(resource_type, props, config, findings, args):
    if resource_type == EKS_COMPONENT:
        key = props.get("encryptionConfigKeyArn")
        if not key:
            findings.fail("encryptionConfigKeyArn is not set; Kubernetes secrets must be envelope-encrypted "
                          "with a KMS key.")
    elif resource_type == EKS_CLUSTER:
        encryption = props.get("encryptionConfig")
        if is_unknown(encryption):
            findings.cannot_judge("encryptionConfig")
            return
        configs = as_list(encryption)
        for item in configs:
            resources = get(item, "resources")
            key = get(item, "provider", "keyArn")
            if is_unknown(resources):
                findings.cannot_judge("encryptionConfig.resources")
                return
            if "secrets" in as_list(resources) and key:
                return
        findings.fail("encryptionConfig does not encrypt resources [\"secrets\"] with a KMS key (provider.keyArn).")


eks_secrets_encrypted = ResourceValidationPolicy(
    name="eks-secrets-encrypted",
    description="EKS envelope-encrypts Kubernetes secrets with a KMS key.",
    enforcement_level=MANDATORY,
    validate=run_resource_check(_check_secrets_encrypted, schema()),
)


# ---------------------------------------------------------------------------------------------------------------
# Container hardening
# ---------------------------------------------------------------------------------------------------------------

CONTAINER_CONFIG = {
    "exemptNamespaces": {"type": "array", "items": {"type": "string"}, "default": ["kube-system"],
                         "description": "Namespaces whose workloads are not judged (system add-ons)."},
}


def _workload_containers(resource_type, props, config, findings):
    """(pod spec, containers) of a workload outside the exempt namespaces; None when not applicable."""
    if resource_type not in WORKLOAD_TYPES:
        return None
    namespace = namespace_of(props)
    if isinstance(namespace, str) and namespace in config["exemptNamespaces"]:
        return None
    spec = pod_spec(resource_type, props)
    if is_unknown(spec):
        findings.cannot_judge("pod template")
        return None
    if not isinstance(spec, Mapping):
        return None
    return spec, containers(spec)


def _check_non_root(resource_type, props, config, findings, args):
    found = _workload_containers(resource_type, props, config, findings)
    if not found:
        return
    spec, items = found
    pod_context = spec.get("securityContext") or {}
    for container in items:
        context = container.get("securityContext") or {}
        non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
        user = context.get("runAsUser", pod_context.get("runAsUser"))
        if is_unknown(non_root) or is_unknown(user):
            findings.cannot_judge(container_label(container))
            continue
        if user is not None and float(user) == 0:
            findings.fail(f"{container_label(container)} runs as root (runAsUser: 0).")
        elif as_bool(non_root) is not True and user is None:
            findings.fail(f"{container_label(container)} may run as root: set securityContext.runAsNonRoot: true "
                          "or a non-zero runAsUser.")


containers_run_as_non_root = ResourceValidationPolicy(
    name="containers-run-as-non-root",
    description="Every container (including init containers) runs as a non-root user.",
    enforcement_level=MANDATORY,
    config_schema=schema(**CONTAINER_CONFIG),
    validate=run_resource_check(_check_non_root, schema(**CONTAINER_CONFIG)),
)


def _check_read_only_root(resource_type, props, config, findings, args):
    found = _workload_containers(resource_type, props, config, findings)
    if not found:
        return
    for container in found[1]:
        value = as_bool(get(container, "securityContext", "readOnlyRootFilesystem"))
        if is_unknown(value):
            findings.cannot_judge(container_label(container))
        elif value is not True:
            findings.fail(f"{container_label(container)} has a writable root filesystem: set "
                          "securityContext.readOnlyRootFilesystem: true (mount emptyDir for scratch space).")


containers_read_only_root_filesystem = ResourceValidationPolicy(
    name="containers-read-only-root-filesystem",
    description="Every container (including init containers) has a read-only root filesystem.",
    enforcement_level=MANDATORY,
    config_schema=schema(**CONTAINER_CONFIG),
    validate=run_resource_check(_check_read_only_root, schema(**CONTAINER_CONFIG)),
)


def _check_no_privilege_escalation(resource_type, props, config, findings, args):
    found = _workload_containers(resource_type, props, config, findings)
    if not found:
        return
    for container in found[1]:
        escalation = as_bool(get(container, "securityContext", "allowPrivilegeEscalation"))
        privileged = as_bool(get(container, "securityContext", "privileged"))
        if is_unknown(escalation) or is_unknown(privileged):
            findings.cannot_judge(container_label(container))
        elif privileged is True:
            findings.fail(f"{container_label(container)} is privileged.")
        elif escalation is not False:
            findings.fail(f"{container_label(container)} allows privilege escalation: set "
                          "securityContext.allowPrivilegeEscalation: false.")


containers_no_privilege_escalation = ResourceValidationPolicy(
    name="containers-no-privilege-escalation",
    description="No container (including init containers) is privileged or allows privilege escalation.",
    enforcement_level=MANDATORY,
    config_schema=schema(**CONTAINER_CONFIG),
    validate=run_resource_check(_check_no_privilege_escalation, schema(**CONTAINER_CONFIG)),
)


# ---------------------------------------------------------------------------------------------------------------
# vllm-api-key-from-secret
# ---------------------------------------------------------------------------------------------------------------

API_KEY_CONFIG = {
    "apiKeyEnvNames": {"type": "array", "items": {"type": "string"}, "default": ["VLLM_API_KEY"],
                       "description": "Environment variables that carry the vLLM API key."},
}


def _check_api_key(resource_type, props, config, findings, args):
    if resource_type not in WORKLOAD_TYPES:
        return
    spec = pod_spec(resource_type, props)
    if is_unknown(spec):
        findings.cannot_judge("pod template")
        return
    for container in containers(spec):
        for env in as_list(container.get("env")):
            if not isinstance(env, Mapping) or env.get("name") not in config["apiKeyEnvNames"]:
                continue
            if "value" in env:
                findings.fail(f"{container_label(container)} sets {env.get('name')} as a literal env value; take it "
                              "from a Secret (valueFrom.secretKeyRef or a mounted secret file).")
            elif get(env, "valueFrom", "configMapKeyRef") is not None:
                findings.fail(f"{container_label(container)} reads {env.get('name')} from a ConfigMap; use a Secret.")
        tokens = command_tokens(container)
        if any(t == "--api-key" or t.startswith("--api-key=") for t in tokens):
            findings.fail(f"{container_label(container)} passes --api-key on the command line (visible in the pod "
                          "spec and process list); read VLLM_API_KEY from a Secret instead.")


vllm_api_key_from_secret = ResourceValidationPolicy(
    name="vllm-api-key-from-secret",
    description="The vLLM API key comes only from a Secret: no literal VLLM_API_KEY env value, no --api-key flag.",
    enforcement_level=MANDATORY,
    config_schema=schema(**API_KEY_CONFIG),
    validate=run_resource_check(_check_api_key, schema(**API_KEY_CONFIG)),
)


# ---------------------------------------------------------------------------------------------------------------
# Image pinning
# ---------------------------------------------------------------------------------------------------------------

def _images(resource_type, props, findings):
    if resource_type not in WORKLOAD_TYPES:
        return []
    spec = pod_spec(resource_type, props)
    if is_unknown(spec):
        findings.cannot_judge("pod template")
        return []
    result = []
    for container in containers(spec):
        image = container.get("image")
        if is_unknown(image):
            findings.cannot_judge(f"{container_label(container)}.image")
        elif isinstance(image, str):
            result.append((container, image))
    return result


def _check_images_pinned(resource_type, props, config, findings, args):
    for container, image in _images(resource_type, props, findings):
        _, tag, digest = parse_image(image)
        if digest:
            continue
        if tag is None:
            findings.fail(f"{container_label(container)} image {image!r} has no tag (means :latest); pin a version.")
        elif tag.lower() == "latest":
            findings.fail(f"{container_label(container)} image {image!r} uses :latest; pin a version.")


images_pinned = ResourceValidationPolicy(
    name="images-pinned",
    description="Container images name an explicit version: no :latest and no tag-less images.",
    enforcement_level=MANDATORY,
    validate=run_resource_check(_check_images_pinned, schema()),
)


def _check_images_digest(resource_type, props, config, findings, args):
    for container, image in _images(resource_type, props, findings):
        _, tag, digest = parse_image(image)
        if not digest:
            findings.fail(f"{container_label(container)} image {image!r} is pinned by tag only; add @sha256:<digest> "
                          "so the bytes cannot change under the tag.")


images_pinned_by_digest = ResourceValidationPolicy(
    name="images-pinned-by-digest",
    description="Container images carry an @sha256 digest, not just a tag.",
    enforcement_level=ADVISORY,
    validate=run_resource_check(_check_images_digest, schema()),
)


POLICIES = [
    no_public_node_ips,
    nodes_in_private_subnets,
    eks_endpoint_private,
    irsa_only_model_access,
    no_pod_identity,
    no_iam_users,
    no_wildcard_model_actions,
    model_bucket_encrypted,
    model_bucket_versioned,
    model_bucket_public_access_blocked,
    model_bucket_tls_only,
    eks_secrets_encrypted,
    containers_run_as_non_root,
    containers_read_only_root_filesystem,
    containers_no_privilege_escalation,
    vllm_api_key_from_secret,
    images_pinned,
    images_pinned_by_digest,
]
