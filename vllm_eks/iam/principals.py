"""Who an IAM ARN names: the deploying caller compared with a configured principal."""

import re


def is_same_principal(principal_arn: str, caller_arn: str) -> bool:
    """True when an IAM role/user ARN names the caller. STS reports a role session as
    arn:aws:sts::<account>:assumed-role/<role name>/<session> (IAM user guide, "IAM identifiers"), without the role's
    path, so a role is matched by account and name."""
    principal = re.fullmatch(r"arn:(aws[a-z-]*):iam::(\d{12}):(role|user)/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)", principal_arn)
    if principal is None:
        return False
    partition, account, kind, name = principal.groups()
    session = re.fullmatch(r"arn:(aws[a-z-]*):sts::(\d{12}):assumed-role/([\w+=,.@-]+)/.+", caller_arn)
    if session is not None:
        return kind == "role" and session.groups() == (partition, account, name)
    caller = re.fullmatch(r"arn:(aws[a-z-]*):iam::(\d{12}):(role|user)/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)", caller_arn)
    return caller is not None and caller.groups() == (partition, account, kind, name)
