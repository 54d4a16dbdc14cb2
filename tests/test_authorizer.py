"""The Lambda REQUEST authorizer, run for real on API Gateway's documented REQUEST event, with Secrets Manager
stubbed by botocore's Stubber (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
from botocore.stub import Stubber

AUTHORIZER_DIR = Path(__file__).resolve().parent.parent / "vllm_eks" / "edge" / "authorizer"
INTERNAL_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:vllm/m/api-key-AbCdEf"
ORIGIN_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:edge-origin-verify-AbCdEf"
INTERNAL_KEY = "internal0key0" + "x" * 35
ORIGIN_SECRET = "origin0secret0" + "y" * 34
CONSUMER_KEY = "Zq7" * 16  # 48 characters, like the generated keys
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/live/POST/v1/chat/completions"


@pytest.fixture
def authorizer(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("INTERNAL_KEY_SECRET_ARN", INTERNAL_ARN)
    monkeypatch.delenv("ORIGIN_VERIFY_SECRET_ARN", raising=False)
    monkeypatch.syspath_prepend(str(AUTHORIZER_DIR))
    sys.modules.pop("handler", None)
    module = importlib.import_module("handler")
    with Stubber(module._secrets) as stubber:
        module.stubber = stubber
        yield module
    sys.modules.pop("handler", None)


def _expect_secret(authorizer, arn, value):
    authorizer.stubber.add_response("get_secret_value", {"ARN": arn, "Name": "n", "SecretString": value}, {"SecretId": arn})


def request_event(headers: dict[str, str] | None) -> dict:
    """API Gateway REST REQUEST authorizer input, as documented (fields the function may read)."""
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "resource": "/v1/chat/completions",
        "path": "/v1/chat/completions",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
        "queryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/v1/chat/completions",
            "httpMethod": "POST",
            "path": "/live/v1/chat/completions",
            "accountId": "123456789012",
            "stage": "live",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7", "apiKey": None},
            "apiId": "abcdef1234",
        },
    }


def test_valid_key_is_the_usage_identifier_and_the_internal_key_goes_to_the_context(authorizer, capsys):
    _expect_secret(authorizer, INTERNAL_ARN, INTERNAL_KEY)
    result = authorizer.handler(request_event({"Authorization": f"Bearer {CONSUMER_KEY}", "Content-Type": "application/json"}), None)
    assert result["usageIdentifierKey"] == CONSUMER_KEY
    assert result["context"] == {"vllmAuthorization": f"Bearer {INTERNAL_KEY}"}
    statement = result["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow" and statement["Action"] == "execute-api:Invoke"
    assert statement["Resource"] == "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/live/*/*"
    assert result["principalId"].startswith("key-") and CONSUMER_KEY not in result["principalId"]
    logged = capsys.readouterr().out
    assert CONSUMER_KEY not in logged and INTERNAL_KEY not in logged
    assert json.loads(logged.strip().splitlines()[-1])["decision"] == "allow"
    authorizer.stubber.assert_no_pending_responses()


def test_header_name_is_case_insensitive(authorizer):
    _expect_secret(authorizer, INTERNAL_ARN, INTERNAL_KEY)
    assert authorizer.handler(request_event({"authorization": f"Bearer {CONSUMER_KEY}"}), None)["usageIdentifierKey"] == CONSUMER_KEY


@pytest.mark.parametrize(
    "headers, reason",
    [
        (None, "no Authorization header"),
        ({"Content-Type": "application/json"}, "no Authorization header"),
        ({"Authorization": f"Basic {CONSUMER_KEY}"}, "not 'Bearer <key>'"),
        ({"Authorization": CONSUMER_KEY}, "not 'Bearer <key>'"),
        ({"Authorization": "Bearer "}, "not 'Bearer <key>'"),
        ({"Authorization": "Bearer"}, "not 'Bearer <key>'"),
        ({"Authorization": "Bearer short"}, "impossible shape"),
        ({"Authorization": "Bearer " + "a" * 400}, "too long"),
        ({"Authorization": f"Bearer {CONSUMER_KEY}\u00e9"}, "not 'Bearer <key>'"),
    ],
    ids=["no-headers", "missing", "wrong-scheme", "no-scheme", "empty-token", "bare-scheme", "too-short", "oversized", "non-ascii"],
)
def test_malformed_authorization_is_401_and_never_logged(authorizer, capsys, headers, reason):
    with pytest.raises(Exception) as raised:
        authorizer.handler(request_event(headers), None)
    assert str(raised.value) == "Unauthorized"  # the exact message API Gateway turns into 401
    logged = capsys.readouterr().out
    assert reason in logged
    presented = (headers or {}).get("Authorization", "").split()
    if len(presented) == 2 or (presented and presented[0] != "Bearer"):
        assert presented[-1] not in logged
    authorizer.stubber.assert_no_pending_responses()  # no secret read for a refused request


def test_behind_cloudfront_a_request_without_the_origin_secret_is_denied(authorizer, monkeypatch, capsys):
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET_ARN", ORIGIN_ARN)
    _expect_secret(authorizer, ORIGIN_ARN, ORIGIN_SECRET)
    result = authorizer.handler(request_event({"Authorization": f"Bearer {CONSUMER_KEY}", "x-origin-verify": "guess"}), None)
    assert result["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert "usageIdentifierKey" not in result and "context" not in result
    assert ORIGIN_SECRET not in capsys.readouterr().out


def test_behind_cloudfront_the_origin_secret_lets_the_key_through(authorizer, monkeypatch):
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET_ARN", ORIGIN_ARN)
    _expect_secret(authorizer, ORIGIN_ARN, ORIGIN_SECRET)
    _expect_secret(authorizer, INTERNAL_ARN, INTERNAL_KEY)
    result = authorizer.handler(
        request_event({"Authorization": f"Bearer {CONSUMER_KEY}", "X-Origin-Verify": ORIGIN_SECRET}), None
    )
    assert result["usageIdentifierKey"] == CONSUMER_KEY


def test_secrets_are_cached_between_invocations(authorizer):
    _expect_secret(authorizer, INTERNAL_ARN, INTERNAL_KEY)
    for _ in range(3):
        authorizer.handler(request_event({"Authorization": f"Bearer {CONSUMER_KEY}"}), None)
    authorizer.stubber.assert_no_pending_responses()


def test_the_function_uses_only_the_standard_library_and_boto3():
    source = (AUTHORIZER_DIR / "handler.py").read_text()
    imports = {line.split()[1].split(".")[0] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"__future__", "hashlib", "hmac", "json", "os", "re", "time", "boto3"}
