"""Router predicates for the vllm-eks policy pack: which workloads run a request router, and on which ports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from _kubernetes import DEPLOYMENT, containers, flag_values, parse_image, pod_spec
from _stack import StackView
from _values import UNKNOWN, as_list, as_number, contains_unknown, get, is_unknown

ROUTER_CONFIG = {
    "routerImageNames": {
        "type": "array", "items": {"type": "string"}, "default": ["vllm-router"],
        "description": "Image names (last path segment, no tag) or commands of request routers (vllm-router "
                       "serves unauthenticated admin routes on its serving port).",
    },
}


def is_router_container(container: Mapping, config: Mapping) -> bool:
    image = container.get("image")
    if isinstance(image, str) and not is_unknown(image):
        if parse_image(image)[0].rsplit("/", 1)[-1] in config["routerImageNames"]:
            return True
    return any(isinstance(c, str) and c.rsplit("/", 1)[-1] in config["routerImageNames"]
               for c in as_list(container.get("command"))[:1])


def serving_ports(container: Mapping) -> Any:
    """The router's serving port (`--port`, and its container port's name); the Prometheus port is apart. UNKNOWN
    when the command line or the container ports are not known yet."""
    metric_flags, port_flags = flag_values(container, "--prometheus-port"), flag_values(container, "--port")
    if is_unknown(metric_flags) or is_unknown(port_flags) or contains_unknown(container.get("ports")):
        return UNKNOWN
    metrics = {as_number(value) for value in metric_flags}
    ports: set = {as_number(value) for value in port_flags}
    for port in as_list(container.get("ports")):
        number = as_number(get(port, "containerPort"))
        if number not in metrics:
            ports.add(number)
            if isinstance(get(port, "name"), str):
                ports.add(get(port, "name"))
    return {port for port in ports if port is not None}


def router_workloads(view: StackView, config: Mapping) -> list[tuple[Any, dict, list[dict]]]:
    """(Deployment, its props, its router containers) for every Deployment that runs a router."""
    found = []
    for deployment in view.of_type(DEPLOYMENT):
        props = view.p(deployment)
        routers = [c for c in containers(pod_spec(deployment.resource_type, props), include_init=False)
                   if is_router_container(c, config)]
        if routers:
            found.append((deployment, props, routers))
    return found
