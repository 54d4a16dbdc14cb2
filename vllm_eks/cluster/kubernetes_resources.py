"""Helm releases and custom resources the way the cluster's controllers are installed (atomic, with an explicit timeout)."""

import pulumi_kubernetes as k8s

from vllm_eks.planning.catalog import HELM_RELEASE_TIMEOUT_SECONDS, HelmChart


def helm_release(resource_name: str, chart: HelmChart, namespace: str, values: dict, opts) -> k8s.helm.v3.Release:
    oci = chart.repository.startswith("oci://")
    return k8s.helm.v3.Release(
        resource_name,
        name=chart.chart,
        chart=f"{chart.repository}/{chart.chart}" if oci else chart.chart,
        version=chart.version,
        repository_opts=None if oci else {"repo": chart.repository},
        namespace=namespace,
        values=values,
        atomic=True,
        # Explicit: the pods wait for system nodes that may still be joining on a first deploy (Helm's 300 s
        # default is too short for a node group and its images).
        timeout=HELM_RELEASE_TIMEOUT_SECONDS,
        opts=opts,
    )


def custom_resource(resource_name: str, obj: dict, opts) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        resource_name, api_version=obj["apiVersion"], kind=obj["kind"], metadata=obj["metadata"], spec=obj["spec"], opts=opts
    )
