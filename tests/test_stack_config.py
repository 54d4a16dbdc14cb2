"""Stack config: the shipped stacks load; every bad value is reported with its path, value and what is allowed."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from preflight.render import PROJECT_DIR, read_stack_config
from stack_config import SECTIONS, StackConfigError, load_stack_config


def sections_of(stack: str) -> dict:
    config = read_stack_config(stack)
    return {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith("vllm-eks:")}


def problems_for(stack: str, **changes) -> list[str]:
    sections = sections_of(stack)
    for dotted, value in changes.items():
        section, *path = dotted.split("__")
        target = sections.setdefault(section, {})
        for key in path[:-1]:
            target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
        target[path[-1]] = value
    with pytest.raises(StackConfigError) as error:
        load_stack_config(sections)
    return error.value.problems


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_shipped_stacks_load(stack):
    config = load_stack_config(sections_of(stack))
    assert config.models and config.edge.consumers


def test_safe_defaults():
    config = load_stack_config(sections_of("prod"))
    assert config.cluster.endpoint_public_access is False
    assert config.network.availability_zones == 3
    assert [(model.gpu_memory_utilization, model.startup_budget_seconds) for model in config.models] == [(0.92, 300)]


# Every default of the schema, written out. The catalog's facts (the EKS version in standard support, the spot
# discount, CloudFront's default origin-timeout limit) are compared with the catalog where they live.
DEFAULTS = {
    "network": {"cidr": "10.0.0.0/16", "availabilityZones": 3, "natGateways": "perAz",
                "interfaceEndpoints": ["ecr.api", "ecr.dkr", "sts", "logs"], "flowLogRetentionDays": 30},
    "cluster": {"endpointPublicAccess": False, "publicAccessCidrs": [], "adminPrincipalArn": None,
                "deployerCidrs": [], "deployerSecurityGroupIds": [],
                "systemNodes": {"instanceTypes": ["m7i.xlarge"], "minSize": 2, "desiredSize": 2, "maxSize": 4},
                "gpuAmiFamily": "bottlerocket", "gpuNodeVolumeGib": 200, "maxGpus": 32,
                "huggingFaceTokenSecretName": None, "dockerHubCredentialsSecretName": "ecr-pullthroughcache/docker-hub",
                "githubCredentialsSecretName": "ecr-pullthroughcache/github"},
    "models": [{"name": "m", "servedName": "m", "catalogModel": "qwen3-8b", "huggingFaceId": None,
                "syncFromHuggingFace": False, "s3Prefix": None, "dtype": "auto", "maxModelLen": 4096,
                "quantization": None, "instanceType": "auto", "minReplicas": 1, "maxReplicas": 2,
                "onDemandReplicas": 1, "capacityType": "on-demand", "gpuMemoryUtilization": 0.92,
                "loadFormat": "runai_streamer", "startupBudgetSeconds": 300, "thinking": None, "loraAdapters": [],
                "speculative": None, "image": None}],
    "autoscaling": {"queueThresholdPerReplica": 10, "pollingIntervalSeconds": 15, "scaleDownWindowSeconds": 300,
                    "scaleUpWindowSeconds": 0, "fallbackReplicas": 1, "workingHours": None},
    "observability": {"prometheusRetentionDays": 15, "prometheusStorageGib": 50, "grafana": True,
                      "logRetentionDays": 30,
                      "alerts": {"ttftP95Seconds": 2.0, "kvCacheUsageRatio": 0.95, "requestsWaiting": 50,
                                 "errorRatio": 0.01},
                      "alerting": {"allowNoReceiver": True, "snsTopicArn": None}},
    "edge": {"cloudfront": False, "domainName": None, "certificateArn": None, "maxRequestSeconds": 300,
             "maxBodyKib": 64, "rateLimitPerKey5Min": 2000, "rateLimitPerIp5Min": 5000,
             "consumers": [{"name": "c", "requestsPerSecond": 1.0, "burst": 1, "monthlyQuota": None, "keyVersion": 1}],
             "manageApiGatewayAccount": True, "hostedZoneId": None},
    "plan": {"typicalPromptTokens": 1024, "typicalOutputTokens": 256, "utilisation": 0.5,
             "hostedApiUsdPerMillionOutputTokens": None},
}


def test_every_default_is_the_documented_one():
    from vllm_eks.planning import catalog

    minimal = {"models": [{"name": "m", "servedName": "m", "catalogModel": "qwen3-8b", "maxModelLen": 4096}],
               "edge": {"cloudfront": False, "consumers": [{"name": "c", "requestsPerSecond": 1, "burst": 1}]},
               "observability": {"alerting": {"allowNoReceiver": True}}}
    loaded = load_stack_config(minimal).model_dump(mode="json", by_alias=True)
    assert loaded["cluster"].pop("version") == catalog.EKS_SUPPORTED_VERSIONS[2]
    assert loaded["plan"].pop("spotDiscount") == catalog.SPOT_DISCOUNT_DEFAULT
    quota = loaded["edge"].pop("cloudfrontOriginTimeoutQuotaSeconds")
    assert quota == catalog.CLOUDFRONT_ORIGIN_TIMEOUT_DEFAULT_LIMIT_SECONDS
    assert loaded == DEFAULTS
    # With CloudFront on (its default), the default 300 s request budget needs more than the default quota: a stack
    # must state either, and the error says which.
    with pytest.raises(StackConfigError, match=r"edge.cloudfrontOriginTimeoutQuotaSeconds: got 180, expected at least 305"):
        load_stack_config({**minimal, "edge": {"consumers": minimal["edge"]["consumers"]}})


def test_dev_and_prod_match_the_brief():
    dev, prod = load_stack_config(sections_of("dev")), load_stack_config(sections_of("prod"))
    assert (dev.network.availability_zones, dev.network.nat_gateways) == (2, "single")
    assert (dev.models[0].catalog_model, dev.models[0].instance_type, dev.models[0].min_replicas) == ("qwen3-1.7b", "g6.2xlarge", 0)
    assert dev.autoscaling.working_hours is not None
    assert (prod.network.availability_zones, prod.network.nat_gateways) == (3, "perAz")
    model = prod.models[0]
    assert (model.catalog_model, model.instance_type, model.min_replicas, model.max_replicas) == ("qwen3-8b", "g5.12xlarge", 2, 8)


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"models__0__maxReplicas": -1}, "models[0].maxReplicas: got -1, expected an integer >= minReplicas (2) and >= 1"),
        ({"models__0__minReplicas": -1}, "models[0].minReplicas: got -1, expected an integer >= 0"),
        ({"models__0__gpuMemoryUtilization": 0.99}, "models[0].gpuMemoryUtilization: got 0.99, expected a number <= 0.95"),
        ({"models__0__instanceType": "g9.mega"}, "models[0].instanceType: got 'g9.mega', expected 'auto' or a GPU instance type the catalog knows"),
        ({"models__0__catalogModel": "gpt-5"}, "models[0].catalogModel: got 'gpt-5', expected one of the catalog models"),
        ({"models__0__startupBudgetSeconds": 60}, "models[0].startupBudgetSeconds: got 60, expected an integer >= 300"),
        ({"models__0__capacityType": "reserved"}, "models[0].capacityType: got 'reserved', expected one of"),
        ({"models__0__maxReplicaz": 3}, "models[0].maxReplicaz: got 3, expected no such setting"),
        ({"network__cidr": "8.8.0.0/16"}, "network.cidr: got '8.8.0.0/16', expected a private IPv4 block"),
        ({"network__availabilityZones": 1}, "network.availabilityZones: got 1, expected an integer >= 2"),
        ({"network__natGateways": "none"}, "network.natGateways: got 'none', expected one of 'single' or 'perAz'"),
        ({"cluster__endpointPublicAccess": True}, "cluster.publicAccessCidrs: got [], expected at least one CIDR block"),
        ({"cluster__publicAccessCidrs": ["0.0.0.0/0"]}, "cluster.publicAccessCidrs: got ['0.0.0.0/0'], expected restricted CIDR blocks"),
        ({"cluster__adminPrincipalArn": "admin"}, "cluster.adminPrincipalArn: got 'admin', expected an IAM role or user ARN"),
        ({"autoscaling__workingHours": {"timezone": "Mars/Olympus"}}, "autoscaling.workingHours.timezone: got 'Mars/Olympus', expected an IANA time zone"),
        ({"edge__maxRequestSeconds": 1200}, "edge.maxRequestSeconds: got 1200, expected an integer <= 900"),
    ],
)
def test_each_bad_value_names_its_setting(change, expected):
    problems = problems_for("prod", **change)
    assert any(problem.startswith(expected) for problem in problems), problems


def _problems_with(edit) -> list[str]:
    sections = sections_of("prod")
    edit(sections)
    with pytest.raises(StackConfigError) as error:
        load_stack_config(sections)
    return error.value.problems


@pytest.mark.parametrize(
    "edit, expected",
    [  # a YAML value of the wrong type, for every kind of setting (pydantic's error types, said in words)
        (lambda s: s["models"][0].update(maxReplicas=[3]), "models[0].maxReplicas: got [3], expected an integer"),
        (lambda s: s["models"][0].update(maxReplicas="three"), "models[0].maxReplicas: got 'three', expected an integer"),
        (lambda s: s["models"][0].update(maxReplicas=3.5), "models[0].maxReplicas: got 3.5, expected a whole number"),
        (lambda s: s["models"][0].update(gpuMemoryUtilization=[0.9]),
         "models[0].gpuMemoryUtilization: got [0.9], expected a number"),
        (lambda s: s["models"][0].update(gpuMemoryUtilization="high"),
         "models[0].gpuMemoryUtilization: got 'high', expected a number"),
        (lambda s: s.setdefault("cluster", {}).update(endpointPublicAccess=[True]),
         "cluster.endpointPublicAccess: got [True], expected true or false"),
        (lambda s: s.setdefault("cluster", {}).update(endpointPublicAccess="maybe"),
         "cluster.endpointPublicAccess: got 'maybe', expected true or false"),
        (lambda s: s.setdefault("network", {}).update(cidr=10), "network.cidr: got 10, expected a string"),
        (lambda s: s.setdefault("cluster", {}).update(publicAccessCidrs="10.0.0.0/8"),
         "cluster.publicAccessCidrs: got '10.0.0.0/8', expected a list"),
        (lambda s: s.update(network="big"), "network: got 'big', expected an object"),
        (lambda s: s.update(models=["qwen3-8b"]), "models[0]: got 'qwen3-8b', expected an object"),
        (lambda s: s["models"][0].pop("catalogModel"),
         "models[0].catalogModel: got nothing, expected a value (this setting is required)"),
    ],
    ids=["int-list", "int-word", "int-fraction", "float-list", "float-word", "bool-list", "bool-word", "string-number",
         "list-string", "object-string", "list-item-string", "required-missing"],
)
def test_a_value_of_the_wrong_type_says_what_type_is_expected(edit, expected):
    assert expected in _problems_with(edit)


def test_every_problem_is_reported_at_once():
    problems = problems_for(
        "prod", models__0__maxReplicas=-1, network__availabilityZones=1, edge__maxRequestSeconds=5, observability__grafana="maybe"
    )
    assert [p.split(":")[0] for p in problems] == [
        "network.availabilityZones",
        "models[0].maxReplicas",
        "observability.grafana",
        "edge.maxRequestSeconds",
    ]


def test_duplicate_model_names_are_refused():
    sections = sections_of("prod")
    sections["models"].append(dict(sections["models"][0]))
    with pytest.raises(StackConfigError, match=r"models: got .*expected models with unique names, but \['qwen3-8b'\] repeat"):
        load_stack_config(sections)


def test_unknown_section_is_refused():
    sections = sections_of("dev") | {"netwrok": {}}
    with pytest.raises(StackConfigError, match="vllm-eks:netwrok: got a value, expected one of the sections"):
        load_stack_config(sections)
    assert "netwrok" not in SECTIONS


def test_preflight_render_of_a_bad_stack_names_every_key_without_a_traceback(tmp_path: Path):
    config = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    config["config"]["vllm-eks:models"][0].update({"maxReplicas": -1, "gpuMemoryUtilization": 2})
    config["config"]["vllm-eks:network"]["availabilityZones"] = 1
    stack_path = tmp_path / "Pulumi.broken.yaml"
    stack_path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "preflight", "render", "--stack-file", str(stack_path)]
    result = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for key in ("models[0].maxReplicas: got -1", "models[0].gpuMemoryUtilization: got 2", "network.availabilityZones: got 1"):
        assert key in result.stderr


def _set(sections: dict, setting: str, value) -> None:
    """Set `models[0].speculative.numSpeculativeTokens`-style paths, creating objects on the way."""
    *parents, last = re.findall(r"[A-Za-z0-9]+|\[\d+\]", setting)
    target = sections
    for part in parents:
        target = target[int(part[1:-1])] if part.startswith("[") else target.setdefault(part, {})
    target[last] = value


def _problems(stack: str, changes: dict) -> list[str]:
    sections = sections_of(stack)
    for setting, value in changes.items():
        _set(sections, setting, value)
    try:
        load_stack_config(sections)
    except StackConfigError as error:
        return error.problems
    return []


_NGRAM = {"models[0].speculative.method": "ngram"}
_NO_CLOUDFRONT = {"edge.cloudfront": False, "edge.domainName": None, "edge.certificateArn": None,
                  "edge.cloudfrontOriginTimeoutQuotaSeconds": 60}

# (setting, the last accepted value, the first refused value beyond it, other settings the case needs) on each side
# of every bound of the schema, written out here rather than read from it.
BOUNDARIES = [
    ("network.availabilityZones", 2, 1, {}),
    ("network.availabilityZones", 6, 7, {}),
    ("cluster.systemNodes.minSize", 1, 0, {}),
    ("cluster.systemNodes.desiredSize", 1, 0, {}),
    ("cluster.systemNodes.maxSize", 3, 2, {}),  # prod's minSize is 3
    ("cluster.gpuNodeVolumeGib", 100, 99, {}),
    ("cluster.gpuNodeVolumeGib", 2000, 2001, {}),
    ("cluster.maxGpus", 1, 0, {}),
    ("models[0].maxModelLen", 256, 255, {}),
    ("models[0].minReplicas", 0, -1, {}),
    ("models[0].maxReplicas", 2, 1, {"models[0].onDemandReplicas": 1}),  # prod's minReplicas is 2
    ("models[0].maxReplicas", 1, 0, {"models[0].minReplicas": 0, "models[0].onDemandReplicas": 0}),
    ("models[0].onDemandReplicas", 0, -1, {}),
    ("models[0].onDemandReplicas", 8, 9, {}),  # prod's maxReplicas is 8
    ("models[0].gpuMemoryUtilization", 0.80, 0.79, {}),
    ("models[0].gpuMemoryUtilization", 0.95, 0.96, {}),
    ("models[0].startupBudgetSeconds", 300, 299, {}),
    ("models[0].speculative.numSpeculativeTokens", 1, 0, _NGRAM),
    ("models[0].speculative.numSpeculativeTokens", 16, 17, _NGRAM),
    ("models[0].speculative.promptLookupMax", 1, 0, {**_NGRAM, "models[0].speculative.numSpeculativeTokens": 4}),
    ("autoscaling.queueThresholdPerReplica", 1, 0, {}),
    ("autoscaling.pollingIntervalSeconds", 5, 4, {}),
    ("autoscaling.pollingIntervalSeconds", 300, 301, {}),
    ("autoscaling.scaleDownWindowSeconds", 60, 59, {}),
    ("autoscaling.scaleUpWindowSeconds", 0, -1, {}),
    ("autoscaling.fallbackReplicas", 1, 0, {}),
    ("observability.prometheusRetentionDays", 1, 0, {}),
    ("observability.prometheusRetentionDays", 365, 366, {}),
    ("observability.prometheusStorageGib", 10, 9, {}),
    ("observability.alerts.ttftP95Seconds", 0.001, 0, {}),
    ("observability.alerts.kvCacheUsageRatio", 0.001, 0, {}),
    ("observability.alerts.kvCacheUsageRatio", 1, 1.001, {}),
    ("observability.alerts.requestsWaiting", 1, 0, {}),
    ("observability.alerts.errorRatio", 0.001, 0, {}),
    ("observability.alerts.errorRatio", 0.999, 1, {}),
    ("edge.maxRequestSeconds", 30, 29, _NO_CLOUDFRONT),
    ("edge.maxRequestSeconds", 900, 901, _NO_CLOUDFRONT),
    ("edge.maxBodyKib", 8, 7, {}),
    ("edge.maxBodyKib", 64, 65, {}),
    ("edge.rateLimitPerKey5Min", 10, 9, {}),
    ("edge.rateLimitPerIp5Min", 10, 9, {}),
    ("edge.consumers[0].requestsPerSecond", 0.001, 0, {}),
    ("edge.consumers[0].burst", 1, 0, {}),
    ("edge.consumers[0].monthlyQuota", 1, 0, {}),
    ("edge.consumers[0].keyVersion", 1, 0, {}),
    # CloudFront's origin timeout must outlast the longest request by the 5 s hop margin (prod: 600 s requests).
    ("edge.cloudfrontOriginTimeoutQuotaSeconds", 605, 604, {}),
    ("edge.cloudfrontOriginTimeoutQuotaSeconds", 900, 901, {"edge.maxRequestSeconds": 895}),
    ("plan.typicalPromptTokens", 1, 0, {}),
    ("plan.typicalOutputTokens", 1, 0, {}),
    ("plan.utilisation", 0.001, 0, {}),
    ("plan.utilisation", 1, 1.001, {}),
    ("plan.spotDiscount", 0, -0.001, {}),
    ("plan.spotDiscount", 0.999, 1, {}),
    ("plan.hostedApiUsdPerMillionOutputTokens", 0.001, 0, {}),
]


@pytest.mark.parametrize("setting, accepted, refused, context", BOUNDARIES,
                         ids=[f"{row[0]}={row[1]}|{row[2]}" for row in BOUNDARIES])
def test_each_bound_accepts_its_last_value_and_refuses_the_next(setting, accepted, refused, context):
    assert _problems("prod", {**context, setting: accepted}) == []
    problems = _problems("prod", {**context, setting: refused})
    assert [problem.split(": got")[0] for problem in problems] == [setting], problems
    assert problems[0].startswith(f"{setting}: got {refused!r}, expected "), problems


# The values each enumerated setting accepts (vLLM 0.32's --dtype/--quantization/--load-format choices that the
# program supports, CloudWatch Logs' retention values from the PutRetentionPolicy API reference, vLLM's
# --max-lora-rank choices, the speculative methods of --speculative-config).
ENUMS = [
    ("network.natGateways", ["single", "perAz"], {}),
    ("network.flowLogRetentionDays", [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731], {}),
    ("cluster.gpuAmiFamily", ["bottlerocket", "al2023"], {}),
    ("models[0].dtype", ["auto", "bfloat16", "float16"], {}),
    ("models[0].quantization", ["awq", "gptq", "fp8"], {}),
    ("models[0].capacityType", ["on-demand", "spot", "on-demand-with-spot-burst"], {}),
    ("models[0].loadFormat", ["runai_streamer", "s3-sync"], {}),
    ("models[0].loraAdapters[0].rank", [1, 8, 16, 32, 64, 128, 256, 320, 512],
     {"models[0].loraAdapters": [{"name": "sql", "s3Prefix": "adapters/sql"}]}),
    ("models[0].speculative.method", ["ngram", "eagle", "eagle3", "draft_model"],
     {"models[0].speculative.numSpeculativeTokens": 4}),
    ("observability.logRetentionDays", [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365], {}),
]


@pytest.mark.parametrize("setting, allowed, context", ENUMS, ids=[row[0] for row in ENUMS])
def test_each_enumerated_setting_accepts_exactly_its_values(setting, allowed, context):
    for value in allowed:
        assert _problems("prod", {**context, setting: value}) == [], value
    refused = 2 if isinstance(allowed[0], int) else "other"
    problems = _problems("prod", {**context, setting: refused})
    assert [problem.split(": got")[0] for problem in problems] == [setting], problems
    assert all(repr(value) in problems[0] for value in allowed), problems[0]
