"""AWS predicates for the vllm-eks policy pack: type tokens and config shared by pillars, tags, IAM documents,
the model bucket."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping
from typing import Any, Optional

from _stack import StackView
from _values import UNKNOWN, as_list, contains_unknown, is_unknown

SUBNET = "aws:ec2/subnet:Subnet"
EKS_COMPONENT = "eks:index:Cluster"  # pulumi-eks' component, as mocks and a first preview show it
EKS_CLUSTER = "aws:eks/cluster:Cluster"  # the AWS resource a real preview registers under it
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"

NODE_SUBNET_CONFIG = {
    "nodeSubnetTagKeys": {
        "type": "array", "items": {"type": "string"},
        "default": ["kubernetes.io/role/internal-elb", "karpenter.sh/discovery"],
        "description": "Subnet tag keys that mark subnets where nodes run (must be private).",
    },
    "publicSubnetTagKeys": {
        "type": "array", "items": {"type": "string"}, "default": ["kubernetes.io/role/elb"],
        "description": "Subnet tag keys that mark public (internet-facing load balancer) subnets.",
    },
}


def cluster_outside_stack(view: StackView) -> bool:
    """The stack deploys onto an EKS cluster it does not create (neither pulumi-eks' component nor the AWS resource):
    the cluster's StorageClasses, NodePools and VPC are another program's, and policies here cannot see them."""
    return not view.of_type(EKS_COMPONENT) and not view.of_type(EKS_CLUSTER)


def tags_of(props: Mapping) -> dict:
    tags = props.get("tags")
    return dict(tags) if isinstance(tags, Mapping) else {}


# ---------------------------------------------------------------------------------------------------------------
# IAM and bucket policy documents
# ---------------------------------------------------------------------------------------------------------------

def parse_json_document(value: Any) -> Any:
    """An IAM/bucket policy document from a JSON string or a dict; UNKNOWN if not known; None if unparsable.

    A document with any unknown part is UNKNOWN as a whole (a JSON string an apply builds from outputs arrives
    unknown as a whole at preview; a dict may hold an unknown anywhere), so no caller meets a partial document."""
    if value is None:
        return None
    if contains_unknown(value):
        return UNKNOWN
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        try:
            doc = json.loads(value)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None
    return None


def statements(document: Any) -> list[dict]:
    if not isinstance(document, Mapping):
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, dict)]


def statement_actions(statement: Mapping) -> list[str]:
    return [a for a in as_list(statement.get("Action")) if isinstance(a, str)]


def statement_resources(statement: Mapping) -> list[str]:
    return [r for r in as_list(statement.get("Resource")) if isinstance(r, str)]


def action_matches(pattern: str, action: str) -> bool:
    """IAM action pattern (case-insensitive, `*`/`?` wildcards) against a concrete action."""
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def grants(statement: Mapping, action: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement:
        return not any(action_matches(p, action) for p in as_list(statement.get("NotAction")) if isinstance(p, str))
    return any(action_matches(p, action) for p in statement_actions(statement))


def is_s3_resource(resource: str) -> bool:
    return resource == "*" or resource.startswith("arn:aws:s3:::") or resource.startswith("arn:aws*:s3:::") \
        or bool(re.match(r"^arn:aws[\w-]*:s3:::", resource))


def bucket_of_arn(resource: str) -> Optional[str]:
    match = re.match(r"^arn:aws[\w-]*:s3:::([^/]+)", resource)
    return match.group(1) if match else None


# ---------------------------------------------------------------------------------------------------------------
# The model bucket: the bucket tagged as holding model weights
# ---------------------------------------------------------------------------------------------------------------

MODEL_BUCKET_CONFIG = {
    "modelBucketTagKey": {"type": "string", "default": "vllm-eks:purpose",
                          "description": "Tag key that marks the S3 bucket holding model weights."},
    "modelBucketTagValue": {"type": "string", "default": "model-weights",
                            "description": "Tag value that marks the S3 bucket holding model weights."},
}


def model_buckets(view: StackView, config: Mapping) -> list[Any]:
    key, value = config["modelBucketTagKey"], config["modelBucketTagValue"]
    return [b for b in view.of_type(*BUCKET_TYPES) if tags_of(view.p(b)).get(key) == value]


def maybe_model_buckets(view: StackView, config: Mapping) -> list[Any]:
    """Buckets that may hold model weights: their tags (or the marking tag's value) are unknown at preview."""
    key = config["modelBucketTagKey"]
    result = []
    for bucket in view.of_type(*BUCKET_TYPES):
        tags = view.p(bucket).get("tags")
        if is_unknown(tags) or (isinstance(tags, Mapping) and is_unknown(tags.get(key))):
            result.append(bucket)
    return result
