"""Start moto's server (S3, STS, IAM, KMS) with the web-identity sign-in that IRSA relies on.

Run inside the vLLM venv (moto[server] is in requirements-vllm-cpu.txt): `python moto_launcher.py HOST PORT`.

Why not plain `moto_server`: with IAM enforcement on (`POST /moto-api/reset-auth 0`, moto/core/authorization.py),
moto 5.2.5 authenticates every request, including `sts:AssumeRoleWithWebIdentity`, and fails on its missing
`Authorization` header. In AWS that call is unsigned: "Calling AssumeRoleWithWebIdentity does not require the use of
AWS security credentials" (AWS STS API Reference, AssumeRoleWithWebIdentity). Moto also never checks the role's trust
policy for it (moto/sts/models.py assume_role_with_web_identity = assume_role). So this launcher lets the unsigned
call through and evaluates what AWS documents for OIDC federation ("IAM and AWS STS condition context keys":
`<provider>:sub`, `<provider>:aud`; the `Federated` principal is the OIDC provider registered for the token's
issuer): the provider must exist in IAM, and a trust statement for that provider whose StringEquals conditions match
the token's claims must allow `sts:AssumeRoleWithWebIdentity`. The token's signature is not verified (no JWKS here).
"""

from __future__ import annotations

import base64
import json
import sys

from moto.core import authorization
from moto.core.exceptions import AccessDeniedError
from moto.iam.models import iam_backends
from moto.server import main

WEB_IDENTITY_ACTION = "AssumeRoleWithWebIdentity"
_authenticate = authorization.ActionAuthenticatorMixin._authenticate_and_authorize_normal_action


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _trusted(trust: dict, provider_arn: str, issuer: str, claims: dict) -> bool:
    for statement in _as_list(trust.get("Statement", [])):
        if statement.get("Effect") != "Allow" or "sts:AssumeRoleWithWebIdentity" not in _as_list(statement.get("Action")):
            continue
        if provider_arn not in _as_list((statement.get("Principal") or {}).get("Federated")):
            continue
        wanted = (statement.get("Condition") or {}).get("StringEquals", {})
        actual = {f"{issuer}:sub": claims.get("sub"), f"{issuer}:aud": claims.get("aud")}
        if all(any(value in _as_list(actual.get(key)) for value in _as_list(expected)) for key, expected in wanted.items()):
            return True
    return False


def _check_web_identity(response) -> None:
    role_arn = response._get_param("RoleArn")
    claims = _claims(response._get_param("WebIdentityToken"))
    issuer = str(claims.get("iss", "")).removeprefix("https://")
    account = role_arn.split(":")[4]
    backend = iam_backends[account]["aws"]
    provider_arn = f"arn:aws:iam::{account}:oidc-provider/{issuer}"
    denied = AccessDeniedError(user_arn=f"web identity {claims.get('sub')}", action="sts:AssumeRoleWithWebIdentity")
    if provider_arn not in backend.list_open_id_connect_providers():
        raise denied
    role = backend.get_role_by_arn(role_arn)
    if not _trusted(json.loads(role.assume_role_policy_document), provider_arn, issuer, claims):
        raise denied


def _authenticate_unless_web_identity(self, resource: str = "*") -> None:
    if self._get_action() == WEB_IDENTITY_ACTION and "Authorization" not in self.headers:
        _check_web_identity(self)
        return
    _authenticate(self, resource)


authorization.ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = _authenticate_unless_web_identity

if __name__ == "__main__":
    main(["-H", sys.argv[1], "-p", sys.argv[2]])
