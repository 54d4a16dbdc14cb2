"""InternalApiKey: the one key every vLLM server of the stack requires, which only the edge ever presents.

The authorizer cannot see a request's body, so it cannot know the model when it swaps the consumer's key for the
internal one: every served model therefore accepts the same internal key. It is generated with pulumi-random (a
secret in state), kept in Secrets Manager for the authorizer, and mounted into each vLLM pod as a file.
"""

from typing import TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_random as random


class InternalApiKeyArgs(TypedDict):
    secret_name: str
    """Secrets Manager name, e.g. vllm-eks-prod/vllm/api-key."""


class InternalApiKey(pulumi.ComponentResource):
    """vLLM's internal key (random → Secrets Manager), the only key the edge ever presents."""

    value: pulumi.Output[str]
    """The key (a secret output)."""
    secret_arn: pulumi.Output[str]
    """The Secrets Manager secret holding the key."""

    def __init__(self, name: str, args: InternalApiKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("vllm-eks:index:InternalApiKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        password = random.RandomPassword(f"{name}-value", length=48, special=False, opts=child)
        secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name=args["secret_name"],
            description="vLLM's internal API key: the edge injects it, the pods read it from a mounted file",
            # A fixed name and a recovery window would block re-creating a destroyed stack for the window's days
            # (Secrets Manager keeps the name reserved while the secret is pending deletion); the key is generated,
            # so there is nothing to recover: delete at once.
            recovery_window_in_days=0,
            opts=child,
        )
        aws.secretsmanager.SecretVersion(f"{name}-version", secret_id=secret.id, secret_string=password.result, opts=child)
        self.value = pulumi.Output.secret(password.result)
        self.secret_arn = secret.arn
        self.register_outputs({"secret_arn": self.secret_arn})
