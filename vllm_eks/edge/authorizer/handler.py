"""API Gateway REQUEST authorizer: OpenAI-style `Authorization: Bearer <key>` in, usage-plan key and vLLM's key out.

API Gateway (apiKeySource AUTHORIZER) takes `usageIdentifierKey` as the caller's API key and enforces it against
the usage plans: an unknown key is refused there, a known one is throttled and counted per consumer. This function
only checks the header's shape (and, behind CloudFront, the origin-verify header) and hands back vLLM's internal
key in the context; the integration maps it into the `Authorization` header, so the consumer's key never travels
past API Gateway. Keys are never logged: log lines carry the request id and the reason only.

Environment:
  INTERNAL_KEY_SECRET_ARN   Secrets Manager secret holding vLLM's internal key (plain string)
  ORIGIN_VERIFY_SECRET_ARN  optional; when set, requests must carry x-origin-verify equal to this secret
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time

import boto3

BEARER = re.compile(r"Bearer ([A-Za-z0-9._~+/=-]+)", re.ASCII)
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,128}", re.ASCII)
MAX_HEADER_CHARS = 256  # "Bearer " + the longest key API Gateway accepts, with room to spare
ORIGIN_VERIFY_HEADER = "x-origin-verify"
CONTEXT_KEY = "vllmAuthorization"
SECRET_CACHE_SECONDS = 300  # a rotated secret is picked up within five minutes

_secrets = boto3.client("secretsmanager")
_cache: dict[str, tuple[float, str]] = {}


class Unauthorized(Exception):
    """API Gateway answers 401 when a REQUEST authorizer raises with exactly this message."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def _secret(arn: str) -> str:
    cached = _cache.get(arn)
    now = time.monotonic()
    if cached and now - cached[0] < SECRET_CACHE_SECONDS:
        return cached[1]
    value = _secrets.get_secret_value(SecretId=arn)["SecretString"]
    _cache[arn] = (now, value)
    return value


def _header(event: dict, name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value
    return None


def _log(request_id: str, decision: str, reason: str) -> None:
    print(json.dumps({"requestId": request_id, "decision": decision, "reason": reason}))


def _api_wide_resource(method_arn: str) -> str:
    """arn:...:<api>/<stage>/<verb>/<path> -> arn:...:<api>/<stage>/*/*, so a cached decision covers every route."""
    arn_prefix, _, api_path = method_arn.partition(":execute-api:")
    region_account_api = api_path.split("/")
    return f"{arn_prefix}:execute-api:{region_account_api[0]}/{region_account_api[1]}/*/*"


def _policy(principal: str, effect: str, method_arn: str) -> dict:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": _api_wide_resource(method_arn)}],
        },
    }


def handler(event: dict, context: object) -> dict:
    request_id = (event.get("requestContext") or {}).get("requestId", "-")
    origin_secret_arn = os.environ.get("ORIGIN_VERIFY_SECRET_ARN")
    if origin_secret_arn:
        presented = _header(event, ORIGIN_VERIFY_HEADER) or ""
        if not hmac.compare_digest(presented.encode(), _secret(origin_secret_arn).encode()):
            _log(request_id, "deny", "request did not come through CloudFront")
            return _policy("origin-check", "Deny", event["methodArn"])

    authorization = _header(event, "authorization")
    if authorization is None:
        _log(request_id, "unauthorized", "no Authorization header")
        raise Unauthorized()
    if len(authorization) > MAX_HEADER_CHARS:
        _log(request_id, "unauthorized", "Authorization header too long")
        raise Unauthorized()
    match = BEARER.fullmatch(authorization.strip())
    if match is None:
        _log(request_id, "unauthorized", "Authorization is not 'Bearer <key>'")
        raise Unauthorized()
    token = match.group(1)
    if TOKEN.fullmatch(token) is None:
        _log(request_id, "unauthorized", "key has an impossible shape")
        raise Unauthorized()

    # A stable, non-reversible handle for the caller in access logs; the key itself stays out of every log.
    principal = "key-" + hashlib.sha256(token.encode()).hexdigest()[:16]
    response = _policy(principal, "Allow", event["methodArn"])
    response["usageIdentifierKey"] = token
    response["context"] = {CONTEXT_KEY: "Bearer " + _secret(os.environ["INTERNAL_KEY_SECRET_ARN"])}
    _log(request_id, "allow", principal)
    return response
