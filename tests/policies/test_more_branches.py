"""Further branches of pack 2: reliability and identity details, the S3 V2 resources, model reads, cost,
operations and performance, each verdict stated whole."""

from __future__ import annotations

import json

import pytest

from .branch_cases import (
    BUCKET, DEPLOYMENT, EKS_CLUSTER, EKS_COMPONENT, READER, ROLE, ROLE_POLICY, SSE, SUBNET, least_privilege,
    pod_of, read_document, run_case, vllm_of,
)
from .snapshots import UNKNOWN, add, find, find_all, remove, resource, vllm_container, vllm_deployment

# ---------------------------------------------------------------------------------------------------------------
# The rest of pack 2: reliability and identity details, the S3 V2 resources, model reads, cost, operations and
# performance
# ---------------------------------------------------------------------------------------------------------------

PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"


def _args(*tokens, tp="4"):
    """The vLLM container's arguments: the compliant model and port with these flags (and a TP size unless None)."""
    def mutate(s):
        vllm_of(s)["args"] = ["--model", "s3://vllm-weights-prod/qwen3-8b/", "--served-model-name", "qwen3-8b",
                            *(["--tensor-parallel-size", tp] if tp else []), *tokens]
    return mutate


def _v2(type_, old_type, name):
    """The same companion resource under its V2 type name (pulumi-aws 6: BucketVersioningV2,
    BucketServerSideEncryptionConfigurationV2)."""
    def mutate(s):
        companion = find(s, old_type)
        companion["type"] = type_
        companion["urn"] = companion["urn"].replace(old_type, type_)
        companion["name"] = name
    return mutate


def _trust(condition):
    return lambda s: find(s, ROLE, READER)["props"].__setitem__("assumeRolePolicy", json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
            "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"},
            "Condition": condition}]}))


_ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/X"


def _untrusted(problem):
    return [f"Role '{READER}' reads model weights but its trust policy is not IRSA for one service account: {problem}."]


def _streamed_from(url, env=None):
    def mutate(s):
        vllm_of(s)["args"][1] = url
        if env is not None:
            vllm_of(s)["env"] = env
    return mutate


def _read_resource(*resources):
    return read_document(lambda st: st[0].__setitem__("Resource", list(resources)))


def _unknown_args_deployment():
    other = vllm_deployment(name="other")
    other["props"]["spec"]["template"]["spec"]["containers"][0]["args"] = UNKNOWN
    return other


def _second_deployment_unknown_args(s):
    add(s, _unknown_args_deployment())


def _outside_read(location):
    return (f"kubernetes:apps/v1:Deployment 'qwen3-8b-deployment' containers[vllm] reads {location}, but its role "
            f"'{READER}' (service account llm/qwen3-8b-reader) may read only ['vllm-weights-prod/qwen3-8b/*']: an "
            "AccessDenied when the pod starts. Grant the role read on that prefix (e.g. the model's LoRA adapters).")


UNUSED_GRANT = (f"Role '{READER}' may read s3://vllm-weights-prod/qwen3-8b/*, which none of its pods is told to read: "
                "grant only the prefixes the pods load (the model and its adapters).")


def _pool(requirements, taints=None):
    def mutate(s):
        spec = find(s, NODE_POOL)["props"]["spec"]["template"]["spec"]
        spec["requirements"] = requirements
        spec["taints"] = taints or []
    return mutate


_ON_DEMAND = {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]}
NO_ON_DEMAND_GPUS = ("No Karpenter NodePool offers on-demand GPU capacity (requirements karpenter.sh/capacity-type In "
                     "[on-demand] plus an nvidia.com/gpu taint or GPU instance requirements); when spot GPUs run out, "
                     "models cannot start.")


def _scaler(**changes):
    def mutate(s):
        spec = find(s, SCALED_OBJECT)["props"]["spec"]
        for key, value in changes.items():
            if key == "kind":
                spec["scaleTargetRef"]["kind"] = value
            elif key == "query":
                spec["triggers"][0]["metadata"]["query"] = value
            else:
                spec["triggers"][0][key] = value
    return mutate


NOT_SCALED = ("vLLM Deployment 'qwen3-8b-deployment' (llm/qwen3-8b) is not scaled by any KEDA ScaledObject; idle GPUs "
              "keep billing.")


def _no_queue(metric="vllm:num_requests_waiting"):
    return (f"vLLM Deployment 'qwen3-8b-deployment' is scaled by ['qwen3-8b-scaler'] but no prometheus trigger queries "
            f"{metric}.")


def _rule(expr, at=0):
    def mutate(s):
        rules = find(s, PROMETHEUS_RULE)["props"]["spec"]["groups"][0]["rules"]
        if at == len(rules):
            rules.append(dict(rules[0]))
        rules[at]["expr"] = expr
    return mutate


_TTFT = "histogram_quantile(0.95, sum by (le, model_name) (rate(vllm:time_to_first_token_seconds_bucket[5m])))"


def _too_lax(shown, target):
    return [f"The P95 time-to-first-token alert VllmSlowFirstToken ({shown} s) compares against more than the stack's "
            f"target of {target} s (policy config maxThresholdSeconds); it would not fire when answers are already "
            "slow."]


def _ignores(type_, *fields):
    return lambda s: find(s, type_)["options"].__setitem__("ignoreChanges", list(fields))


TP_DETAIL = ("vLLM container 'vllm' uses --tensor-parallel-size {tp} x pipeline {pp} x data {dp} = {n} but its "
             "nvidia.com/gpu limit is 4; they must be equal (too many fails at start, too few leaves paid GPUs idle).")

MORE_CASES = [
    # reliability: a subnet may name its zone by id (aws.ec2.Subnet availabilityZoneId, e.g. use1-az1).
    ("az-by-zone-id", "cluster-multi-az",
     lambda s: [subnet["props"].update({
                    "availabilityZone": None,
                    "availabilityZoneId": "use1-az1" if subnet["name"].endswith("a") else "use1-az2"})
                for subnet in find_all(s, SUBNET)], None, [], []),
    ("az-one-zone-id", "cluster-multi-az",
     lambda s: [subnet["props"].update({"availabilityZone": None, "availabilityZoneId": "use1-az1"})
                for subnet in find_all(s, SUBNET)], None,
     ["eks:index:Cluster 'gpu' spans 1 availability zone(s) ['use1-az1']; at least 2 are required so one zone outage "
      "does not take the service down.",
      "aws:eks/cluster:Cluster 'gpu-eksCluster' spans 1 availability zone(s) ['use1-az1']; at least 2 are required so "
      "one zone outage does not take the service down."], []),
    ("az-unknown-zones", "cluster-multi-az",
     lambda s: [subnet["props"].__setitem__("availabilityZone", UNKNOWN) for subnet in find_all(s, SUBNET)], None, [],
     ["unknown during preview: gpu subnet availability zones, gpu-eksCluster subnet availability zones"]),
    ("az-node-subnets-one-zone", "cluster-multi-az",
     lambda s: (remove(s, EKS_COMPONENT), remove(s, EKS_CLUSTER),
                [subnet["props"].__setitem__("availabilityZone", "us-east-1a") for subnet in find_all(s, SUBNET)]),
     None, ["Node subnets span 1 availability zone(s) ['us-east-1a']; at least 2 are required."], []),
    # The component's subnetIds input (eks.Cluster: "The set of all subnets, public and private") counts too.
    ("az-component-subnet-ids", "cluster-multi-az",
     lambda s: (find(s, EKS_COMPONENT)["props"].update({"privateSubnetIds": None, "publicSubnetIds": None,
                                                        "subnetIds": ["net-public-a-id"]}),
                remove(s, EKS_CLUSTER)), None,
     ["eks:index:Cluster 'gpu' spans 1 availability zone(s) ['us-east-1a']; at least 2 are required so one zone outage "
      "does not take the service down."], []),
    # An update preview shows the subnets' ids, which the cluster's vpcConfig.subnetIds names.
    ("az-cluster-subnet-ids-one-zone", "cluster-multi-az",
     lambda s: ([subnet["props"].__setitem__("id", f"subnet-{subnet['name']}") for subnet in find_all(s, SUBNET)],
                find(s, EKS_CLUSTER)["props"]["vpcConfig"].__setitem__(
                    "subnetIds", ["subnet-net-private-a", "subnet-net-public-a"])), None,
     ["aws:eks/cluster:Cluster 'gpu-eksCluster' spans 1 availability zone(s) ['us-east-1a']; at least 2 are required "
      "so one zone outage does not take the service down."], []),
    ("rollout-replicas-unknown", "vllm-rolling-update-keeps-ready-pod",
     lambda s: find(s, DEPLOYMENT)["props"]["spec"].__setitem__("replicas", UNKNOWN), None, [],
     ["unknown during preview: spec.strategy/spec.replicas"]),
    ("rollout-type-unknown", "vllm-rolling-update-keeps-ready-pod",
     lambda s: find(s, DEPLOYMENT)["props"]["spec"]["strategy"].__setitem__("type", UNKNOWN), None, [],
     ["unknown during preview: spec.strategy.type"]),
    ("rollout-max-unavailable-unknown", "vllm-rolling-update-keeps-ready-pod",
     lambda s: find(s, DEPLOYMENT)["props"]["spec"]["strategy"]["rollingUpdate"].__setitem__("maxUnavailable",
                                                                                             UNKNOWN), None, [],
     ["unknown during preview: spec.strategy.rollingUpdate.maxUnavailable"]),
    ("probe-unknown", "vllm-startup-probe-budget", lambda s: vllm_of(s).__setitem__("startupProbe", UNKNOWN), None, [],
     ["unknown during preview: startupProbe"]),
    # storage: the V2 resource types judge the same.
    ("sse-v2", "model-bucket-encrypted", _v2(
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", SSE,
        "models-weights-sse-v2"), None, [], []),
    # With a second bucket under the store, the encryption resource is tied to the model bucket by its `bucket`
    # input's dependency alone (the sibling guess needs one bucket).
    ("sse-beside-another-bucket", "model-bucket-encrypted",
     lambda s: add(s, resource(BUCKET, "models-logs", {"bucket": "vllm-logs", "tags": {"vllm-eks:purpose": "logs"}},
                               parent=find(s, BUCKET)["parent"], parent_type="vllm-eks:index:ModelStore")), None, [],
     []),
    ("managed-policy-whole-bucket", "irsa-only-model-access",
     lambda s: add(s, resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ops-attach", {
                       "role": "ops", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
                   resource("aws:iam/policy:Policy", "models-extra", {
                       "arn": "arn:aws:iam::123456789012:policy/x", "policy": json.dumps({
                           "Version": "2012-10-17", "Statement": [{
                               "Effect": "Allow", "Action": "s3:GetObject",
                               "Resource": "arn:aws:s3:::vllm-weights-prod/*"}]})}),
                   resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "models-extra-attach", {
                       "role": "vllm-qwen3-8b-reader", "policyArn": "arn:aws:iam::123456789012:policy/x"})), None,
     least_privilege("s3:GetObject covers the whole bucket 'vllm-weights-prod'; restrict it to the model's prefix"),
     []),
    ("versioning-v2", "model-bucket-versioned", _v2(
        "aws:s3/bucketVersioningV2:BucketVersioningV2", "aws:s3/bucketVersioning:BucketVersioning",
        "models-weights-versioning-v2"), None, [], []),
    ("versioning-v2-suspended", "model-bucket-versioned", lambda s: (
        find(s, "aws:s3/bucketVersioning:BucketVersioning")["props"]["versioningConfiguration"].__setitem__(
            "status", "Suspended"),
        _v2("aws:s3/bucketVersioningV2:BucketVersioningV2", "aws:s3/bucketVersioning:BucketVersioning",
            "models-weights-versioning-v2")(s)), None,
     ["Model bucket 'models-weights': versioning is not enabled (add a BucketVersioning with "
      "versioningConfiguration.status: Enabled)."], []),
    # identity: the IRSA trust ("IAM roles for service accounts", EKS user guide: StringEquals on
    # <issuer>:sub = system:serviceaccount:<namespace>:<name> and <issuer>:aud = sts.amazonaws.com).
    ("trust-sub-wildcard", "irsa-only-model-access",
     _trust({"StringEquals": {f"{_ISSUER}:sub": "system:serviceaccount:llm:*", f"{_ISSUER}:aud": "sts.amazonaws.com"}}),
     None, _untrusted("trust statement 0 sub 'system:serviceaccount:llm:*' is not one exact "
                      "system:serviceaccount:<namespace>:<name>"), []),
    ("trust-sub-like", "irsa-only-model-access",
     _trust({"StringEquals": {f"{_ISSUER}:aud": "sts.amazonaws.com"},
             "StringLike": {f"{_ISSUER}:sub": "system:serviceaccount:llm:qwen3-8b-reader"}}), None,
     _untrusted("trust statement 0 uses StringLike on sub/aud; use StringEquals") +
     _untrusted("trust statement 0 must bind exactly one service account with StringEquals <issuer>:sub (found "
                "none)"), []),
    ("trust-exact", "irsa-only-model-access",
     _trust({"StringEquals": {f"{_ISSUER}:sub": "system:serviceaccount:llm:qwen3-8b-reader",
                              f"{_ISSUER}:aud": "sts.amazonaws.com"}}), None, [], []),
    ("trust-unknown", "irsa-only-model-access",
     lambda s: find(s, ROLE, READER)["props"].__setitem__("assumeRolePolicy", UNKNOWN), None, [],
     [f"unknown during preview: {READER}.assumeRolePolicy"]),
    # model reads
    ("reads-another-bucket", "pod-reads-within-role", _streamed_from("s3://other-bucket/qwen3-8b/"), None,
     [_outside_read("s3://other-bucket/qwen3-8b"), UNUSED_GRANT], []),
    # A prefix is a directory: qwen3-8b/* does not cover qwen3-8b-instruct/ (S3 keys share the leading text).
    ("reads-a-sibling-prefix", "pod-reads-within-role", _streamed_from("s3://vllm-weights-prod/qwen3-8b-instruct/"),
     None, [_outside_read("s3://vllm-weights-prod/qwen3-8b-instruct"), UNUSED_GRANT], []),
    ("reads-under-a-star-grant", "pod-reads-within-role", _read_resource("*"), None,
     [f"Role '{READER}' may read s3://*/*, which none of its pods is told to read: grant only the prefixes the pods "
      "load (the model and its adapters)."], []),
    # Each workload is judged on its own: one whose containers or service account are unknown comes first.
    ("reads-after-an-undecided-pod", "pod-reads-within-role",
     lambda s: (_streamed_from("s3://other-bucket/qwen3-8b/")(s),
                s["resources"].insert(s["resources"].index(find(s, DEPLOYMENT)), _unknown_args_deployment())),
     None, [_outside_read("s3://other-bucket/qwen3-8b")], []),
    ("reads-after-a-pod-in-an-unknown-namespace", "pod-reads-within-role",
     lambda s: (_streamed_from("s3://other-bucket/qwen3-8b/")(s),
                s["resources"].insert(s["resources"].index(find(s, DEPLOYMENT)), vllm_deployment(
                    name="other", namespace=UNKNOWN))),
     None, [_outside_read("s3://other-bucket/qwen3-8b")], []),
    # `aws s3 cp <source> <destination>` (AWS CLI reference, "s3 cp"): a bucket-to-bucket copy reads its source only.
    ("reads-the-source-of-a-bucket-copy", "pod-reads-within-role",
     lambda s: pod_of(s)["initContainers"][0].__setitem__("command", [
         "/bin/sh", "-c", "aws s3 cp --only-show-errors s3://vllm-weights-prod/qwen3-8b/config.json "
                          "s3://other-bucket/backup/config.json"]), None, [], []),
    ("reads-a-bucket-from-env", "pod-reads-within-role",
     _streamed_from("s3://${BUCKET}/qwen3-8b/", [{"name": "BUCKET", "value": "vllm-weights-prod"}]), None, [], []),
    ("reads-a-bucket-from-env-short", "pod-reads-within-role",
     _streamed_from("s3://$BUCKET/qwen3-8b/", [{"name": "OTHER", "value": "x"},
                                              {"name": "BUCKET", "value": "vllm-weights-prod"}]), None, [], []),
    ("reads-a-bucket-not-in-env", "pod-reads-within-role", _streamed_from("s3://$BUCKET/qwen3-8b/"), None, [],
     ["unknown during preview: kubernetes:apps/v1:Deployment 'qwen3-8b-deployment' containers[vllm] bucket"]),
    ("reads-an-unknown-bucket-elsewhere", "pod-reads-within-role", _streamed_from("s3://$BUCKET/other/"), None,
     [_outside_read("s3://<unknown bucket>/other"), UNUSED_GRANT], []),
    ("reads-env-unknown", "pod-reads-within-role",
     _streamed_from("s3://$BUCKET/qwen3-8b/", [{"name": "BUCKET", "value": UNKNOWN}]), None, [],
     ["unknown during preview: kubernetes:apps/v1:Deployment 'qwen3-8b-deployment' containers"]),
    ("reads-grant-bucket-pattern", "pod-reads-within-role",
     _read_resource("arn:aws:s3:::vllm-weights-*/qwen3-8b/*"), None, [], []),
    ("reads-namespace-unknown", "pod-reads-within-role",
     lambda s: find(s, DEPLOYMENT)["props"]["metadata"].__setitem__("namespace", UNKNOWN), None, [],
     ["unknown during preview: kubernetes:apps/v1:Deployment 'qwen3-8b-deployment' service account"]),
    ("reads-beside-an-undecided-pod", "pod-reads-within-role", _second_deployment_unknown_args, None, [],
     ["unknown during preview: kubernetes:apps/v1:Deployment 'other-deployment' containers, "
      f"{READER}: what every pod reads"]),
    ("reads-permissions-unknown", "pod-reads-within-role",
     lambda s: find(s, ROLE_POLICY)["props"].__setitem__("policy", UNKNOWN), None, [],
     [f"unknown during preview: {READER} permissions"]),
    ("reads-trust-unknown", "pod-reads-within-role",
     lambda s: find(s, ROLE, READER)["props"].__setitem__("assumeRolePolicy", UNKNOWN), None, [],
     [f"unknown during preview: {READER}.assumeRolePolicy"]),
    # cost: KEDA scales the Deployment its scaleTargetRef names (kind defaults to Deployment, keda.sh "Scaling
    # Deployments, StatefulSets & Custom Resources").
    ("keda-name-unknown", "vllm-keda-autoscaling",
     lambda s: find(s, DEPLOYMENT)["props"]["metadata"].__setitem__("name", UNKNOWN), None, [],
     ["unknown during preview: qwen3-8b-deployment metadata.name/namespace"]),
    ("keda-target-unknown", "vllm-keda-autoscaling",
     lambda s: find(s, SCALED_OBJECT)["props"]["spec"]["scaleTargetRef"].__setitem__("name", UNKNOWN), None, [],
     ["unknown during preview: qwen3-8b-deployment ScaledObject"]),
    ("keda-targets-a-stateful-set", "vllm-keda-autoscaling", _scaler(kind="StatefulSet"), None, [NOT_SCALED], []),
    ("keda-targets-a-deployment", "vllm-keda-autoscaling", _scaler(kind="Deployment"), None, [], []),
    ("keda-query-unknown", "vllm-keda-autoscaling", _scaler(query=UNKNOWN), None, [],
     ["unknown during preview: qwen3-8b-deployment ScaledObject"]),
    ("keda-cpu-trigger", "vllm-keda-autoscaling", _scaler(type="cpu"), None, [_no_queue()], []),
    ("keda-other-metric", "vllm-keda-autoscaling", _scaler(query="sum(vllm:num_requests_running)"), None,
     [_no_queue()], []),
    ("keda-configured-metric", "vllm-keda-autoscaling", lambda s: None,
     {"queueMetric": "vllm:num_requests_running"}, [_no_queue("vllm:num_requests_running")], []),
    # Karpenter's well-known labels (karpenter.sh docs, "NodePools": instance-gpu-*, instance-category,
    # instance-family; node.kubernetes.io/instance-type).
    *[(f"on-demand-{key.rsplit('/', 1)[-1]}-{values[0]}", "gpu-on-demand-pool",
       _pool([_ON_DEMAND, {"key": key, "operator": "In", "values": values}]), None, [] if gpu else [NO_ON_DEMAND_GPUS],
       []) for key, values, gpu in [
        ("karpenter.k8s.aws/instance-gpu-manufacturer", ["nvidia"], True),
        ("karpenter.k8s.aws/instance-gpu-memory", ["24576"], True),
        ("karpenter.k8s.aws/instance-family", ["p5"], True),
        ("karpenter.k8s.aws/instance-family", ["gr6"], True),
        ("karpenter.k8s.aws/instance-family", ["inf2"], True),
        ("node.kubernetes.io/instance-type", ["trn1.32xlarge"], True),
        ("node.kubernetes.io/instance-type", ["G6E.xlarge"], True),
        ("node.kubernetes.io/instance-type", ["c7g.large"], False),
        ("karpenter.k8s.aws/instance-category", ["c"], False),
        ("karpenter.k8s.aws/instance-category", ["p"], True),
        ("topology.kubernetes.io/zone", ["g5"], False)]],
    ("on-demand-not-in", "gpu-on-demand-pool",
     _pool([{**_ON_DEMAND, "operator": "NotIn"}], [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]), None,
     [NO_ON_DEMAND_GPUS], []),
    ("on-demand-spot", "gpu-on-demand-pool",
     _pool([{**_ON_DEMAND, "values": ["spot"]}], [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]), None,
     [NO_ON_DEMAND_GPUS], []),
    ("on-demand-other-taint", "gpu-on-demand-pool", _pool([_ON_DEMAND], [{"key": "dedicated", "effect": "NoSchedule"}]),
     None, [NO_ON_DEMAND_GPUS], []),
    ("on-demand-unknown-requirement", "gpu-on-demand-pool",
     _pool([_ON_DEMAND, {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": UNKNOWN}]), None,
     [], ["unknown during preview: NodePool requirements"]),
    ("on-demand-after-an-unknown-pool", "gpu-on-demand-pool",
     lambda s: s["resources"].insert(s["resources"].index(find(s, NODE_POOL)), resource(NODE_POOL, "pending", {
         "metadata": {"name": "pending"}, "spec": {"template": {"spec": UNKNOWN}}})), None, [], []),
    ("on-demand-no-pool", "gpu-on-demand-pool", lambda s: remove(s, NODE_POOL), None, [NO_ON_DEMAND_GPUS], []),
    # A program on an existing cluster: its NodePools are judged where they are made.
    ("on-demand-cluster-elsewhere", "gpu-on-demand-pool",
     lambda s: (remove(s, NODE_POOL), remove(s, EKS_COMPONENT), remove(s, EKS_CLUSTER)), None, [],
     ["not in this stack, judge it where it is created: the existing cluster's Karpenter NodePools"]),
    ("s3-endpoint-type-unknown", "s3-gateway-endpoint",
     lambda s: find(s, "aws:ec2/vpcEndpoint:VpcEndpoint")["props"].__setitem__("vpcEndpointType", UNKNOWN), None, [],
     ["unknown during preview: VpcEndpoint serviceName"]),
    # An endpoint without vpcEndpointType is a Gateway (aws.ec2.VpcEndpoint: "Defaults to Gateway").
    ("s3-endpoint-default-type", "s3-gateway-endpoint",
     lambda s: find(s, "aws:ec2/vpcEndpoint:VpcEndpoint")["props"].pop("vpcEndpointType"), None, [], []),
    ("s3-endpoint-interface", "s3-gateway-endpoint",
     lambda s: find(s, "aws:ec2/vpcEndpoint:VpcEndpoint")["props"].__setitem__("vpcEndpointType", "Interface"), None,
     ["No S3 gateway VPC endpoint (aws:ec2/vpcEndpoint serviceName com.amazonaws.<region>.s3, type Gateway): multi-GB "
      "weight downloads would go through the NAT gateway and be billed per GB."], []),
    ("s3-endpoint-vpc-elsewhere", "s3-gateway-endpoint", lambda s: remove(s, "aws:ec2/vpc:Vpc"), None, [],
     ["not in this stack, judge it where it is created: the existing VPC's endpoints"]),
    ("s3-endpoint-nothing-to-judge", "s3-gateway-endpoint",
     lambda s: (remove(s, "aws:ec2/vpc:Vpc"), remove(s, BUCKET)), None, [], []),
    # operations: Prometheus comparison operators (prometheus.io docs, "Operators": > and >=).
    ("ttft-at-least", "vllm-ttft-alert", _rule(f"{_TTFT} >= 2"), {"maxThresholdSeconds": 2}, [], []),
    ("ttft-fraction-above", "vllm-ttft-alert", _rule(f"{_TTFT} > 2.5"), {"maxThresholdSeconds": 2},
     _too_lax("2.5", "2"), []),
    ("ttft-exponent", "vllm-ttft-alert", _rule(f"{_TTFT} > 1e0"), {"maxThresholdSeconds": 1}, [], []),
    ("ttft-no-threshold", "vllm-ttft-alert", _rule(_TTFT), {"maxThresholdSeconds": 1.5}, _too_lax("no", "1.5"), []),
    ("ttft-no-threshold-any-target", "vllm-ttft-alert", _rule(_TTFT), None, [], []),
    ("ttft-p95-of-another-metric", "vllm-ttft-alert",
     _rule("histogram_quantile(0.95, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket[5m]))) > 2"), None,
     ["vLLM is deployed but no PrometheusRule alerts on P95 time to first token (histogram_quantile(0.95 ... "
      "vllm:time_to_first_token_seconds_bucket ...)); slow answers would go unseen."], []),
    ("ttft-expr-unknown", "vllm-ttft-alert", _rule(UNKNOWN), None, [],
     ["unknown during preview: PrometheusRule expressions"]),
    ("ttft-unknown-then-good", "vllm-ttft-alert", lambda s: (_rule(f"{_TTFT} > 2", at=1)(s), _rule(UNKNOWN)(s)),
     None, [], []),
    ("ttft-lax-then-good", "vllm-ttft-alert", lambda s: (_rule(f"{_TTFT} > 2", at=1)(s), _rule(f"{_TTFT} > 9")(s)),
     {"maxThresholdSeconds": 2}, [], []),
    ("logging-missing-one", "eks-control-plane-logging",
     lambda s: find(s, EKS_CLUSTER)["props"].__setitem__("enabledClusterLogTypes",
                                                          ["api", "authenticator", "controllerManager", "scheduler"]),
     None, ["enabledClusterLogTypes lacks ['audit']; enable all of ['api', 'audit', 'authenticator', "
            "'controllerManager', 'scheduler'] so control-plane activity can be audited."], []),
    ("logging-component-missing-one", "eks-control-plane-logging",
     lambda s: find(s, EKS_COMPONENT)["props"]["enabledClusterLogTypes"].remove("scheduler"), None,
     ["enabledClusterLogTypes lacks ['scheduler']; enable all of ['api', 'audit', 'authenticator', "
      "'controllerManager', 'scheduler'] so control-plane activity can be audited."], []),
    ("logging-configured", "eks-control-plane-logging",
     lambda s: find(s, EKS_CLUSTER)["props"].__setitem__("enabledClusterLogTypes", ["api"]),
     {"requiredLogTypes": ["api"]}, [], []),
    ("logging-component-without-the-input", "eks-control-plane-logging",
     lambda s: find(s, EKS_COMPONENT)["props"].pop("enabledClusterLogTypes"), None, [], []),
    ("logging-one-unknown", "eks-control-plane-logging",
     lambda s: find(s, EKS_CLUSTER)["props"]["enabledClusterLogTypes"].append(UNKNOWN), None, [],
     ["unknown during preview: enabledClusterLogTypes"]),
    ("ignore-changes-nothing-allowed", "code-is-the-source-of-truth", _ignores(ROLE, "assumeRolePolicy", "tags"),
     None, ["ignoreChanges ['assumeRolePolicy', 'tags'] lets changes made outside the code stay: the program would no "
            "longer describe this resource. Allowed here: nothing (policy config allowedIgnoreChanges)."], []),
    ("ignore-changes-beside-replicas", "code-is-the-source-of-truth",
     _ignores(DEPLOYMENT, "spec.replicas", "spec.template"), None,
     ["ignoreChanges ['spec.template'] lets changes made outside the code stay: the program would no longer describe "
      "this resource. Allowed here: ['spec.replicas'] (policy config allowedIgnoreChanges)."], []),
    ("ignore-changes-configured", "code-is-the-source-of-truth", _ignores(ROLE, "tags"),
     {"allowedIgnoreChanges": {ROLE: ["tags"]}}, [], []),
    # performance: vLLM shards over tensor x pipeline x data parallel ranks (vLLM docs, "Parallelism and Scaling";
    # -tp, -pp and -dp are the short flags of vllm/engine/arg_utils.py).
    ("tp-limit-unknown", "vllm-tensor-parallel-matches-gpus",
     lambda s: vllm_of(s)["resources"]["limits"].__setitem__("nvidia.com/gpu", UNKNOWN), None, [],
     ["unknown during preview: vllm.resources.limits"]),
    ("tp-one-arg-unknown", "vllm-tensor-parallel-matches-gpus", _args(UNKNOWN), None, [],
     ["unknown during preview: vllm parallelism flags"]),
    ("tp-times-pipeline", "vllm-tensor-parallel-matches-gpus", _args("-tp", "2", "-pp", "2", tp=None), None, [], []),
    ("tp-times-data", "vllm-tensor-parallel-matches-gpus", _args("--data-parallel-size=2", tp="2"), None, [], []),
    ("tp-times-data-short", "vllm-tensor-parallel-matches-gpus", _args("-dp", "2"), None,
     [TP_DETAIL.format(tp=4, pp=1, dp=2, n=8)], []),
    ("tp-times-pipeline-too-few", "vllm-tensor-parallel-matches-gpus", _args("--pipeline-parallel-size", "3", tp="1"),
     None, [TP_DETAIL.format(tp=1, pp=3, dp=1, n=3)], []),
    ("tp-default-one", "vllm-tensor-parallel-matches-gpus", _args(tp=None), None,
     ["vLLM container 'vllm' uses --tensor-parallel-size 1 but its nvidia.com/gpu limit is 4; they must be equal (too "
      "many fails at start, too few leaves paid GPUs idle)."], []),
    # Each vLLM container is judged on its own: a CPU build without GPUs first, then a mismatched one.
    ("tp-after-a-cpu-container", "vllm-tensor-parallel-matches-gpus",
     lambda s: (vllm_of(s)["resources"]["limits"].__setitem__("nvidia.com/gpu", "2"),
                pod_of(s)["containers"].insert(0, vllm_container(
                    name="cpu", args=["--model", "s3://vllm-weights-prod/qwen3-8b/"],
                    resources={"limits": {"memory": "8Gi"}}))),
     None, ["vLLM container 'vllm' uses --tensor-parallel-size 4 but its nvidia.com/gpu limit is 2; they must be equal "
            "(too many fails at start, too few leaves paid GPUs idle)."], []),
    ("utilization-default", "vllm-gpu-memory-utilization-range", _args(), None, [], []),
    ("utilization-default-below-the-range", "vllm-gpu-memory-utilization-range", _args(), {"minUtilization": 0.91},
     ["vLLM container 'vllm' --gpu-memory-utilization is unset (vLLM default 0.9); keep it within 0.91-0.95 (policy "
      "config minUtilization/maxUtilization)."], []),
    ("utilization-at-the-top", "vllm-gpu-memory-utilization-range", _args("--gpu-memory-utilization", "0.95"), None,
     [], []),
    ("utilization-at-the-bottom", "vllm-gpu-memory-utilization-range", _args("--gpu-memory-utilization=0.85"), None,
     [], []),
    ("utilization-above", "vllm-gpu-memory-utilization-range", _args("--gpu-memory-utilization", "0.96"), None,
     ["vLLM container 'vllm' --gpu-memory-utilization is 0.96; keep it within 0.85-0.95 (policy config "
      "minUtilization/maxUtilization)."], []),
    ("utilization-unknown", "vllm-gpu-memory-utilization-range", _args("--gpu-memory-utilization", UNKNOWN), None, [],
     ["unknown during preview: vllm --gpu-memory-utilization"]),
]


@pytest.mark.parametrize("policy, mutation, config, messages, reasons", [c[1:] for c in MORE_CASES],
                         ids=[c[0] for c in MORE_CASES])
def test_more_branches(check, policy, mutation, config, messages, reasons):
    """Sources: the AWS, Kubernetes, Karpenter, KEDA, Prometheus and vLLM documents each case names."""
    run_case(check, policy, mutation, config, messages, reasons)
