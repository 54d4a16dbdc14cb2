"""Every custom rule of `stack_config.py`: the value on each side of its edge, and the whole error line (setting,
bad value, what is allowed). The bounds of plain numeric fields are in tests/test_stack_config.py BOUNDARIES."""

from __future__ import annotations

import pytest

from test_stack_config import _problems, sections_of
from stack_config import (
    StackConfigError,
    _known_settings,
    _path,
    foreign_account_errors,
    load_stack_config,
    project_sections,
)

_S3_RULE = ("lowercase letters, digits, '.', '_' and '-' in '/'-separated segments that each start with a letter or "
            "digit (no '..' segment), no leading or trailing /")
_PRIVATE_BLOCK = "expected a private IPv4 block from /16 to /20 (RFC 1918)"
_SECRET_PATTERN = "^ecr-pullthroughcache/[A-Za-z0-9/_+=.@-]{1,491}$"
_IMAGE_REFERENCE = "expected an image reference such as vllm/vllm-openai:v0.32.0 or ...:v0.32.0@sha256:<64 hex>"
_UNPINNED = "expected an image pinned to a release tag or digest (never latest or untagged)"
_SG = "expected security group ids such as sg-0123456789abcdef0"
_ADMIN = "expected an IAM role or user ARN such as arn:aws:iam::123456789012:role/Admin"
_SNS = "expected an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:vllm-alerts"
_CRON = "expected a five-field cron expression such as '0 8 * * 1-5'"
_NO_HF = {"models[0].huggingFaceId": None, "models[0].syncFromHuggingFace": False}

# (changes to prod, the problems expected; [] = accepted). Sources: RFC 1918 private ranges and EKS's two-zone
# subnet rule (EKS User Guide, "VPC and subnet requirements"); ECR User Guide, "Creating a pull through cache rule"
# (the credential secret's name starts ecr-pullthroughcache/) and Secrets Manager's 512-character name limit (CreateSecret
# API reference), leaving 491 after the prefix; EC2 API reference, security group ids sg- + 8 or 17 lowercase hex
# characters; IAM User Guide, "IAM identifiers" (role/user ARNs with paths, 12-digit account, partitions aws, aws-cn,
# aws-us-gov); OCI distribution spec, tag `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`; SNS CreateTopic, names of 1 to 256
# letters, digits, '_' and '-'; Route 53 hosted zone ids of at most 32 characters starting Z; KEDA cron scaler,
# five-field cron; CloudFront developer guide, certificates in us-east-1 only.
CASES = [
    ({"network.cidr": "10.0.0.0/20"}, []),
    ({"network.cidr": "172.16.0.0/16"}, []),
    ({"network.cidr": "10.0.0.0/15"}, [f"network.cidr: got '10.0.0.0/15', {_PRIVATE_BLOCK}"]),
    ({"network.cidr": "10.0.0.0/21"}, [f"network.cidr: got '10.0.0.0/21', {_PRIVATE_BLOCK}"]),
    ({"network.cidr": "100.64.0.0/16"}, [f"network.cidr: got '100.64.0.0/16', {_PRIVATE_BLOCK}"]),
    ({"network.cidr": "fd00::/16"}, [f"network.cidr: got 'fd00::/16', {_PRIVATE_BLOCK}"]),
    ({"network.cidr": "not-a-cidr"}, ["network.cidr: got 'not-a-cidr', expected an IPv4 CIDR block such as 10.0.0.0/16"]),
    ({"network.availabilityZones": 1},
     ["network.availabilityZones: got 1, expected an integer >= 2 (one private subnet per zone; the private EKS cluster "
      "needs private subnets in at least 2 zones)"]),
    # YAML `true` is not a zone count: pydantic's own bound answers it, not the subnet rule meant for integers
    ({"network.availabilityZones": True}, ["network.availabilityZones: got True, expected an integer >= 2"]),
    ({"cluster.systemNodes.maxSize": 2}, ["cluster.systemNodes.maxSize: got 2, expected an integer >= minSize (3)"]),
    ({"cluster.dockerHubCredentialsSecretName": "ecr-pullthroughcache/" + "a" * 491}, []),
    ({"cluster.dockerHubCredentialsSecretName": "ecr-pullthroughcache/" + "a" * 492},
     [f"cluster.dockerHubCredentialsSecretName: got 'ecr-pullthroughcache/{'a' * 492}', expected a string matching {_SECRET_PATTERN}"]),
    ({"cluster.githubCredentialsSecretName": "ecr-pullthroughcache/"},
     [f"cluster.githubCredentialsSecretName: got 'ecr-pullthroughcache/', expected a string matching {_SECRET_PATTERN}"]),
    ({"cluster.githubCredentialsSecretName": "github"},
     [f"cluster.githubCredentialsSecretName: got 'github', expected a string matching {_SECRET_PATTERN}"]),
    ({"cluster.huggingFaceTokenSecretName": "a" * 512}, []),
    ({"cluster.huggingFaceTokenSecretName": "a" * 513},
     [f"cluster.huggingFaceTokenSecretName: got '{'a' * 513}', expected a string matching ^[A-Za-z0-9/_+=.@-]{{1,512}}$"]),
    ({"cluster.huggingFaceTokenSecretName": ""},
     ["cluster.huggingFaceTokenSecretName: got '', expected a string matching ^[A-Za-z0-9/_+=.@-]{1,512}$"]),
    ({"cluster.endpointPublicAccess": True, "cluster.publicAccessCidrs": ["0.0.0.0/1"]}, []),
    ({"cluster.publicAccessCidrs": ["nope"]},
     ["cluster.publicAccessCidrs: got ['nope'], expected a list of CIDR blocks such as 203.0.113.0/24"]),
    ({"cluster.publicAccessCidrs": ["0.0.0.0/0"]},
     ["cluster.publicAccessCidrs: got ['0.0.0.0/0'], expected restricted CIDR blocks, never 0.0.0.0/0"]),
    ({"cluster.endpointPublicAccess": True, "cluster.publicAccessCidrs": []},
     ["cluster.publicAccessCidrs: got [], expected at least one CIDR block when endpointPublicAccess is true"]),
    ({"cluster.deployerCidrs": ["0.0.0.0/1", "10.20.0.0/16"]}, []),
    ({"cluster.deployerCidrs": ["nope"]},
     ["cluster.deployerCidrs: got ['nope'], expected a list of CIDR blocks such as 10.20.0.0/16 (your VPN or CI runner network)"]),
    ({"cluster.deployerCidrs": ["10.0.0.0/8", "::/0"]},
     ["cluster.deployerCidrs: got ['10.0.0.0/8', '::/0'], expected restricted CIDR blocks, never 0.0.0.0/0"]),
    ({"cluster.deployerSecurityGroupIds": ["sg-01234567", "sg-0123456789abcdef0"]}, []),
    ({"cluster.deployerSecurityGroupIds": ["sg-0123456"]}, [f"cluster.deployerSecurityGroupIds: got ['sg-0123456'], {_SG}"]),
    ({"cluster.deployerSecurityGroupIds": ["sg-01234567", "sg-0123456789abcdef01"]},
     [f"cluster.deployerSecurityGroupIds: got ['sg-01234567', 'sg-0123456789abcdef01'], {_SG}"]),
    ({"cluster.deployerSecurityGroupIds": ["sg-0123456789ABCDEF0"]},
     [f"cluster.deployerSecurityGroupIds: got ['sg-0123456789ABCDEF0'], {_SG}"]),
    ({"cluster.adminPrincipalArn": "arn:aws:iam::123456789012:user/ops/alice"}, []),
    ({"cluster.adminPrincipalArn": "arn:aws-cn:iam::123456789012:role/Admin"}, []),
    ({"cluster.adminPrincipalArn": "arn:aws:iam::123456789012:group/Admins"},
     [f"cluster.adminPrincipalArn: got 'arn:aws:iam::123456789012:group/Admins', {_ADMIN}"]),
    ({"cluster.adminPrincipalArn": "arn:aws:iam::12345678901:role/Admin"},
     [f"cluster.adminPrincipalArn: got 'arn:aws:iam::12345678901:role/Admin', {_ADMIN}"]),
    # ALB target group names: at most 32 characters (ELB API CreateTargetGroup); "edge-" + name + Pulumi's 8-character
    # autoname suffix leaves 19 for the model's name.
    ({"models[0].name": "a" * 19, "models[0].servedName": "a"}, []),
    ({"models[0].name": "a" * 20, "models[0].servedName": "a"},
     [f"models[0].name: got '{'a' * 20}', expected at most 19 characters (got 20): the model's load balancer target group "
      "is named 'edge-<name>-<7 random>', and AWS limits target group names to 32"]),
    ({"models[0].name": "-abc"},
     ["models[0].name: got '-abc', expected a string matching ^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$"]),
    ({"models[0].servedName": "Q" * 128}, []),
    ({"models[0].servedName": "Q" * 129},
     [f"models[0].servedName: got '{'Q' * 129}', expected a string matching ^[A-Za-z0-9][A-Za-z0-9._/-]{{0,127}}$"]),
    ({"models[0].servedName": "/q"}, ["models[0].servedName: got '/q', expected a string matching ^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$"]),
    ({"models[0].s3Prefix": "models/a.b_c-d/e"}, []),
    *[({"models[0].s3Prefix": bad}, [f"models[0].s3Prefix: got {bad!r}, expected a relative S3 key prefix such as "
                                     f"models/qwen3-8b: {_S3_RULE}"])
      for bad in ("models/../x", "/models/x", "models/x/", "Models/x", ".hidden")],
    ({"models[0].s3Prefix": None}, []),  # prod names a huggingFaceId: the default prefix models/<name> holds its copy
    ({**_NO_HF, "models[0].s3Prefix": None},
     ["models[0].s3Prefix: got None, expected an S3 prefix, or a huggingFaceId to sync into the default prefix"]),
    ({**_NO_HF, "models[0].syncFromHuggingFace": True},
     ["models[0].syncFromHuggingFace: got True, expected false unless huggingFaceId names the model to copy"]),
    ({"models[0].syncFromHuggingFace": True}, []),
    ({"models[0].image": "vllm/vllm-openai@sha256:" + "a" * 64}, []),
    ({"models[0].image": "vllm/vllm-openai:" + "v" * 128}, []),
    ({"models[0].image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/vllm:v0.32.0@sha256:" + "0" * 64}, []),
    ({"models[0].image": "vllm/vllm-openai:" + "v" * 129}, [f"models[0].image: got 'vllm/vllm-openai:{'v' * 129}', {_IMAGE_REFERENCE}"]),
    ({"models[0].image": "Vllm/vllm-openai:v1"}, [f"models[0].image: got 'Vllm/vllm-openai:v1', {_IMAGE_REFERENCE}"]),
    ({"models[0].image": "vllm/vllm-openai@sha256:abc"}, [f"models[0].image: got 'vllm/vllm-openai@sha256:abc', {_IMAGE_REFERENCE}"]),
    ({"models[0].image": "vllm/vllm-openai:latest"}, [f"models[0].image: got 'vllm/vllm-openai:latest', {_UNPINNED}"]),
    ({"models[0].image": "vllm/vllm-openai"}, [f"models[0].image: got 'vllm/vllm-openai', {_UNPINNED}"]),
    ({"models[0].image": "vllm/vllm-openai:latest@sha256:" + "b" * 64}, []),  # the digest pins it
    ({"models[0].thinking": True, "models[0].catalogModel": "llama-3.1-8b"},
     ["models[0].thinking: got True, expected false or unset: llama-3.1-8b has no thinking mode (models with one: "
      "qwen3-1.7b, qwen3-32b, qwen3-8b)"]),
    ({"models[0].thinking": False, "models[0].catalogModel": "llama-3.1-8b"}, []),
    ({"models[0].thinking": True}, []),  # qwen3-8b has enable_thinking
    ({"models[0].loraAdapters": [{"name": "sql", "s3Prefix": "a/sql"}, {"name": "sql", "s3Prefix": "a/sql2"},
                                 {"name": "chat", "s3Prefix": "a/chat"}]},
     ["models[0].loraAdapters: got [{'name': 'sql', 's3Prefix': 'a/sql'}, {'name': 'sql', 's3Prefix': 'a/sql2'}, "
      "{'name': 'chat', 's3Prefix': 'a/chat'}], expected adapters with unique names, but ['sql'] repeat"]),
    ({"models[0].loraAdapters": [{"name": "sql", "s3Prefix": "../sql"}]},
     [f"models[0].loraAdapters[0].s3Prefix: got '../sql', expected a relative S3 key prefix such as loras/my-adapter: {_S3_RULE}"]),
    ({"models[0].loraAdapters": [{"name": "a" * 40, "s3Prefix": "a/sql"}]}, []),
    ({"models[0].loraAdapters": [{"name": "a" * 41, "s3Prefix": "a/sql"}]},
     [f"models[0].loraAdapters[0].name: got '{'a' * 41}', expected a string matching ^[a-z0-9]([-a-z0-9]{{0,38}}[a-z0-9])?$"]),
    ({"autoscaling.workingHours": {"timezone": "Europe/Berlin", "start": "0 8 * * 1-5", "end": "30 18 * * 1-5"}}, []),
    ({"autoscaling.workingHours": {"start": "0 8 * *"}}, [f"autoscaling.workingHours.start: got '0 8 * *', {_CRON}"]),
    ({"autoscaling.workingHours": {"end": "0 8 * * 1-5 2026"}}, [f"autoscaling.workingHours.end: got '0 8 * * 1-5 2026', {_CRON}"]),
    ({"observability.alerting": {"snsTopicArn": "arn:aws:sns:us-east-1:123456789012:" + "a" * 256}}, []),
    ({"observability.alerting": {"snsTopicArn": "arn:aws:sns:us-east-1:123456789012:" + "a" * 257}},
     [f"observability.alerting.snsTopicArn: got 'arn:aws:sns:us-east-1:123456789012:{'a' * 257}', {_SNS}"]),
    ({"observability.alerting": {"snsTopicArn": "arn:aws:sqs:us-east-1:123456789012:alerts"}},
     [f"observability.alerting.snsTopicArn: got 'arn:aws:sqs:us-east-1:123456789012:alerts', {_SNS}"]),
    ({"observability.alerting": {}},
     ["observability.alerting.snsTopicArn: got None, expected an SNS topic ARN for Alertmanager (without it every alert "
      "goes to the null receiver); set observability.alerting.allowNoReceiver: true only for a stack nobody is paged for"]),
    ({"observability.alerting": {"allowNoReceiver": True}}, []),
    ({"edge.hostedZoneId": "Z" + "A" * 31}, []),
    ({"edge.hostedZoneId": "Z" + "A" * 32}, [f"edge.hostedZoneId: got 'Z{'A' * 32}', expected a string matching ^Z[A-Z0-9]{{1,31}}$"]),
    ({"edge.hostedZoneId": "Z"}, ["edge.hostedZoneId: got 'Z', expected a string matching ^Z[A-Z0-9]{1,31}$"]),
    ({"edge.domainName": None},
     ["edge.certificateArn: got 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', "
      "expected no certificate unless domainName is set"]),
    ({"edge.certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"},
     ["edge.certificateArn: got 'arn:aws:acm:eu-west-1:123456789012:certificate/abc', expected an ACM certificate ARN in "
      "us-east-1 (CloudFront only reads certificates there)"]),
    ({"edge.certificateArn": None},
     ["edge.certificateArn: got None, expected an ACM certificate ARN in us-east-1 for domainName (CloudFront serves it over HTTPS)"]),
    ({"edge.certificateArn": None, "edge.cloudfront": False}, []),
    ({"edge.cloudfrontOriginTimeoutQuotaSeconds": 300},
     ["edge.cloudfrontOriginTimeoutQuotaSeconds: got 300, expected at least 605 s for edge.maxRequestSeconds 600 + 5 s, "
      "or lower edge.maxRequestSeconds to 295: CloudFront origin timeouts above 180 s need a raised 'Response timeout per "
      "origin' quota (Service Quotas, CloudFront); set this key to the raised value once AWS granted it"]),
    ({"edge.consumers": []}, ["edge.consumers: got [], expected a list with 1 item(s) or more"]),
    ({"edge.consumers": [{"name": "b", "requestsPerSecond": 1, "burst": 1}, {"name": "a", "requestsPerSecond": 1, "burst": 1},
                         {"name": "b", "requestsPerSecond": 2, "burst": 2}]},
     ["edge.consumers: got [{'name': 'b', 'requestsPerSecond': 1, 'burst': 1}, {'name': 'a', 'requestsPerSecond': 1, "
      "'burst': 1}, {'name': 'b', 'requestsPerSecond': 2, 'burst': 2}], expected consumers with unique names, but ['b'] repeat"]),
    ({"edge.consumers[0].name": "a" * 40}, []),
    ({"edge.consumers[0].name": "Team"},
     ["edge.consumers[0].name: got 'Team', expected a string matching ^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$"]),
]


@pytest.mark.parametrize("changes, expected", CASES, ids=[str(i) for i in range(len(CASES))])
def test_each_rule_accepts_its_edge_and_names_setting_value_and_allowance_beyond_it(changes, expected):
    assert _problems("prod", changes) == expected


def test_duplicate_served_names_are_refused_apart_from_names():
    sections = sections_of("prod")
    second = dict(sections["models"][0], name="other")
    sections["models"].append(second)
    with pytest.raises(StackConfigError) as error:
        load_stack_config(sections)
    [problem] = error.value.problems
    assert problem.endswith("expected models with unique servedNames, but ['qwen3-8b'] repeat"), problem


def test_the_error_lists_every_problem_indented_under_one_heading():
    assert str(StackConfigError(["a: got 1, expected 2", "b: got 3, expected 4"])) == (
        "invalid stack configuration:\n  a: got 1, expected 2\n  b: got 3, expected 4")


def test_the_deployer_route_names_how_pulumi_up_reaches_the_cluster():
    """EKS User Guide, "Cluster API server endpoint": a public endpoint restricted to publicAccessCidrs, or the
    private endpoint reached from networks or security groups allowed on the cluster security group."""
    def route(**cluster):
        sections = sections_of("prod")
        sections["cluster"] = {**sections.get("cluster", {}), "deployerCidrs": [], "deployerSecurityGroupIds": [],
                               "endpointPublicAccess": False, "publicAccessCidrs": [], **cluster}
        return load_stack_config(sections).cluster.deployer_route()

    assert route(endpointPublicAccess=True, publicAccessCidrs=["203.0.113.0/24"]) == "public endpoint from publicAccessCidrs"
    private = "private endpoint from deployerCidrs / deployerSecurityGroupIds"
    assert route(deployerCidrs=["10.20.0.0/16"]) == private
    assert route(deployerSecurityGroupIds=["sg-0123456789abcdef0"]) == private
    assert route(publicAccessCidrs=["203.0.113.0/24"]) is None  # cidrs without the public endpoint reach nothing
    assert route() is None


def test_project_sections_takes_only_the_projects_keys_and_decodes_json_text():
    """Pulumi docs, "Configuration": keys are namespaced `<project>:<key>`; the engine passes structured values to a
    program as JSON text."""
    assert project_sections({"aws:region": "us-east-1", "vllm-eks:network": '{"cidr": "10.1.0.0/16"}',
                             "vllm-eks:edge": {"cloudfront": False}, "vllm-eks:note": "plain text",
                             "other:vllm-eks": "x"}) == {
        "network": {"cidr": "10.1.0.0/16"}, "edge": {"cloudfront": False}, "note": "plain text"}


def test_paths_are_camel_case_with_list_indexes_and_settings_suggest_from_the_right_object():
    assert _path(("models", 0, "lora_adapters", 1, "s3_prefix")) == "models[0].loraAdapters[1].s3Prefix"
    assert _path(("edge", "consumers", 0, "burst")) == "edge.consumers[0].burst"
    assert _known_settings(("observability", "alerting")) == ["allowNoReceiver", "snsTopicArn"]
    assert _known_settings(("models", 0, "speculative")) == ["method", "numSpeculativeTokens", "model", "promptLookupMax"]
    assert _known_settings(("network", "cidr")) == []
    assert _known_settings(("nowhere",)) == []


def test_a_certificate_of_the_deploying_account_is_quiet_and_another_accounts_is_named():
    """CloudFront developer guide, "Requirements for using SSL/TLS certificates with CloudFront": the certificate
    must be in the distribution's own account."""
    config = load_stack_config(sections_of("prod"))
    assert foreign_account_errors(config, "123456789012") == []
    assert foreign_account_errors(config, "210987654321") == [
        "edge.certificateArn: got arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d "
        "(account 123456789012), expected an ACM certificate in us-east-1 of the deploying account 210987654321; set "
        "edge.domainName and edge.certificateArn to your API's name and certificate (the stack files ship AWS "
        "documentation examples)"]


def test_working_hours_default_to_weekdays_eight_to_seven_utc():
    """KEDA cron scaler: `timezone` is an IANA name; start and end are five-field crons."""
    from stack_config import WorkingHours

    assert WorkingHours().model_dump() == {"timezone": "UTC", "start": "0 8 * * 1-5", "end": "0 19 * * 1-5"}
