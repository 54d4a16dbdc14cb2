"""Every policy fires on a made-to-fail snapshot and stays quiet on compliant ones, through the Analyzer protocol."""

from __future__ import annotations

import json

import pytest

from preflight.engine import PolicyConfigError
from .test_cluster_policies import POLICY_NAMES as CLUSTER_POLICIES
from .snapshots import (
    ECR, UNKNOWN, add, compliant_stack, find, find_all, mutated, read_policy, remove, resource,
    trust_policy, vllm_container, vllm_deployment, vllm_containers_of,
)

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
SUBNET = "aws:ec2/subnet:Subnet"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"

EXPECTED_POLICIES = {
    # name: (level, config keys with defaults)
    "no-public-node-ips": ("mandatory", {"nodeSubnetTagKeys", "publicSubnetTagKeys"}),
    "nodes-in-private-subnets": ("mandatory", {"nodeSubnetTagKeys", "publicSubnetTagKeys"}),
    "eks-endpoint-private": ("mandatory", {"forbiddenPublicCidrs", "minPublicCidrPrefixLength"}),
    "irsa-only-model-access": ("mandatory", {"modelBucketTagKey", "modelBucketTagValue", "allowedActions",
                                             "requireListBucketPrefixCondition"}),
    "no-pod-identity": ("mandatory", set()),
    "no-iam-users": ("mandatory", set()),
    "no-wildcard-model-actions": ("mandatory", set()),
    "irsa-trust-pinned": ("mandatory", set()),
    "serving-namespace-default-deny": ("mandatory", {"requiredDirections"}),
    "code-is-the-source-of-truth": ("advisory", {"allowedIgnoreChanges"}),
    "pod-reads-within-role": ("mandatory", set()),  # fired and kept quiet in test_model_reads_policy.py
    "model-bucket-encrypted": ("mandatory", {"modelBucketTagKey", "modelBucketTagValue", "requireCustomerManagedKey"}),
    "model-bucket-versioned": ("mandatory", {"modelBucketTagKey", "modelBucketTagValue"}),
    "model-bucket-public-access-blocked": ("mandatory", {"modelBucketTagKey", "modelBucketTagValue"}),
    "model-bucket-tls-only": ("mandatory", {"modelBucketTagKey", "modelBucketTagValue"}),
    "eks-secrets-encrypted": ("mandatory", set()),
    "vpc-cni-network-policy-enforced": ("mandatory", set()),
    "router-serving-port-from-alb-only": ("mandatory", {"routerImageNames", "nodeSubnetTagKeys", "publicSubnetTagKeys"}),
    "router-health-check-process-only": ("mandatory", {"routerImageNames", "forbiddenPaths"}),
    "volume-claims-name-a-stack-storage-class": ("mandatory", set()),
    "images-from-private-registry": ("mandatory", {"allowedRegistries", "exemptNamespaces"}),
    "containers-run-as-non-root": ("mandatory", {"exemptNamespaces"}),
    "containers-read-only-root-filesystem": ("mandatory", {"exemptNamespaces"}),
    "containers-no-privilege-escalation": ("mandatory", {"exemptNamespaces"}),
    "vllm-api-key-from-secret": ("mandatory", {"apiKeyEnvNames"}),
    "images-pinned": ("mandatory", set()),
    "images-pinned-by-digest": ("advisory", set()),
    "cluster-multi-az": ("mandatory", {"minAvailabilityZones", "nodeSubnetTagKeys"}),
    "vllm-startup-probe-budget": ("mandatory", {"minStartupSeconds"}),
    "vllm-pod-disruption-budget": ("mandatory", {"minAvailable"}),
    "vllm-rolling-update-keeps-ready-pod": ("mandatory", set()),
    "model-bucket-retained": ("mandatory", {"modelBucketTagKey", "modelBucketTagValue"}),
    "vllm-tensor-parallel-matches-gpus": ("mandatory", set()),
    "vllm-gpu-memory-utilization-range": ("advisory", {"minUtilization", "maxUtilization"}),
    "vllm-keda-autoscaling": ("advisory", {"queueMetric"}),
    "gpu-on-demand-pool": ("advisory", set()),
    "s3-gateway-endpoint": ("advisory", {"modelBucketTagKey", "modelBucketTagValue"}),
    "vllm-ttft-alert": ("advisory", {"quantileExpression", "metric", "maxThresholdSeconds"}),
    "eks-control-plane-logging": ("advisory", {"requiredLogTypes"}),
    # The request path; fired and kept quiet in test_edge_policies.py.
    "edge-no-public-lb-to-serving": ("mandatory", {"servingNamespacePrefixes"}),
    "edge-waf-on-public-entry": ("mandatory", set()),
    "edge-tls-1-2": ("mandatory", {"allowDefaultCertificate"}),
    "edge-methods-require-authorizer": ("mandatory", {"allowedAuthorizationTypes"}),
    "edge-no-unauthenticated-routes": ("mandatory", {"forbiddenPaths"}),
    "edge-timeouts-cover-max-request": ("mandatory", {"maxRequestSeconds"}),
}
EDGE_POLICIES = {name for name in EXPECTED_POLICIES if name.startswith("edge-")}


# ---------------------------------------------------------------------------------------------------------------
# Metadata and configuration
# ---------------------------------------------------------------------------------------------------------------

def test_analyzer_info_lists_every_policy_with_description_level_and_schema(pack):
    policies = {p["name"]: p for p in pack.policies()}
    assert pack.pack_name == "vllm-eks-well-architected"
    assert set(policies) == set(EXPECTED_POLICIES)
    for name, (level, config_keys) in EXPECTED_POLICIES.items():
        policy = policies[name]
        assert policy["description"].strip(), name
        assert policy["enforcementLevel"] == level, name
        assert policy["type"] in ("resource", "stack")
        properties = policy["configSchema"]["properties"]
        assert set(properties) == config_keys | {"reason"}, name  # every policy takes a lowering's reason
        for key, schema in properties.items():
            assert "default" in schema and schema.get("description"), f"{name}.{key}"


_NODE_TAGS = {"nodeSubnetTagKeys": ["kubernetes.io/role/internal-elb", "karpenter.sh/discovery"],
              "publicSubnetTagKeys": ["kubernetes.io/role/elb"]}
_BUCKET_TAG = {"modelBucketTagKey": "vllm-eks:purpose", "modelBucketTagValue": "model-weights"}

# Every configurable default of the pack, written out (the README's policy table documents them). Sources of the
# outside facts: the unauthenticated vLLM 0.32 paths (vllm/entrypoints/openai/api_server.py: --api-key guards only
# /v1), the five EKS control-plane log types ("Amazon EKS control plane logging", EKS user guide), the subnet role
# tags the AWS Load Balancer Controller reads ("Route application and HTTP traffic with Application Load Balancers").
POLICY_CONFIG_DEFAULTS = {
    "no-public-node-ips": _NODE_TAGS,
    "nodes-in-private-subnets": _NODE_TAGS,
    "eks-endpoint-private": {"forbiddenPublicCidrs": ["0.0.0.0/0", "::/0"], "minPublicCidrPrefixLength": 16},
    "irsa-only-model-access": {**_BUCKET_TAG, "allowedActions": ["s3:GetObject", "s3:ListBucket"],
                               "requireListBucketPrefixCondition": True},
    "model-bucket-encrypted": {**_BUCKET_TAG, "requireCustomerManagedKey": True},
    "model-bucket-versioned": _BUCKET_TAG,
    "model-bucket-public-access-blocked": _BUCKET_TAG,
    "model-bucket-tls-only": _BUCKET_TAG,
    "containers-run-as-non-root": {"exemptNamespaces": ["kube-system"]},
    "containers-read-only-root-filesystem": {"exemptNamespaces": ["kube-system"]},
    "containers-no-privilege-escalation": {"exemptNamespaces": ["kube-system"]},
    "vllm-api-key-from-secret": {"apiKeyEnvNames": ["VLLM_API_KEY"]},
    "router-serving-port-from-alb-only": {"routerImageNames": ["vllm-router"], **_NODE_TAGS},
    "images-from-private-registry": {"allowedRegistries": [], "exemptNamespaces": ["kube-system"]},
    "edge-no-public-lb-to-serving": {"servingNamespacePrefixes": ["vllm-"]},
    "edge-tls-1-2": {"allowDefaultCertificate": False},
    "edge-methods-require-authorizer": {"allowedAuthorizationTypes": ["CUSTOM", "COGNITO_USER_POOLS"]},
    "edge-no-unauthenticated-routes": {"forbiddenPaths": ["/metrics", "/health", "/ping", "/version", "/tokenize",
                                                          "/detokenize", "/invocations", "/pooling"]},
    "serving-namespace-default-deny": {"requiredDirections": ["Ingress", "Egress"]},
    "cluster-multi-az": {"minAvailabilityZones": 2, "nodeSubnetTagKeys": _NODE_TAGS["nodeSubnetTagKeys"]},
    "vllm-startup-probe-budget": {"minStartupSeconds": 300},
    "vllm-pod-disruption-budget": {"minAvailable": 1},
    "model-bucket-retained": _BUCKET_TAG,
    "router-health-check-process-only": {"routerImageNames": ["vllm-router"], "forbiddenPaths": ["/health"]},
    "edge-timeouts-cover-max-request": {"maxRequestSeconds": 0},
    "vllm-gpu-memory-utilization-range": {"minUtilization": 0.85, "maxUtilization": 0.95},
    "vllm-keda-autoscaling": {"queueMetric": "vllm:num_requests_waiting"},
    "s3-gateway-endpoint": _BUCKET_TAG,
    "vllm-ttft-alert": {"quantileExpression": "histogram_quantile(0.95", "metric": "vllm:time_to_first_token_seconds",
                        "maxThresholdSeconds": 0},
    "eks-control-plane-logging": {"requiredLogTypes": ["api", "audit", "authenticator", "controllerManager",
                                                       "scheduler"]},
    "code-is-the-source-of-truth": {"allowedIgnoreChanges": {"kubernetes:apps/v1:Deployment": ["spec.replicas"]}},
}


def test_every_policy_config_default_is_the_documented_one(pack):
    defaults = {policy["name"]: {key: schema["default"] for key, schema in policy["configSchema"]["properties"].items()
                                 if key != "reason"} for policy in pack.policies()}
    assert {name: value for name, value in defaults.items() if value} == POLICY_CONFIG_DEFAULTS


def test_engine_handshake_and_process(pack):
    # pulumi-policy 1.21 does not implement Handshake; the engine (and we) fall back without error.
    assert pack.handshake_supported is False
    assert pack.process is not None and pack.process.poll() is None
    assert pack.command()[1:4] == ["-u", "-m", "pulumi.policy"]


def test_compliant_stack_has_no_violations(check):
    result = check(compliant_stack())
    assert result.violations == [], [(v.policy_name, v.message) for v in result.violations]
    assert result.mandatory_count == 0
    assert result.resource_count == len(compliant_stack()["resources"])


def test_gpu_memory_utilization_range_is_configurable(check):
    snapshot = compliant_stack()  # runs with 0.92
    assert not check(snapshot).by_policy("vllm-gpu-memory-utilization-range")
    narrowed = check(snapshot, {"vllm-gpu-memory-utilization-range": {"minUtilization": 0.93, "maxUtilization": 0.95}})
    [violation] = narrowed.by_policy("vllm-gpu-memory-utilization-range")
    assert violation.enforcement_level == "advisory"
    assert "0.93-0.95" in violation.message

    high = mutated(lambda s: _set_flag(s, "--gpu-memory-utilization", "0.97"))
    assert check(high).by_policy("vllm-gpu-memory-utilization-range")
    widened = check(high, {"vllm-gpu-memory-utilization-range": {"maxUtilization": 0.98}})
    assert not widened.by_policy("vllm-gpu-memory-utilization-range")


def test_enforcement_level_override_and_all(check):
    high = mutated(lambda s: _set_flag(s, "--gpu-memory-utilization", "0.97"))
    result = check(high, {"vllm-gpu-memory-utilization-range": "mandatory"})
    assert [v.enforcement_level for v in result.by_policy("vllm-gpu-memory-utilization-range")] == ["mandatory"]
    assert result.mandatory_count == 1
    disabled = check(mutated(_public_endpoint), {"all": "disabled"})
    assert disabled.violations == []


def test_config_is_reset_between_checks(check):
    high = mutated(lambda s: _set_flag(s, "--gpu-memory-utilization", "0.97"))
    assert not check(high, {"vllm-gpu-memory-utilization-range": {"maxUtilization": 0.98}}).violations
    assert check(high).by_policy("vllm-gpu-memory-utilization-range")


def test_invalid_policy_config_is_rejected_like_the_cli(check):
    with pytest.raises(PolicyConfigError, match="minUtilization"):
        check(compliant_stack(), {"vllm-gpu-memory-utilization-range": {"minUtilization": "high"}})
    # A CIDR prefix length is 0-128 (IPv6's longest): the schema's bounds refuse anything longer, as the CLI would.
    with pytest.raises(PolicyConfigError, match="minPublicCidrPrefixLength"):
        check(compliant_stack(), {"eks-endpoint-private": {"minPublicCidrPrefixLength": 129}})
    assert check(compliant_stack(), {"eks-endpoint-private": {"minPublicCidrPrefixLength": 128}}).violations == []
    # pkg/resource/analyzer/config.go applyConfig passes unknown names on; only one without a level is refused
    # (analyzer_plugin.go Configure: invalid enforcement level ""). See test_policy_config.py.
    assert check(compliant_stack(), {"no-such-policy": "mandatory"}).violations == []
    with pytest.raises(PolicyConfigError, match="no-such-policy"):
        check(compliant_stack(), {"no-such-policy": {"threshold": 1}})


def test_model_bucket_tag_key_is_configurable(check):
    def retag(s):
        bucket = find(s, "aws:s3/bucket:Bucket")
        bucket["props"]["tags"] = {"purpose": "weights"}
        remove(s, "aws:s3/bucketVersioning:BucketVersioning")
    snapshot = mutated(retag)
    assert not check(snapshot).by_policy("model-bucket-versioned")  # not recognised as the model bucket
    config = {name: {"modelBucketTagKey": "purpose", "modelBucketTagValue": "weights"}
              for name in ("model-bucket-versioned",)}
    assert check(snapshot, config).by_policy("model-bucket-versioned")


# ---------------------------------------------------------------------------------------------------------------
# Mutations that make exactly the intended policy fire
# ---------------------------------------------------------------------------------------------------------------

def _set_flag(snapshot, flag, value):
    for container in vllm_containers_of(snapshot):
        args = container["args"]
        args[args.index(flag) + 1] = value


def _containers(snapshot):
    return list(vllm_containers_of(snapshot))


def _public_endpoint(s):
    find(s, EKS_COMPONENT)["props"]["endpointPublicAccess"] = True
    find(s, EKS_COMPONENT)["props"].pop("publicAccessCidrs", None)


def _public_endpoint_aws(s):
    vpc = find(s, EKS_CLUSTER)["props"]["vpcConfig"]
    vpc["endpointPublicAccess"] = True
    vpc["publicAccessCidrs"] = ["0.0.0.0/0"]


def _node_subnet_public(s):
    find(s, SUBNET, "net-private-a")["props"]["mapPublicIpOnLaunch"] = True


def _launch_template_public(s):
    find(s, "aws:ec2/launchTemplate:LaunchTemplate")["props"]["networkInterfaces"][0]["associatePublicIpAddress"] = "true"


def _launch_configuration_public(s):
    add(s, resource("aws:ec2/launchConfiguration:LaunchConfiguration", "gpu-nodeLaunchConfiguration",
                    {"associatePublicIpAddress": True, "instanceType": "t3.medium"}))


def _default_node_group_public(s):
    find(s, EKS_COMPONENT)["props"].update({"skipDefaultNodeGroup": False, "nodeAssociatePublicIpAddress": True})


def _node_class_public_ip(s):
    find(s, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")["props"]["spec"]["associatePublicIPAddress"] = True


def _node_class_selects_elb(s):
    find(s, "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")["props"]["spec"]["subnetSelectorTerms"] = [
        {"tags": {"kubernetes.io/role/elb": "1"}}]


def _node_group_in_public_subnet(s):
    find(s, "eks:index:ManagedNodeGroup")["props"]["subnetIds"] = ["net-public-a-id", "net-private-b-id"]


def _node_group_in_public_subnet_by_dependency(s):
    group = find(s, "eks:index:ManagedNodeGroup")
    group["props"]["subnetIds"] = [UNKNOWN, UNKNOWN]
    group["propertyDependencies"] = {"subnetIds": [find(s, SUBNET, "net-public-a")["urn"],
                                                   find(s, SUBNET, "net-private-a")["urn"]]}


def _discovery_tag_on_public_subnet(s):
    find(s, SUBNET, "net-public-b")["props"]["tags"]["karpenter.sh/discovery"] = "gpu"


def _wildcard_on_read_role(s):
    policy = json.loads(read_policy())
    policy["Statement"][0]["Action"] = ["s3:*"]
    find(s, ROLE_POLICY)["props"]["policy"] = json.dumps(policy)


def _inline_wildcard_on_read_role(s):
    """The same grant as an inline policy of the role itself (pulumi-aws iam.Role `inlinePolicies`: name + policy)."""
    policy = json.loads(read_policy())
    policy["Statement"][0]["Action"] = ["s3:*"]
    find(s, "aws:iam/role:Role", "models-qwen3-8b-reader")["props"]["inlinePolicies"] = [
        {"name": "weights", "policy": json.dumps(policy)}]


def _star_action(s):
    policy = json.loads(read_policy())
    policy["Statement"].append({"Effect": "Allow", "Action": "*", "Resource": "*"})
    find(s, ROLE_POLICY)["props"]["policy"] = json.dumps(policy)


def _not_action_on_s3(s):
    """IAM JSON policy elements, "NotAction": with Allow it grants every action but those listed."""
    policy = json.loads(read_policy())
    policy["Statement"].append({"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::vllm-weights-prod/*"})
    find(s, ROLE_POLICY)["props"]["policy"] = json.dumps(policy)


def _trust_without_aud(s):
    find(s, "aws:iam/role:Role")["props"]["assumeRolePolicy"] = trust_policy(aud=None)


def _trust_wildcard_sub(s):
    find(s, "aws:iam/role:Role")["props"]["assumeRolePolicy"] = trust_policy(
        sub="system:serviceaccount:llm:*", operator="StringLike")


def _trust_ec2(s):
    find(s, "aws:iam/role:Role")["props"]["assumeRolePolicy"] = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}]})


def _pod_reads_outside_its_role(s):
    container = find(s, "kubernetes:apps/v1:Deployment")["props"]["spec"]["template"]["spec"]["containers"][0]
    container["args"][1] = "s3://vllm-weights-prod/loras/sql"


def _read_whole_bucket(s):
    policy = json.loads(read_policy())
    policy["Statement"][0]["Resource"] = ["arn:aws:s3:::vllm-weights-prod/*"]
    find(s, ROLE_POLICY)["props"]["policy"] = json.dumps(policy)


def _extra_action(s):
    policy = json.loads(read_policy())
    policy["Statement"][0]["Action"] = ["s3:GetObject", "s3:PutObject"]
    find(s, ROLE_POLICY)["props"]["policy"] = json.dumps(policy)


def _kms_without_via(s):
    policy = json.loads(read_policy())
    del policy["Statement"][2]["Condition"]
    find(s, ROLE_POLICY)["props"]["policy"] = json.dumps(policy)


def _managed_policy_attached_with_get(s):
    """A separate aws:iam/policy:Policy attached by RolePolicyAttachment (linked via property dependencies)."""
    role = find(s, "aws:iam/role:Role")
    policy = resource("aws:iam/policy:Policy", "extra-read", {"policy": json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:DeleteObject"],
                       "Resource": ["arn:aws:s3:::vllm-weights-prod/qwen3-8b/*"]}]})})
    attachment = resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "extra-read-attach",
                          {"role": UNKNOWN, "policyArn": UNKNOWN},
                          property_dependencies={"role": [role["urn"]], "policyArn": [policy["urn"]]})
    add(s, policy, attachment)


def _managed_policy_attached_after_another_roles_attachment(s):
    """The same grant, listed after another role's attachment: every attachment of the stack is read, not only those
    up to the first that belongs to someone else."""
    other = resource("aws:iam/role:Role", "ops", {"assumeRolePolicy": json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})})
    add(s, other, resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ops-ssm",
                           {"role": UNKNOWN, "policyArn": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"},
                           property_dependencies={"role": [other["urn"]]}))
    _managed_policy_attached_with_get(s)


def _pod_identity(s):
    add(s, resource("aws:eks/podIdentityAssociation:PodIdentityAssociation", "reader-pia", {
        "clusterName": "gpu", "namespace": "llm", "serviceAccount": "qwen3-8b-reader", "roleArn": UNKNOWN}))


def _iam_user(s):
    add(s, resource("aws:iam/user:User", "ci", {"name": "ci"}),
        resource("aws:iam/accessKey:AccessKey", "ci-key", {"user": "ci"}))


def _bucket_without_sse(s):
    remove(s, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")


def _bucket_sse_s3(s):
    sse = find(s, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    sse["props"]["rules"][0]["applyServerSideEncryptionByDefault"] = {"sseAlgorithm": "AES256"}


def _flat_program(s):
    """The bucket and its encryption at the top of a program (parented to the Stack, no component), the encryption
    naming its bucket by a value not known yet and without the property dependency that would say which."""
    stack_urn = find(s, "pulumi:pulumi:Stack")["urn"]
    bucket = find(s, "aws:s3/bucket:Bucket")
    sse = find(s, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    bucket["parent"] = sse["parent"] = stack_urn
    sse.pop("propertyDependencies")


def test_the_stack_is_no_component_grouping_a_bucket_with_its_companions(check):
    """Where nothing says which bucket an encryption configuration belongs to, the pack takes it for the only
    bucket under the same component; the Stack is not one (Pulumi docs, "Stack": the root every resource of a
    program hangs from), so at the top level the model bucket is not taken as encrypted on that guess."""
    messages = [v.message.splitlines()[-1] for v in check(mutated(_flat_program)).by_policy("model-bucket-encrypted")]
    assert messages == ["Model bucket 'models-weights': no server-side encryption with SSE-KMS (a "
                        "BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms and a kmsMasterKeyId)."]


def _bucket_without_versioning(s):
    remove(s, "aws:s3/bucketVersioning:BucketVersioning")


def _bucket_versioning_suspended(s):
    find(s, "aws:s3/bucketVersioning:BucketVersioning")["props"]["versioningConfiguration"]["status"] = "Suspended"


def _bucket_pab_partial(s):
    find(s, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")["props"]["restrictPublicBuckets"] = False


def _bucket_without_pab(s):
    remove(s, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")


def _bucket_without_tls_policy(s):
    remove(s, "aws:s3/bucketPolicy:BucketPolicy")


def _bucket_force_destroyed(s):
    find(s, "aws:s3/bucket:Bucket")["props"]["forceDestroy"] = True


def _secrets_unencrypted_component(s):
    find(s, EKS_COMPONENT)["props"]["encryptionConfigKeyArn"] = ""


def _secrets_unencrypted_aws(s):
    del find(s, EKS_CLUSTER)["props"]["encryptionConfig"]


def _root_container(s):
    spec = find(s, DEPLOYMENT)["props"]["spec"]["template"]["spec"]
    spec["initContainers"][0]["securityContext"]["runAsUser"] = 0.0


def _no_non_root(s):
    spec = find(s, DEPLOYMENT)["props"]["spec"]["template"]["spec"]
    del spec["securityContext"]["runAsNonRoot"]
    del spec["containers"][0]["securityContext"]["runAsNonRoot"]
    del spec["containers"][0]["securityContext"]["runAsUser"]


def _writable_root(s):
    _containers(s)[0]["securityContext"]["readOnlyRootFilesystem"] = False


def _escalation(s):
    del _containers(s)[0]["securityContext"]["allowPrivilegeEscalation"]


def _privileged_job(s):
    add(s, resource("kubernetes:batch/v1:Job", "prefetch", {"metadata": {"namespace": "llm"}, "spec": {"template": {
        "spec": {"containers": [{"name": "fetch", "image": ECR + "/docker-hub/amazon/aws-cli:2.27.0@sha256:" + "c" * 64,
                                 "securityContext": {"runAsUser": 1000.0, "readOnlyRootFilesystem": True,
                                                     "allowPrivilegeEscalation": False, "privileged": True}}]}}}}))


def _api_key_literal(s):
    _containers(s)[0]["env"] = [{"name": "VLLM_API_KEY", "value": "sk-123"}]


def _api_key_flag(s):
    _containers(s)[0]["args"] += ["--api-key", "sk-123"]


def _api_key_from_config_map(s):
    _containers(s)[0]["env"] = [{"name": "VLLM_API_KEY", "valueFrom": {"configMapKeyRef": {"name": "k", "key": "k"}}}]


@pytest.mark.parametrize("mutation, said", [
    (_api_key_literal, "sets VLLM_API_KEY as a literal env value; take it from a Secret (valueFrom.secretKeyRef or a "
                       "mounted secret file)."),
    (_api_key_from_config_map, "reads VLLM_API_KEY from a ConfigMap; use a Secret."),
    (_api_key_flag, "passes --api-key on the command line (visible in the pod spec and process list); read "
                    "VLLM_API_KEY from a Secret instead."),
])
def test_each_way_of_exposing_the_api_key_is_named_with_its_fix(check, mutation, said):
    """vLLM reads the key from --api-key or VLLM_API_KEY (vLLM docs, "OpenAI-Compatible Server", API key); a literal
    env value and a ConfigMap are readable by anyone who can read the pod spec or ConfigMaps, a flag also by `ps`."""
    messages = [v.message.splitlines()[-1] for v in check(mutated(mutation)).by_policy("vllm-api-key-from-secret")]
    assert messages == [f"containers[vllm] {said}"]


def _latest_tag(s):
    _containers(s)[0]["image"] = "vllm/vllm-openai:latest"


def _untagged_image(s):
    _containers(s)[0]["image"] = "vllm/vllm-openai"


def _tag_only(s):
    _containers(s)[0]["image"] = "vllm/vllm-openai:v0.32.0"


def _single_az(s):
    for subnet in find_all(s, SUBNET):
        subnet["props"]["availabilityZone"] = "us-east-1a"


def _single_az_without_a_cluster(s):
    """A program that creates the node subnets but not the cluster (it joins one made elsewhere)."""
    _single_az(s)
    for type_ in ("eks:index:Cluster", "aws:eks/cluster:Cluster"):
        for cluster in find_all(s, type_):
            s["resources"].remove(cluster)


def _short_startup(s):
    _containers(s)[0]["startupProbe"].update({"failureThreshold": 6.0, "periodSeconds": 10.0})


@pytest.mark.parametrize("mutation, policy, message", [
    (lambda s: _containers(s)[0]["startupProbe"].update({"failureThreshold": "thirty"}), "vllm-startup-probe-budget",
     "vLLM container 'vllm' startupProbe has non-numeric failureThreshold/periodSeconds."),
    (lambda s: _set_flag(s, "--gpu-memory-utilization", "most"), "vllm-gpu-memory-utilization-range",
     "vLLM container 'vllm' --gpu-memory-utilization 'most' is not a number."),
])
def test_a_value_that_is_no_number_is_named_as_such(check, mutation, policy, message):
    """Kubernetes' probe fields and vLLM's --gpu-memory-utilization are numbers (Kubernetes API, Probe v1:
    failureThreshold and periodSeconds int32; vLLM engine arguments: float): anything else is reported, not compared."""
    assert [v.message.splitlines()[-1] for v in check(mutated(mutation)).by_policy(policy)] == [message]


def _no_startup_probe(s):
    del _containers(s)[0]["startupProbe"]


def _no_pdb(s):
    remove(s, "kubernetes:policy/v1:PodDisruptionBudget")


def _pdb_other_namespace(s):
    find(s, "kubernetes:policy/v1:PodDisruptionBudget")["props"]["metadata"]["namespace"] = "default"


def _pdb_zero(s):
    find(s, "kubernetes:policy/v1:PodDisruptionBudget")["props"]["spec"]["minAvailable"] = 0.0


def _pdb_wrong_selector(s):
    find(s, "kubernetes:policy/v1:PodDisruptionBudget")["props"]["spec"]["selector"] = {
        "matchLabels": {"app.kubernetes.io/instance": "other"}}


def _max_unavailable_one(s):
    find(s, DEPLOYMENT)["props"]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = 1.0


def _recreate(s):
    find(s, DEPLOYMENT)["props"]["spec"]["strategy"] = {"type": "Recreate"}


def _percent_rounds_up(s):
    deployment = find(s, DEPLOYMENT)["props"]["spec"]
    deployment["replicas"] = 4.0
    deployment["strategy"]["rollingUpdate"]["maxUnavailable"] = "25%"


def _tp_mismatch(s):
    _set_flag(s, "--tensor-parallel-size", "2")


def _gpu_limit_int_mismatch(s):
    _containers(s)[0]["resources"]["limits"]["nvidia.com/gpu"] = 8


def _gpu_limit_not_a_number(s):
    _containers(s)[0]["resources"]["limits"]["nvidia.com/gpu"] = "four"


def _tp_not_a_number(s):
    _set_flag(s, "--tensor-parallel-size", "auto")


def _pp_not_a_number(s):
    for container in _containers(s):
        container["args"] += ["--pipeline-parallel-size", "two"]


def _dp_not_a_number(s):
    for container in _containers(s):
        container["args"] += ["--data-parallel-size=auto"]


@pytest.mark.parametrize("mutation", [_gpu_limit_not_a_number, _tp_not_a_number, _pp_not_a_number, _dp_not_a_number])
def test_a_parallel_size_or_gpu_limit_that_is_no_number_is_named_as_such(check, mutation):
    """Any factor not a number cannot be compared: the policy says which inputs to fix rather than guessing (vLLM 0.32
    vllm/config/parallel.py: the three sizes are int fields with ge=1, so vLLM refuses anything else at start)."""
    messages = [v.message.splitlines()[-1] for v in check(mutated(mutation)).by_policy("vllm-tensor-parallel-matches-gpus")]
    assert messages == ["vLLM container 'vllm' has a non-numeric --tensor-parallel-size, --pipeline-parallel-size, "
                        "--data-parallel-size or nvidia.com/gpu limit."]


def _tp_given(*sources):
    """The vLLM container's command line with --tensor-parallel-size given once per (part, value), in that order."""
    def mutation(s):
        for container in vllm_containers_of(s):
            args = container["args"]
            index = args.index("--tensor-parallel-size")
            del args[index:index + 2]
            for part, value in sources:
                container.setdefault(part, []).extend(["--tensor-parallel-size", value])
    return mutation


@pytest.mark.parametrize("sources, fires", [
    ((("args", "2"), ("args", "4")), False),  # prod's GPU limit is 4: the last value counts
    ((("args", "4"), ("args", "2")), True),
    ((("command", "2"), ("args", "4")), False),  # args come after the command on the process's command line
    ((("command", "4"), ("args", "2")), True),
])
def test_the_tensor_parallel_size_that_counts_is_the_last_on_the_command_line(check, sources, fires):
    """Python's argparse keeps the last value of an option given twice (Python docs, argparse, action "store"), and a
    container runs its command followed by its args (Kubernetes docs, "Define a Command and Arguments for a
    Container"), so vLLM uses the last --tensor-parallel-size of command + args."""
    fired = check(mutated(_tp_given(*sources))).by_policy("vllm-tensor-parallel-matches-gpus")
    assert len(fired) == int(fires), [v.message for v in fired]


def _no_scaled_object(s):
    remove(s, "kubernetes:keda.sh/v1alpha1:ScaledObject")


def _scaled_object_wrong_metric(s):
    scaler = find(s, "kubernetes:keda.sh/v1alpha1:ScaledObject")
    scaler["props"]["spec"]["triggers"][0]["metadata"]["query"] = "sum(rate(http_requests_total[1m]))"


def _spot_only_pool(s):
    pool = find(s, "kubernetes:karpenter.sh/v1:NodePool")
    pool["props"]["spec"]["template"]["spec"]["requirements"][0]["values"] = ["spot"]


def _no_s3_endpoint(s):
    remove(s, "aws:ec2/vpcEndpoint:VpcEndpoint")


def _interface_s3_endpoint(s):
    find(s, "aws:ec2/vpcEndpoint:VpcEndpoint")["props"]["vpcEndpointType"] = "Interface"


def _no_ttft_alert(s):
    remove(s, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")


def _p50_alert(s):
    rule = find(s, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")["props"]["spec"]["groups"][0]["rules"][0]
    rule["expr"] = rule["expr"].replace("0.95", "0.5")


def test_ttft_alert_threshold_above_the_stacks_target_fires(check):
    """The compliant alert compares P95 against 2 s; a stack whose target is 1 s does not accept it."""
    assert not check(compliant_stack(), {"vllm-ttft-alert": {"maxThresholdSeconds": 2}}).by_policy("vllm-ttft-alert")
    hits = check(compliant_stack(), {"vllm-ttft-alert": {"maxThresholdSeconds": 1}}).by_policy("vllm-ttft-alert")
    assert hits and "VllmSlowFirstToken (2 s)" in hits[0].message


def _role_ignores_trust_changes(s):
    find(s, "aws:iam/role:Role")["options"]["ignoreChanges"] = ["assumeRolePolicy"]


def test_ignoring_a_controller_owned_field_is_quiet_and_everything_else_fires(check):
    """KEDA's HPA owns spec.replicas of the Deployment it scales (keda.sh, Scaling Deployments)."""
    snapshot = compliant_stack()
    find(snapshot, "kubernetes:apps/v1:Deployment")["options"]["ignoreChanges"] = ["spec.replicas"]
    assert not check(snapshot).by_policy("code-is-the-source-of-truth")
    find(snapshot, "kubernetes:apps/v1:Deployment")["options"]["ignoreChanges"] = ["*"]
    hits = check(snapshot).by_policy("code-is-the-source-of-truth")
    assert hits and "['*']" in hits[0].message


def _partial_logging(s):
    find(s, EKS_COMPONENT)["props"]["enabledClusterLogTypes"] = ["api", "audit"]


def _no_logging_aws(s):
    del find(s, EKS_CLUSTER)["props"]["enabledClusterLogTypes"]


FIRING = [
    ("no-public-node-ips", _node_subnet_public),
    ("no-public-node-ips", _launch_template_public),
    ("no-public-node-ips", _default_node_group_public),
    ("no-public-node-ips", _launch_configuration_public),
    ("no-public-node-ips", _node_class_public_ip),
    ("nodes-in-private-subnets", _node_class_selects_elb),
    ("nodes-in-private-subnets", _node_group_in_public_subnet),
    ("nodes-in-private-subnets", _node_group_in_public_subnet_by_dependency),
    ("nodes-in-private-subnets", _discovery_tag_on_public_subnet),
    ("eks-endpoint-private", _public_endpoint),
    ("eks-endpoint-private", _public_endpoint_aws),
    ("irsa-only-model-access", _trust_without_aud),
    ("irsa-only-model-access", _trust_wildcard_sub),
    ("irsa-only-model-access", _trust_ec2),
    ("irsa-only-model-access", _read_whole_bucket),
    ("irsa-only-model-access", _extra_action),
    ("irsa-only-model-access", _kms_without_via),
    ("irsa-only-model-access", _managed_policy_attached_with_get),
    ("irsa-only-model-access", _managed_policy_attached_after_another_roles_attachment),
    ("irsa-only-model-access", _wildcard_on_read_role),
    ("irsa-only-model-access", _not_action_on_s3),
    ("no-wildcard-model-actions", _wildcard_on_read_role),
    ("no-wildcard-model-actions", _inline_wildcard_on_read_role),
    ("no-wildcard-model-actions", _star_action),
    ("no-wildcard-model-actions", _not_action_on_s3),
    ("pod-reads-within-role", _pod_reads_outside_its_role),
    ("no-pod-identity", _pod_identity),
    ("no-iam-users", _iam_user),
    ("model-bucket-encrypted", _bucket_without_sse),
    ("model-bucket-encrypted", _bucket_sse_s3),
    ("model-bucket-versioned", _bucket_without_versioning),
    ("model-bucket-versioned", _bucket_versioning_suspended),
    ("model-bucket-public-access-blocked", _bucket_pab_partial),
    ("model-bucket-public-access-blocked", _bucket_without_pab),
    ("model-bucket-tls-only", _bucket_without_tls_policy),
    ("model-bucket-retained", _bucket_force_destroyed),
    ("eks-secrets-encrypted", _secrets_unencrypted_component),
    ("eks-secrets-encrypted", _secrets_unencrypted_aws),
    ("containers-run-as-non-root", _root_container),
    ("containers-run-as-non-root", _no_non_root),
    ("containers-read-only-root-filesystem", _writable_root),
    ("containers-no-privilege-escalation", _escalation),
    ("containers-no-privilege-escalation", _privileged_job),
    ("vllm-api-key-from-secret", _api_key_literal),
    ("vllm-api-key-from-secret", _api_key_flag),
    ("images-pinned", _latest_tag),
    ("images-pinned", _untagged_image),
    ("images-pinned-by-digest", _tag_only),
    ("cluster-multi-az", _single_az),
    ("cluster-multi-az", _single_az_without_a_cluster),
    ("vllm-startup-probe-budget", _short_startup),
    ("vllm-startup-probe-budget", _no_startup_probe),
    ("vllm-pod-disruption-budget", _no_pdb),
    ("vllm-pod-disruption-budget", _pdb_other_namespace),
    ("vllm-pod-disruption-budget", _pdb_zero),
    ("vllm-pod-disruption-budget", _pdb_wrong_selector),
    ("vllm-rolling-update-keeps-ready-pod", _max_unavailable_one),
    ("vllm-rolling-update-keeps-ready-pod", _recreate),
    ("vllm-rolling-update-keeps-ready-pod", _percent_rounds_up),
    ("vllm-tensor-parallel-matches-gpus", _tp_mismatch),
    ("vllm-tensor-parallel-matches-gpus", _gpu_limit_int_mismatch),
    ("vllm-gpu-memory-utilization-range", lambda s: _set_flag(s, "--gpu-memory-utilization", "0.5")),
    ("vllm-keda-autoscaling", _no_scaled_object),
    ("vllm-keda-autoscaling", _scaled_object_wrong_metric),
    ("gpu-on-demand-pool", _spot_only_pool),
    ("s3-gateway-endpoint", _no_s3_endpoint),
    ("s3-gateway-endpoint", _interface_s3_endpoint),
    ("vllm-ttft-alert", _no_ttft_alert),
    ("vllm-ttft-alert", _p50_alert),
    ("serving-namespace-default-deny", lambda s: remove(s, "kubernetes:networking.k8s.io/v1:NetworkPolicy")),
    ("irsa-trust-pinned", _trust_without_aud),
    ("irsa-trust-pinned", _trust_wildcard_sub),
    ("code-is-the-source-of-truth", _role_ignores_trust_changes),
    ("eks-control-plane-logging", _partial_logging),
    ("eks-control-plane-logging", _no_logging_aws),
]


@pytest.mark.parametrize("policy,mutation", FIRING, ids=[f"{p}:{m.__name__.strip('_')}" for p, m in FIRING])
def test_policy_fires(check, policy, mutation):
    result = check(mutated(mutation))
    hits = result.by_policy(policy)
    assert hits, f"{policy} did not fire; got {sorted(result.policy_names())}"
    level = EXPECTED_POLICIES[policy][0]
    assert all(v.enforcement_level == level for v in hits)
    if policy not in STACK_LEVEL:  # these report on the stack as a whole, like pulumi shows them
        assert all(v.urn for v in hits)
    assert (result.mandatory_count > 0) == any(v.enforcement_level == "mandatory" for v in result.violations)
    # A mutation aimed at one pillar should not set off unrelated policies.
    unrelated = {v.policy_name for v in result.violations} - {policy} - RELATED.get(policy, set())
    assert not unrelated, f"unexpected policies fired: {unrelated}"


STACK_LEVEL = {"gpu-on-demand-pool", "s3-gateway-endpoint", "vllm-ttft-alert"}

RELATED = {
    "no-public-node-ips": {"nodes-in-private-subnets"},
    "nodes-in-private-subnets": {"no-public-node-ips"},
    # A grant wider than the pod's prefix is also more than the pod reads (pod-reads-within-role).
    "irsa-only-model-access": {"no-wildcard-model-actions", "pod-reads-within-role", "irsa-trust-pinned"},
    "irsa-trust-pinned": {"irsa-only-model-access"},
    "no-wildcard-model-actions": {"irsa-only-model-access", "pod-reads-within-role"},
    # The image mutations also pull from Docker Hub directly.
    "images-pinned": {"images-pinned-by-digest", "images-from-private-registry"},
    "images-pinned-by-digest": {"images-from-private-registry"},
}


def test_every_policy_has_a_firing_test():
    # Edge and cluster policies fire in test_edge_policies.py and test_cluster_policies.py.
    assert {policy for policy, _ in FIRING} == set(EXPECTED_POLICIES) - EDGE_POLICIES - CLUSTER_POLICIES


# ---------------------------------------------------------------------------------------------------------------
# Quiet on other compliant shapes
# ---------------------------------------------------------------------------------------------------------------

def _public_endpoint_restricted(s):
    props = find(s, EKS_COMPONENT)["props"]
    props.update({"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]})
    vpc = find(s, EKS_CLUSTER)["props"]["vpcConfig"]
    vpc.update({"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]})


def _default_node_group_private(s):
    find(s, EKS_COMPONENT)["props"].update({"skipDefaultNodeGroup": False, "nodeAssociatePublicIpAddress": False})


def _vllm_by_entrypoint_only(s):
    """A vLLM Deployment recognised by its command only, compliant otherwise."""
    container = _containers(s)[0]
    container["image"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/serving:1.2.3@sha256:" + "d" * 64


def _digest_only_image(s):
    _containers(s)[0]["image"] = ECR + "/docker-hub/vllm/vllm-openai@sha256:" + "e" * 64


def _percent_rounds_to_zero(s):
    find(s, DEPLOYMENT)["props"]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = "25%"


def _api_key_from_secret_env(s):
    _containers(s)[0]["env"] = [{"name": "VLLM_API_KEY", "valueFrom": {
        "secretKeyRef": {"name": "qwen3-8b-api-key", "key": "api-key"}}}]


def _second_model_fully_covered(s):
    """A second model with its own PDB/ScaledObject and an int GPU limit; non-vLLM workloads add nothing."""
    container = vllm_container(resources={"limits": {"nvidia.com/gpu": 1}})
    container["args"][container["args"].index("--tensor-parallel-size") + 1] = "1"
    add(s, vllm_deployment("llama", container=container))
    pdb = json.loads(json.dumps(find(s, "kubernetes:policy/v1:PodDisruptionBudget")))
    pdb.update({"name": "llama-pdb", "urn": pdb["urn"].replace("qwen3-8b-pdb", "llama-pdb")})
    pdb["props"]["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] = "llama"
    scaler = json.loads(json.dumps(find(s, "kubernetes:keda.sh/v1alpha1:ScaledObject")))
    scaler.update({"name": "llama-scaler", "urn": scaler["urn"].replace("qwen3-8b-scaler", "llama-scaler")})
    scaler["props"]["spec"]["scaleTargetRef"]["name"] = "llama"
    add(s, pdb, scaler)


def _eks_real_preview_form_only(s):
    """A real preview of a program not using pulumi-eks: only aws:eks/cluster:Cluster is there."""
    remove(s, EKS_COMPONENT)
    find(s, EKS_CLUSTER)["parent"] = None
    add(s, resource("aws:eks/addon:Addon", "gpu-vpc-cni", {"clusterName": "gpu", "addonName": "vpc-cni",
                                                            "configurationValues": '{"enableNetworkPolicy": "true"}'}))


def _system_namespace_exempt(s):
    add(s, resource("kubernetes:apps/v1:DaemonSet", "device-plugin", {"metadata": {"namespace": "kube-system"},
        "spec": {"template": {"spec": {"containers": [{
            "name": "plugin", "image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.0@sha256:" + "f" * 64,
            "securityContext": {"privileged": True}}]}}}}))


QUIET = [
    _public_endpoint_restricted, _default_node_group_private, _vllm_by_entrypoint_only, _digest_only_image,
    _percent_rounds_to_zero, _api_key_from_secret_env, _second_model_fully_covered, _eks_real_preview_form_only,
    _system_namespace_exempt,
]


@pytest.mark.parametrize("mutation", QUIET, ids=[m.__name__.strip("_") for m in QUIET])
def test_policies_quiet_on_compliant_variants(check, mutation):
    result = check(mutated(mutation))
    assert result.violations == [], [(v.policy_name, v.message) for v in result.violations]


def test_no_vllm_no_vllm_policies(check):
    """A stack without vLLM (e.g. infrastructure only) is not asked for PDBs, alerts or scalers."""
    snapshot = mutated(lambda s: remove(s, DEPLOYMENT))
    assert check(snapshot).violations == []


def test_vllm_recognised_by_label_only(check):
    def relabel(s):
        container = _containers(s)[0]
        container.update({"image": "registry.example.com/server:1.0@sha256:" + "a" * 64,
                          "command": ["/serve"]})
        del container["startupProbe"]
    result = check(mutated(relabel))
    assert result.by_policy("vllm-startup-probe-budget")


# ---------------------------------------------------------------------------------------------------------------
# Unknown values (preview): never a pass, never a crash
# ---------------------------------------------------------------------------------------------------------------

def _unknowns_everywhere(s):
    find(s, EKS_COMPONENT)["props"]["endpointPublicAccess"] = UNKNOWN
    find(s, EKS_CLUSTER)["props"]["vpcConfig"] = UNKNOWN
    find(s, SUBNET, "net-private-a")["props"]["mapPublicIpOnLaunch"] = UNKNOWN
    find(s, ROLE_POLICY)["props"]["policy"] = UNKNOWN
    find(s, "aws:iam/role:Role")["props"]["assumeRolePolicy"] = UNKNOWN
    container = _containers(s)[0]
    container["image"] = UNKNOWN
    container["resources"]["limits"]["nvidia.com/gpu"] = UNKNOWN
    container["startupProbe"]["failureThreshold"] = UNKNOWN
    find(s, "kubernetes:policy/v1:PodDisruptionBudget")["props"]["metadata"]["namespace"] = UNKNOWN
    find(s, "aws:s3/bucketVersioning:BucketVersioning")["props"]["versioningConfiguration"] = {"status": UNKNOWN}
    find(s, "kubernetes:keda.sh/v1alpha1:ScaledObject")["props"]["spec"]["scaleTargetRef"]["name"] = UNKNOWN
    find(s, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")["props"]["spec"]["groups"] = UNKNOWN


def test_unknown_values_are_not_applicable(check):
    result = check(mutated(_unknowns_everywhere))
    assert result.violations == [], [(v.policy_name, v.message) for v in result.violations]
    skipped = {item["policy"] for item in result.not_applicable}
    for policy in ("eks-endpoint-private", "vllm-startup-probe-budget", "vllm-tensor-parallel-matches-gpus",
                   "vllm-pod-disruption-budget", "vllm-keda-autoscaling", "vllm-ttft-alert",
                   "irsa-only-model-access", "images-pinned", "no-wildcard-model-actions"):
        assert policy in skipped, policy


def test_unknown_does_not_hide_a_known_violation(check):
    def both(s):
        find(s, EKS_COMPONENT)["props"]["publicAccessCidrs"] = UNKNOWN
        _latest_tag(s)
    result = check(mutated(both))
    assert result.by_policy("images-pinned")
    assert not result.by_policy("eks-endpoint-private")  # the endpoint is private; the CIDRs don't matter


# A PDB selects the vLLM pods (labels name=vllm, instance=qwen3-8b) or it does not: one case on each side of every
# selector operator. Kubernetes "Labels and Selectors" (set-based requirements): In / NotIn compare the label's
# value with the list (NotIn also matches when the label is absent), Exists / DoesNotExist test only the key, and all
# requirements must hold; an empty selector here selects nothing useful (the policy's own rule).
_INSTANCE = "app.kubernetes.io/instance"
PDB_SELECTORS = [
    ({"matchLabels": {"app.kubernetes.io/name": "vllm"}}, True),
    ({"matchLabels": {"app.kubernetes.io/name": "vllm", _INSTANCE: "other"}}, False),
    ({"matchExpressions": [{"key": _INSTANCE, "operator": "In", "values": ["qwen3-8b", "x"]}]}, True),
    ({"matchExpressions": [{"key": _INSTANCE, "operator": "In", "values": ["other"]}]}, False),
    ({"matchExpressions": [{"key": _INSTANCE, "operator": "NotIn", "values": ["other"]}]}, True),
    ({"matchExpressions": [{"key": _INSTANCE, "operator": "NotIn", "values": ["qwen3-8b"]}]}, False),
    ({"matchExpressions": [{"key": _INSTANCE, "operator": "Exists"}]}, True),
    ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, False),
    ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, True),
    ({"matchExpressions": [{"key": _INSTANCE, "operator": "DoesNotExist"}]}, False),
    ({"matchLabels": {"app.kubernetes.io/name": "vllm"},
      "matchExpressions": [{"key": _INSTANCE, "operator": "In", "values": ["other"]}]}, False),
    ({}, False),
]


@pytest.mark.parametrize("selector, selects", PDB_SELECTORS, ids=[f"{i}-{s}" for i, (_, s) in enumerate(PDB_SELECTORS)])
def test_pdb_selector_operators(check, selector, selects):
    snapshot = mutated(lambda s: find(s, "kubernetes:policy/v1:PodDisruptionBudget")["props"]["spec"].__setitem__(
        "selector", selector))
    assert bool(check(snapshot).by_policy("vllm-pod-disruption-budget")) is not selects


@pytest.mark.parametrize("pdb_min, config_min, fires", [(1, 1, False), (1, 2, True), (2, 2, False), (0, 1, True)])
def test_pdb_min_available_against_the_configured_least(check, pdb_min, config_min, fires):
    snapshot = mutated(lambda s: find(s, "kubernetes:policy/v1:PodDisruptionBudget")["props"]["spec"].__setitem__(
        "minAvailable", float(pdb_min)))
    result = check(snapshot, {"vllm-pod-disruption-budget": {"minAvailable": config_min}})
    assert bool(result.by_policy("vllm-pod-disruption-budget")) is fires


# How the on-demand pool is recognised as a GPU pool, one way at a time (the compliant pool has both a GPU family and
# the nvidia.com/gpu taint). Karpenter's well-known labels ("Karpenter, NodePools: well-known labels"): instance
# category g/p, instance family or type g*/p*, the GPU count/name/manufacturer/memory labels; the NVIDIA device
# plugin's resource name nvidia.com/gpu is the taint GPU pools carry.
_CAPACITY = {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]}
GPU_POOL_SHAPES = [
    ([_CAPACITY], [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}], True),
    ([_CAPACITY, {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["g"]}], [], True),
    ([_CAPACITY, {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["p"]}], [], True),
    ([_CAPACITY, {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["p4d.24xlarge"]}], [], True),
    ([_CAPACITY, {"key": "karpenter.k8s.aws/instance-gpu-count", "operator": "Gt", "values": ["0"]}], [], True),
    ([_CAPACITY, {"key": "karpenter.k8s.aws/instance-gpu-name", "operator": "In", "values": ["a10g"]}], [], True),
    ([_CAPACITY, {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["m", "c"]}],
     [{"key": "dedicated", "value": "system", "effect": "NoSchedule"}], False),
    ([_CAPACITY, {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["m7i"]}], [], False),
    ([{**_CAPACITY, "values": ["spot"]}], [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}], False),
    ([{**_CAPACITY, "operator": "NotIn"}], [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}], False),
]


@pytest.mark.parametrize("requirements, taints, on_demand_gpu", GPU_POOL_SHAPES,
                         ids=[f"{i}-{ok}" for i, (_, _, ok) in enumerate(GPU_POOL_SHAPES)])
def test_on_demand_gpu_pool_recognised_each_way(check, requirements, taints, on_demand_gpu):
    def reshape(s):
        spec = find(s, "kubernetes:karpenter.sh/v1:NodePool")["props"]["spec"]["template"]["spec"]
        spec["requirements"], spec["taints"] = requirements, taints
    assert bool(check(mutated(reshape)).by_policy("gpu-on-demand-pool")) is not on_demand_gpu


def _without_gpu_limit(s):
    resources = _containers(s)[0]["resources"]
    del resources["limits"]["nvidia.com/gpu"], resources["requests"]["nvidia.com/gpu"]


def _cpu_build(s):
    """A CPU build of vLLM: no GPU resource and no tensor parallelism flag."""
    _without_gpu_limit(s)
    args = _containers(s)[0]["args"]
    del args[args.index("--tensor-parallel-size"):args.index("--tensor-parallel-size") + 2]


def test_tensor_parallelism_without_a_gpu_limit_fires_and_a_cpu_build_is_quiet(check):
    """A pod gets GPUs only through the `nvidia.com/gpu` limit (NVIDIA k8s-device-plugin README, "Running GPU Jobs");
    vLLM shards the model across --tensor-parallel-size GPUs (vLLM docs, "Parallelism and Scaling"), so asking for 4
    with no limit cannot start, while a container with neither is a CPU build."""
    fired = check(mutated(_without_gpu_limit)).by_policy("vllm-tensor-parallel-matches-gpus")
    assert [v.message.splitlines()[-1] for v in fired] == [
        "vLLM container 'vllm' sets --tensor-parallel-size 4 but has no nvidia.com/gpu limit; request the GPUs it "
        "shards across."]
    assert check(mutated(_cpu_build)).by_policy("vllm-tensor-parallel-matches-gpus") == []


def test_node_subnets_in_exactly_the_minimum_of_zones_are_quiet_without_a_cluster(check):
    """The boundary of cluster-multi-az for a program that joins a cluster made elsewhere: two zones, two required."""
    snapshot = compliant_stack()
    for type_ in ("eks:index:Cluster", "aws:eks/cluster:Cluster"):
        for cluster in find_all(snapshot, type_):
            snapshot["resources"].remove(cluster)
    zones = {subnet["props"]["availabilityZone"] for subnet in find_all(snapshot, SUBNET)}
    assert len(zones) == 2
    assert not check(snapshot, {"cluster-multi-az": {"minAvailabilityZones": 2}}).by_policy("cluster-multi-az")
    assert check(snapshot, {"cluster-multi-az": {"minAvailabilityZones": 3}}).by_policy("cluster-multi-az")


def test_a_violation_of_the_stack_as_a_whole_names_no_resource(check):
    """A stack policy may report without a URN (pulumi-policy's StackValidationPolicy): it is about no one resource."""
    snapshot = mutated(lambda s: remove(s, "aws:ec2/vpcEndpoint:VpcEndpoint"))
    [violation] = check(snapshot).by_policy("s3-gateway-endpoint")
    assert (violation.urn, violation.resource_type, violation.resource_name) == ("", "", "")
