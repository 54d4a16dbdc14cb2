"""Parity of `preflight check` with `pulumi preview --policy-pack policies`: the inputs the real engine sends,
built from the upstream source each test names (not from our own render), go through the pack, and the verdict is
compared with the offline gate's.
"""

from __future__ import annotations

import pytest

from preflight.gate import TITLES, run_gate
from .snapshots import UNKNOWN, find, mutated

EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/k1"


def _as_engine_presents_remote_component(s):
    """pulumi-eks constructs `eks:index:Cluster` in its provider, which bundles @pulumi/pulumi 3.x whose
    ComponentResource registers itself without its args (pulumi/pulumi sdk/nodejs/resource.ts, pulumi/pulumi#10533):
    Analyze receives `{}` for the component. The program's inputs stay aside for the offline-only checks."""
    component = find(s, EKS_COMPONENT)
    component["offlineOnlyProgramInputs"] = component["props"]
    component.update({"props": {}, "remote": True})


def _eks_child(endpoint_public=None, cidrs=None, key_arn=None, log_types=None) -> dict:
    """`aws:eks/cluster:Cluster` inputs as pulumi-eks builds them (pulumi/pulumi-eks nodejs/eks/cluster/cluster.ts):
    vpcConfig carries endpointPrivateAccess/endpointPublicAccess as given and publicAccessCidrs only when given;
    encryptionConfig exists only `if (args.encryptionConfigKeyArn)`, as `{provider: {keyArn}, resources: ["secrets"]}`;
    enabledClusterLogTypes as given. Inputs left undefined are not sent at all."""
    vpc = {"subnetIds": ["net-private-a-id", "net-private-b-id"], "endpointPrivateAccess": True}
    if endpoint_public is not None:
        vpc["endpointPublicAccess"] = endpoint_public
    if cidrs is not None:
        vpc["publicAccessCidrs"] = cidrs
    props = {"vpcConfig": vpc}
    if key_arn is not None:
        props["encryptionConfig"] = UNKNOWN if key_arn is UNKNOWN else {
            "provider": {"keyArn": key_arn}, "resources": ["secrets"]}
    if log_types is not None:
        props["enabledClusterLogTypes"] = log_types
    return props


def _with_child(**child):
    def mutate(s):
        _as_engine_presents_remote_component(s)
        find(s, EKS_CLUSTER)["props"] = _eks_child(**child)
    return mutate


COMPLIANT_CHILD = dict(endpoint_public=False, key_arn=KEY_ARN,
                       log_types=["api", "audit", "authenticator", "controllerManager", "scheduler"])


def test_remote_component_with_empty_inputs_is_not_judged(check):
    """The real preview's input for a remote component ({}) fails no policy; its compliant child passes."""
    result = check(mutated(_with_child(**COMPLIANT_CHILD)))
    assert result.violations == [], [(v.policy_name, v.resource_name, v.message) for v in result.violations]


@pytest.mark.parametrize("child, policy", [
    ({**COMPLIANT_CHILD, "endpoint_public": None}, "eks-endpoint-private"),  # AWS default: public to 0.0.0.0/0
    ({**COMPLIANT_CHILD, "endpoint_public": True, "cidrs": ["0.0.0.0/0"]}, "eks-endpoint-private"),
    ({**COMPLIANT_CHILD, "key_arn": None}, "eks-secrets-encrypted"),
    ({**COMPLIANT_CHILD, "log_types": None}, "eks-control-plane-logging"),
], ids=["endpoint-default", "endpoint-open", "no-encryption", "no-logs"])
def test_aws_child_of_remote_component_is_judged(check, child, policy):
    result = check(mutated(_with_child(**child)))
    assert {v.policy_name for v in result.violations} == {policy}
    [violation] = result.violations
    assert violation.resource_type == EKS_CLUSTER


def test_child_encryption_unknown_at_first_preview_is_not_judged(check):
    """cluster.ts builds encryptionConfig with `pulumi.output(args.encryptionConfigKeyArn).apply(...)`: on a first
    preview the KMS key does not exist yet, so the whole encryptionConfig is unknown: "cannot judge yet"."""
    result = check(mutated(_with_child(**{**COMPLIANT_CHILD, "key_arn": UNKNOWN})))
    assert not result.violations
    assert "eks-secrets-encrypted" in {item["policy"] for item in result.not_applicable}


def test_offline_gate_judges_the_programs_own_inputs_with_pulumi_eks_defaults(pack):
    """What the real preview cannot see (component inputs) the offline gate judges, with pulumi-eks' defaults for
    inputs left out: endpointPublicAccess true, nodeAssociatePublicIpAddress `?? true` with the default node group,
    no encryptionConfig without encryptionConfigKeyArn (pulumi/pulumi-eks nodejs/eks/cluster/cluster.ts,
    nodejs/eks/nodes/nodegroup.ts)."""
    def left_out(s):
        _with_child(**COMPLIANT_CHILD)(s)
        inputs = find(s, EKS_COMPONENT)["offlineOnlyProgramInputs"]
        for key in ("endpointPublicAccess", "encryptionConfigKeyArn", "skipDefaultNodeGroup"):
            inputs.pop(key)
    gate = run_gate(pack, applied=mutated(left_out))
    assert gate.checks["applied"].violations == []
    offline = {(v.policy_name, v.resource_type) for v in gate.checks["offlineOnly"].violations}
    assert offline == {("eks-endpoint-private", EKS_COMPONENT), ("eks-secrets-encrypted", EKS_COMPONENT),
                       ("no-public-node-ips", EKS_COMPONENT)}
    assert not gate.passed


def test_offline_gate_quiet_when_the_program_sets_everything(pack):
    gate = run_gate(pack, applied=mutated(_with_child(**COMPLIANT_CHILD)))
    assert gate.passed and gate.checks["offlineOnly"].violations == []


def test_render_records_remote_components_as_the_engine_presents_them(prod_snapshot):
    [cluster] = [r for r in prod_snapshot["resources"] if r["type"] == EKS_COMPONENT]
    assert cluster["remote"] is True and cluster["props"] == {} and cluster["propertyDependencies"] == {}
    assert cluster["offlineOnlyProgramInputs"]["endpointPublicAccess"] is False
    assert all(not r["remote"] for r in prod_snapshot["resources"] if r["type"].startswith("aws:"))


# ---------------------------------------------------------------------------------------------------------------
# A first preview: unknowns where the engine has them, gated separately from the applied stack
# ---------------------------------------------------------------------------------------------------------------

import re  # noqa: E402
from pathlib import Path  # noqa: E402

from rendered import rendered, rendered_first_preview  # noqa: E402

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.fixture(scope="module")
def gates(pack):
    cache = {}

    def gate(stack):
        if stack not in cache:
            cache[stack] = run_gate(pack, preview=rendered_first_preview(stack), applied=rendered(stack))
        return cache[stack]
    return gate


def _deferred(result) -> set[str]:
    return {item["policy"] for item in result.not_applicable if item["reason"].startswith("unknown during preview")}


def test_first_preview_render_has_unknowns_where_the_engine_has_them():
    """A first preview of a new stack: the bucket is auto-named, so its name is unknown, and the vLLM argument list
    built from it is unknown as a whole (pulumi/pulumi sdk/python/lib/pulumi/output.py: an apply over an unknown
    is unknown); the applied render knows every value."""
    preview, applied = rendered_first_preview("prod"), rendered("prod")
    bucket = next(r for r in preview["resources"] if r["type"] == "aws:s3/bucket:Bucket" and r["name"] == "models-weights")
    assert preview["preview"] is True and applied["preview"] is False
    vllm = next(r for r in preview["resources"] if r["name"] == "vllm-qwen3-8b-deployment")
    assert vllm["props"]["spec"]["template"]["spec"]["containers"][0]["args"] == UNKNOWN
    assert "bucket" not in bucket["props"] and preview["outputs"]["modelBucket"] == UNKNOWN
    assert applied["outputs"]["modelBucket"].startswith("vllm-weights-")
    assert UNKNOWN not in str([r["props"] for r in applied["resources"]])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_dev_and_prod_pass_first_preview_and_applied_with_no_mandatory_violation(gates, stack):
    gate = gates(stack)
    assert set(gate.checks) == {"firstPreview", "applied", "offlineOnly"}
    for name, result in gate.checks.items():
        mandatory = [(v.policy_name, v.resource_name, v.message) for v in result.violations
                     if v.enforcement_level == "mandatory"]
        assert not mandatory, (name, mandatory)
    assert gate.passed


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_readme_lists_exactly_what_a_first_preview_cannot_judge(gates, stack):
    row = re.search(rf"^\| {stack} \| (.+) \|$", README, flags=re.M)
    assert row, f"README has no row for {stack} under 'Checks the real CLI makes only during `pulumi up`'"
    listed = set(re.findall(r"`([a-z0-9-]+)`", row.group(1)))
    assert listed == _deferred(gates(stack).checks["firstPreview"])
    assert not _deferred(gates(stack).checks["applied"])


def test_the_report_names_under_the_first_preview_what_only_pulumi_up_judges(gates):
    """The text report (`python -m preflight check`) says it where it applies: in the first preview's section."""
    from preflight.gate import format_gate

    gate = gates("dev")
    sections = dict(part.split(" ==\n", 1) for part in format_gate(gate).split("== ")[1:])
    line = "judged only during `pulumi up` by the real CLI (values unknown at preview): "
    deferred = sorted(_deferred(gate.checks["firstPreview"]))
    assert deferred and (line + ", ".join(deferred)) in sections[TITLES["firstPreview"]]
    assert [title for title, text in sections.items() if line in text] == [TITLES["firstPreview"]]


def test_waf_is_judged_at_preview_from_the_engines_property_dependencies(check):
    """webAclId is the ACL's ARN, unknown until it exists; the engine's propertyDependencies name the ACL at preview
    (pulumi/pulumi pkg/resource/deploy/step_generator.go sends them to AnalyzeStack)."""
    preview = rendered_first_preview("dev")
    [distribution] = [r for r in preview["resources"] if r["type"] == "aws:cloudfront/distribution:Distribution"]
    assert distribution["props"]["webAclId"] == UNKNOWN
    result = check(preview)
    assert "edge-waf-on-public-entry" not in _deferred(result) and not result.by_policy("edge-waf-on-public-entry")

    def not_an_acl(s):
        target = next(r for r in s["resources"] if r["type"] == "aws:cloudfront/distribution:Distribution")
        target["propertyDependencies"]["webAclId"] = [next(
            r["urn"] for r in s["resources"] if r["type"] == "aws:s3/bucket:Bucket")]
    assert "edge-waf-on-public-entry" in _deferred(check(mutated(not_an_acl, preview)))


# ---------------------------------------------------------------------------------------------------------------
# What Analyze / AnalyzeStack carry
# ---------------------------------------------------------------------------------------------------------------

from preflight.analyzer_protocol import analyze_request, analyze_stack_request, engine_view  # noqa: E402


@pytest.mark.parametrize("preview", [False, True], ids=["applied", "first-preview"])
def test_provider_is_the_full_reference_split_on_the_last_separator(preview):
    """A provider reference is "<URN>::<id>" and the URN itself contains "::": ParseReference splits on the LAST
    separator (pulumi/pulumi sdk/go/common/providers/reference.go); on a first preview the id is unknown
    (UnknownID, same file). Every resource's provider must resolve to a provider the engine knows."""
    snapshot = rendered_first_preview("prod") if preview else rendered("prod")
    resources = engine_view(snapshot)
    by_urn = {r["urn"]: r for r in resources}
    explicit = 0
    for resource in resources:
        reference = resource["options"].get("provider")
        if not reference:
            assert resource["type"].startswith(("pulumi:", "vllm-eks:")), resource["urn"]
            continue
        urn, provider_id = reference.rsplit("::", 1)
        assert (provider_id == UNKNOWN) == preview, reference
        sent = analyze_request(resource, by_urn).provider
        assert sent.urn == urn and urn in by_urn and sent.type == by_urn[urn]["type"], resource["urn"]
        explicit += by_urn[urn]["name"] == "cluster-k8s"
    assert explicit >= 30  # the Kubernetes objects on the cluster's explicit provider


def test_analyze_stack_sends_outputs_the_stack_default_providers_and_component_outputs():
    """AnalyzeStack carries every resource in the deployment with its outputs: the Stack (outputs = exports), the
    default providers the engine registers itself (pkg/resource/deploy/default_providers.go: inputs = the package's
    stack config plus version), components with the outputs they registered (step_generator.go AnalyzeResources)."""
    snapshot = rendered("prod")
    resources = engine_view(snapshot)
    request = analyze_stack_request(resources, {r["urn"]: r for r in resources})
    sent = {r.urn: r for r in request.resources}
    stack = next(r for r in request.resources if r.type == "pulumi:pulumi:Stack")
    # The entries the engine adds have the options every program resource has, so one reader serves all of them.
    assert [r["urn"] for r in resources if not {"protect", "provider", "dependsOn"} <= set(r["options"])] == []
    assert stack.name == "vllm-eks-prod" and stack.properties["clusterName"] == "vllm-eks-prod"
    aws = next(r for r in request.resources if r.type == "pulumi:providers:aws")
    assert aws.name.startswith("default_7_") and aws.properties["region"] == "us-east-1" and not aws.parent
    bucket = next(r for r in snapshot["resources"] if r["type"] == "aws:s3/bucket:Bucket")
    assert "bucket" not in bucket["props"]  # auto-named: only the provider's answer names it
    assert sent[bucket["urn"]].properties["bucket"] == snapshot["outputs"]["modelBucket"]
    store = next(r for r in snapshot["resources"] if r["type"] == "vllm-eks:index:ModelStore")
    assert sent[store["urn"]].properties["bucket_name"] == snapshot["outputs"]["modelBucket"]
    assert sent[store["urn"]].parent == stack.urn
    # The parent travels twice, on the resource and in its options (pulumi/pulumi sdk/go/common/resource/plugin/
    # analyzer_plugin.go marshalResourceOptions: `Parent: string(opts.Parent)`); pulumi-policy reads both.
    assert sent[store["urn"]].options.parent == stack.urn
    assert sent[bucket["urn"]].parent == sent[bucket["urn"]].options.parent == store["urn"]
    assert analyze_request(bucket, {}).options.parent == store["urn"]
    assert "bucket" not in analyze_request(bucket, {}).properties  # Analyze: inputs only


def test_custom_timeouts_reach_the_pack_in_seconds_as_the_engine_sends_them():
    """The vLLM Deployment waits up to 40 minutes (ResourceOptions custom_timeouts "40m"): the SDK registers the Go
    duration string, the engine parses it (time.ParseDuration) and gives a policy pack seconds
    (pkg/resource/deploy/source_eval.go; AnalyzerResourceOptions.CustomTimeouts)."""
    snapshot = rendered("prod")
    resources = engine_view(snapshot)
    deployment = next(r for r in resources if r["type"] == "kubernetes:apps/v1:Deployment" and r["name"].startswith("vllm-"))
    timeouts = analyze_request(deployment, {r["urn"]: r for r in resources}).options.customTimeouts
    assert (timeouts.create, timeouts.update, timeouts.delete) == (2400, 2400, 0)


@pytest.mark.parametrize("preview", [True, False], ids=["first-preview", "update"])
def test_every_parent_sent_to_the_stack_policies_is_among_the_resources(preview):
    """The engine registers a resource only after its parent (pulumi/pulumi pkg/resource/deploy/step_generator.go
    checkParent: "could not find parent resource") and AnalyzeStack sends every resource of the deployment
    (AnalyzeResources), so pulumi-policy links each resource to its parent object (policy.py AnalyzeStack) and the
    pack's StackView.parent_urn reads that link alone. The harness sends the same: no parent outside the request."""
    snapshot = rendered_first_preview("prod") if preview else rendered("prod")
    resources = engine_view(snapshot)
    request = analyze_stack_request(resources, {r["urn"]: r for r in resources})
    urns = {r.urn for r in request.resources}
    parented = [r for r in request.resources if r.parent]
    assert [r.urn for r in parented if r.parent not in urns] == []
    assert [r.urn for r in request.resources if not r.parent] == [
        r.urn for r in request.resources if r.type == "pulumi:pulumi:Stack"
        or (r.type.startswith("pulumi:providers:") and r.name.startswith("default_"))]  # the engine's own
    assert len(parented) > 100
