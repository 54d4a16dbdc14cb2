"""The config schema of each edge, network, cluster, trust and isolation policy, as the engine receives it from
GetAnalyzerInfo, stated whole: the Pulumi CLI validates a stack's policy config against exactly this JSON Schema
(pulumi/pulumi pkg/resource/analyzer/config.go validatePolicyPackConfig) and fills the defaults from it, so a wrong
type, item type, bound or default refuses a valid config, accepts a wrong one, or changes a verdict. Descriptions are
prose for people (checked non-empty by test_policies.py); the `reason` key every policy takes is checked there too.
"""

from __future__ import annotations

STRINGS = {"type": "array", "items": {"type": "string"}}
NODE_TAGS = {"nodeSubnetTagKeys": {**STRINGS, "default": ["kubernetes.io/role/internal-elb", "karpenter.sh/discovery"]},
             "publicSubnetTagKeys": {**STRINGS, "default": ["kubernetes.io/role/elb"]}}

# The JSON number 0 arrives as 0.0 (protobuf Struct numbers are doubles).
SCHEMAS = {
    "edge-no-public-lb-to-serving": ("stack", {"servingNamespacePrefixes": {**STRINGS, "default": ["vllm-"]}}),
    "edge-waf-on-public-entry": ("stack", {}),
    "edge-tls-1-2": ("resource", {"allowDefaultCertificate": {"type": "boolean", "default": False}}),
    "edge-methods-require-authorizer": ("resource", {"allowedAuthorizationTypes": {
        **STRINGS, "default": ["CUSTOM", "COGNITO_USER_POOLS"]}}),
    "edge-no-unauthenticated-routes": ("stack", {"forbiddenPaths": {**STRINGS, "default": [
        "/metrics", "/health", "/ping", "/version", "/tokenize", "/detokenize", "/invocations", "/pooling"]}}),
    "edge-timeouts-cover-max-request": ("stack", {"maxRequestSeconds": {"type": "number", "default": 0.0}}),
    "no-public-node-ips": ("resource", NODE_TAGS),
    "nodes-in-private-subnets": ("stack", NODE_TAGS),
    # A prefix length is 0 (everything) to 128 (one IPv6 address).
    "eks-endpoint-private": ("resource", {
        "forbiddenPublicCidrs": {**STRINGS, "default": ["0.0.0.0/0", "::/0"]},
        "minPublicCidrPrefixLength": {"type": "integer", "minimum": 0.0, "maximum": 128.0, "default": 16.0}}),
    "vpc-cni-network-policy-enforced": ("stack", {}),
    "router-serving-port-from-alb-only": ("stack", {**NODE_TAGS, "routerImageNames": {**STRINGS, "default": ["vllm-router"]}}),
    "images-from-private-registry": ("resource", {"allowedRegistries": {**STRINGS, "default": []},
                                                  "exemptNamespaces": {**STRINGS, "default": ["kube-system"]}}),
    "router-health-check-process-only": ("stack", {"forbiddenPaths": {**STRINGS, "default": ["/health"]},
                                                   "routerImageNames": {**STRINGS, "default": ["vllm-router"]}}),
    "volume-claims-name-a-stack-storage-class": ("stack", {}),
    "serving-namespace-default-deny": ("stack", {"requiredDirections": {
        "type": "array", "items": {"type": "string", "enum": ["Ingress", "Egress"]}, "default": ["Ingress", "Egress"]}}),
    "irsa-trust-pinned": ("resource", {}),
}


def test_each_policys_config_schema_is_the_documented_one(pack):
    policies = {p["name"]: p for p in pack.policies()}
    found = {}
    for name in SCHEMAS:
        properties = policies[name]["configSchema"]["properties"]
        assert all(schema["description"] for schema in properties.values()), name
        found[name] = (policies[name]["type"], {key: {k: v for k, v in schema.items() if k != "description"}
                                                for key, schema in properties.items() if key != "reason"})
    assert found == SCHEMAS
