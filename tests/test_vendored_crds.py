"""The CRDs vendored in tests/crds: unmodified since they were copied, and from the release the stack installs."""

import hashlib
import re

import pytest

from vllm_eks.planning import catalog
from k8s_schemas import CRDS_DIR, known_custom_resources

ROWS = re.findall(
    r"^\| (\S+\.yaml) \| (\S+) \| (\S+) \| (v[0-9.]+) \| ([A-Z_]+) \| [^|]+ \| ([0-9a-f]{64}) \|$",
    (CRDS_DIR / "README.md").read_text(),
    flags=re.M,
)


def _catalog_version(name: str) -> str:
    value = getattr(catalog, name)
    return (value.version if isinstance(value, catalog.HelmChart) else value).lstrip("v")


def test_the_table_lists_every_vendored_file_once():
    assert sorted(row[0] for row in ROWS) == sorted(path.name for path in CRDS_DIR.glob("*.yaml"))


@pytest.mark.parametrize("row", ROWS, ids=[row[0] for row in ROWS])
def test_each_file_is_the_upstream_copy_of_the_version_the_stack_installs(row):
    name, _repository, _path, tag, catalog_name, digest = row
    assert hashlib.sha256((CRDS_DIR / name).read_bytes()).hexdigest() == digest, f"{name} changed since it was vendored"
    assert tag == f"v{_catalog_version(catalog_name)}", f"{name} is from {tag}, the stack installs {catalog_name}"
    for licence in re.findall(r"LICENSE\.[\w-]+", next(line for line in (CRDS_DIR / "README.md").read_text().splitlines() if line.startswith(f"| {name}"))):
        assert "Apache License" in (CRDS_DIR / licence).read_text()


def test_every_custom_resource_kind_the_stack_renders_has_a_schema():
    assert {
        ("keda.sh/v1alpha1", "ScaledObject"),
        ("keda.sh/v1alpha1", "TriggerAuthentication"),
        ("karpenter.sh/v1", "NodePool"),
        ("karpenter.k8s.aws/v1", "EC2NodeClass"),
        ("elbv2.k8s.aws/v1beta1", "TargetGroupBinding"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
    } <= known_custom_resources()
