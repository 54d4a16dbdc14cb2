"""Edge settings that encode AWS limits are checked at config load, before any resource exists.

Source (also in tests/aws_behaviour.py): AWS knowledge center "cloudfront-custom-origin-response" — CloudFront origin
response timeouts above the default limit (180 s) need a raised "Response timeout per origin" quota.
"""

from __future__ import annotations

import pytest

from stack_config import SECTIONS, StackConfigError, load_stack_config
from preflight.render import read_stack_config



def _load(stack: str, **edge):
    raw = {key.removeprefix("vllm-eks:"): value for key, value in read_stack_config(stack).items() if key.startswith("vllm-eks:")}
    raw["edge"] = {**raw["edge"], **edge}
    return load_stack_config({section: raw.get(section) for section in SECTIONS})


def test_a_budget_above_the_default_cloudfront_limit_needs_a_stated_quota():
    with pytest.raises(StackConfigError) as error:
        _load("dev", maxRequestSeconds=300)
    message = str(error.value)
    assert "edge.cloudfrontOriginTimeoutQuotaSeconds" in message and "180" in message and "305" in message
    assert "Response timeout per origin" in message and "175" in message


def test_a_stated_quota_raises_the_limit():
    config = _load("dev", maxRequestSeconds=300, cloudfrontOriginTimeoutQuotaSeconds=305)
    assert config.edge.cloudfront_origin_timeout_quota_seconds == 305


def test_without_cloudfront_the_quota_does_not_apply():
    config = _load("dev", maxRequestSeconds=600, cloudfront=False, domainName=None, certificateArn=None)
    assert config.edge.max_request_seconds == 600
