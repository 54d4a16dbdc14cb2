"""Every behaviour of AWS (and of Pulumi's engine) that a test or a stand-in relies on, with its source, in one place.

Mocks accept whatever the program assumes, so each assumption below is written down where a reader can check it
against the named document. `tests/test_aws_behaviour.py` keeps this list honest: every test module named in
`used_by` exists and cites the source it is listed under.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Assumption:
    behaviour: str
    source: str  # the document title or upstream file, as the test's docstring cites it
    used_by: tuple[str, ...]  # test modules (paths under tests/) that rely on it


ASSUMPTIONS = (
    Assumption(
        "VPC Flow Logs sends aws:SourceAccount and aws:SourceArn (its flow log's ARN) when it assumes the delivery "
        "role, so a trust policy may pin both against the confused deputy problem",
        "IAM role for publishing flow logs to CloudWatch Logs",
        ("test_network.py",),
    ),
    Assumption(
        "A REST API private integration (VPC link) sends the stage in front of the path: stage `live` reaches the "
        "ALB as /live/v1/...",
        "Private integrations for REST APIs",
        ("test_edge_path.py", "edge_stand_in.py", "contract/test_routing.py"),
    ),
    Assumption(
        "An ALB url-rewrite transform rewrites the URL by regex after the rule matched; no match leaves it; the "
        "regex has no lookarounds or backreferences",
        "Transforms for listener rules",
        ("test_edge_path.py", "edge_stand_in.py"),
    ),
    Assumption(
        "ALB path patterns are case-sensitive with * and ? wildcards; header values match case-insensitively; all "
        "conditions of a rule must match, else the next rule, finally the default action",
        "Listener rules for your Application Load Balancer",
        ("test_edge_path.py", "edge_stand_in.py"),
    ),
    Assumption(
        "Lambda function, log group, REST API, usage plan, SQS queue and Secrets Manager names are unique per account "
        "and region",
        "CreateFunction",
        ("test_two_stacks.py",),
    ),
    Assumption(
        "API Gateway's CloudWatch role (aws.apigateway.Account) is one setting per account and region; deleting the "
        "resource resets it for every REST API there",
        "Set up CloudWatch logging for REST APIs",
        ("test_two_stacks.py",),
    ),
    Assumption(
        "During a secret's recovery window its name stays reserved",
        "DeleteSecret",
        ("test_two_stacks.py",),
    ),
    Assumption(
        "EKS writes control-plane logs to /aws/eks/<cluster>/cluster and creates it without expiry if absent; "
        "EXTENDED support is billed after standard support ends",
        "Send control plane logs to CloudWatch Logs",
        ("test_two_stacks.py",),
    ),
    Assumption(
        "A protected resource makes `pulumi destroy` fail; retainOnDelete leaves it in the cloud and lets destroy finish",
        "Resource option: protect",
        ("test_destroy_and_first_deploy.py",),
    ),
    Assumption(
        "A resource is created after and deleted before what it depends on (dependsOn)",
        "Resource option: dependsOn",
        ("test_destroy_and_first_deploy.py",),
    ),
    Assumption(
        "With the public endpoint off the EKS API is reachable only from the VPC or a connected network, through 443 "
        "on the cluster security group",
        "Cluster API server endpoint",
        ("test_destroy_and_first_deploy.py",),
    ),
    Assumption(
        "The cluster creator gets an admin access entry at creation; a second entry for it fails (ResourceInUse)",
        "EKS access entries",
        ("test_destroy_and_first_deploy.py",),
    ),
    Assumption(
        "An STS role session ARN is arn:aws:sts::<account>:assumed-role/<role name>/<session>, without the role's path",
        "IAM identifiers",
        ("test_destroy_and_first_deploy.py",),
    ),
    Assumption(
        "Karpenter's interruption queue is fed by five EventBridge rules, the fifth being the capacity reservation "
        "interruption warning",
        "getting-started CloudFormation",
        ("test_destroy_and_first_deploy.py",),
    ),
    Assumption(
        "WAF's AssociationConfig request body is keyed by the protected resource type; pulumi-aws spells the keys "
        "`cloudfront` / `api_gateway`",
        "WebAclAssociationConfigRequestBodyArgsDict",
        ("test_edge.py", "test_types.py"),
    ),
    Assumption(
        "The *_BODY rules of the core rule set and known bad inputs groups read code, HTML, paths and URLs as attacks",
        "Baseline rule groups",
        ("test_edge.py",),
    ),
    Assumption(
        "CloudFront runs no viewer-response function when the origin answers 400 or more",
        "Restrictions on all edge functions",
        ("test_edge.py",),
    ),
    Assumption(
        "CloudFront origin response timeouts above the default limit (180 s) need a raised 'Response timeout per "
        "origin' quota",
        "cloudfront-custom-origin-response",
        ("test_edge.py", "test_edge_config.py"),
    ),
    Assumption(
        "CloudFront uses ACM certificates (us-east-1) of the distribution's own account",
        "Requirements for using SSL/TLS certificates with CloudFront",
        ("test_edge_config.py",),
    ),
    Assumption(
        "A target group name has at most 32 characters",
        "CreateTargetGroup",
        ("test_edge_config.py",),
    ),
    Assumption(
        "A CloudFront alias record uses the hosted zone Z2FDTNDATAQYW2",
        "AliasTarget",
        ("test_edge_config.py",),
    ),
    Assumption(
        "An explicit Deny in a bucket policy wins over any Allow; aws:PrincipalArn of a role session is the role ARN",
        "Policy evaluation logic",
        ("test_two_stacks.py",),
    ),
    Assumption(
        "A REST API change reaches the stage only through a new deployment",
        "Deploy REST APIs in API Gateway",
        ("test_two_stacks.py",),
    ),
)
