"""`pulumi destroy` completes and keeps what must survive; the first `pulumi up` can reach the cluster and installs
in an order that teardown can reverse.

Sources (also in tests/aws_behaviour.py): Pulumi docs, "Resource option: protect" (a protected resource makes
`pulumi destroy` fail until it is unprotected) and "Resource option: retainOnDelete" (the resource is left in the
cloud and removed from the state, the destroy completes).
"""

from __future__ import annotations

import pytest

STACKS = ["dev_snapshot", "prod_snapshot"]


@pytest.mark.parametrize("stack", STACKS)
def test_nothing_is_protected_so_destroy_completes(stack, request):
    snapshot = request.getfixturevalue(stack)
    protected = [r["name"] for r in snapshot["resources"] if r["options"].get("protect")]
    assert not protected, f"`pulumi destroy` would stop at {protected}: use retain_on_delete"


@pytest.mark.parametrize("stack", STACKS)
def test_weights_and_their_key_are_kept_on_destroy(stack, request):
    snapshot = request.getfixturevalue(stack)
    kept = {r["type"] for r in snapshot["resources"] if r["options"].get("retainOnDelete")}
    assert {"aws:s3/bucket:Bucket", "aws:kms/key:Key"} <= kept
