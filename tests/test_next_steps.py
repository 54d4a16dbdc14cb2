"""`python -m preflight.next_steps`: the numbered list up.sh prints after its offline run, stated whole per case."""

from __future__ import annotations

from preflight.next_steps import edits, main, preparations, report

_EXAMPLE_EDGE = {"domainName": "llm.example.com",
                 "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d"}
_DOCTOR = "check the account before paying for anything: .venv/bin/python -m preflight doctor --stack <stack>"
_PASSPHRASE = ("export PULUMI_CONFIG_PASSPHRASE=<a passphrase you keep>: the local state backend encrypts the stack's "
               "secrets with it, and every later `pulumi` command needs the same one")


def test_documentation_examples_and_a_missing_admin_are_edits_of_the_stack_file():
    """RFC 2606 reserves example, example.com/.org/.net for documentation; the AWS docs' example account is
    123456789012."""
    assert edits("prod", {"vllm-eks:edge": _EXAMPLE_EDGE}) == [
        "edit Pulumi.prod.yaml: vllm-eks:edge.domainName is the documentation example llm.example.com: set your API's domain",
        "edit Pulumi.prod.yaml: vllm-eks:edge.certificateArn is an example ARN: set an ACM certificate in us-east-1 for that domain",
        "edit Pulumi.prod.yaml: vllm-eks:cluster.adminPrincipalArn is not set: set the IAM role or user ARN that "
        "administers the cluster",
    ]
    real = {"vllm-eks:edge": {"domainName": "llm.example-corp.com",
                              "certificateArn": "arn:aws:acm:us-east-1:210987654321:certificate/x"},
            "vllm-eks:cluster": {"adminPrincipalArn": "arn:aws:iam::210987654321:role/Admin"}}
    assert edits("prod", real) == []
    for domain in ("example", "api.example", "a.example.org", "b.example.net"):
        assert len(edits("s", {"vllm-eks:edge": {"domainName": domain}, "vllm-eks:cluster": {"adminPrincipalArn": "a"}})) == 1
    for domain in ("example.io", "myexample.com", "example.com.au"):
        assert edits("s", {"vllm-eks:edge": {"domainName": domain}, "vllm-eks:cluster": {"adminPrincipalArn": "a"}}) == []
    assert edits("s", {"vllm-eks:edge": None, "vllm-eks:cluster": None}) == [
        "edit Pulumi.s.yaml: vllm-eks:cluster.adminPrincipalArn is not set: set the IAM role or user ARN that "
        "administers the cluster"]


def test_preparations_name_what_is_missing_and_always_end_with_the_doctor():
    """Pulumi docs, "State and backends": the local backend encrypts secrets with PULUMI_CONFIG_PASSPHRASE; a
    backend URL (Pulumi Cloud, S3) brings its own secrets provider."""
    assert preparations({}, has_pulumi=False, has_credentials=False) == [
        "install the Pulumi CLI 3.200+ and Node.js 20+ (https://www.pulumi.com/docs/install/)",
        "configure AWS credentials (aws configure, AWS_PROFILE or an assumed role)",
        _PASSPHRASE, _DOCTOR]
    assert preparations({"PULUMI_CONFIG_PASSPHRASE": "p"}, has_pulumi=True, has_credentials=True) == [_DOCTOR]
    assert preparations({"PULUMI_BACKEND_URL": "s3://state"}, has_pulumi=True, has_credentials=True) == [_DOCTOR]


def test_the_report_numbers_every_step_and_ends_with_the_command(capsys, monkeypatch):
    config = {"vllm-eks:edge": {}, "vllm-eks:cluster": {"adminPrincipalArn": "arn:aws:iam::210987654321:role/A"}}
    assert report("dev", config, {"PULUMI_CONFIG_PASSPHRASE": "p"}, has_pulumi=True, has_credentials=False) == (
        "next steps:\n"
        "  1. configure AWS credentials (aws configure, AWS_PROFILE or an assumed role)\n"
        "  2. check the account before paying for anything: .venv/bin/python -m preflight doctor --stack dev\n"
        "then: ./up.sh dev   (pulumi up --stack dev --policy-pack policies --policy-pack-config policies/config/dev.json)")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "p")
    monkeypatch.setenv("VLLM_EKS_HAS_AWS_CREDENTIALS", "1")
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/pulumi" if name == "pulumi" else None)
    assert main(["prod"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "next steps:" and out[-2] == "  4. " + _DOCTOR.replace("<stack>", "prod")
    assert not any("credentials" in line or "Pulumi CLI" in line for line in out)
