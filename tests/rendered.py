"""Rendered snapshots and lookups in them, shared by the test modules."""

from functools import lru_cache

from preflight.render import read_stack_config, render_config, render_stack


def resources_of(snapshot: dict, type_token: str) -> list[dict]:
    return [resource for resource in snapshot["resources"] if resource["type"] == type_token]


def resource_named(snapshot: dict, type_token: str, name: str) -> dict:
    matches = [r for r in resources_of(snapshot, type_token) if r["name"] == name]
    assert len(matches) == 1, f"expected one {type_token} named {name}, found {[r['name'] for r in resources_of(snapshot, type_token)]}"
    return matches[0]


@lru_cache(maxsize=None)
def rendered(stack: str) -> dict:
    """The snapshot of a shipped stack, rendered once per test session (shared with the conftest fixtures)."""
    return render_stack(stack)


@lru_cache(maxsize=None)
def rendered_without_cloudfront(stack: str) -> dict:
    """A shipped stack with `edge.cloudfront: false`: the WAF then sits on the API Gateway stage."""
    config = read_stack_config(stack)
    edge = {key: value for key, value in config["vllm-eks:edge"].items() if key not in ("domainName", "certificateArn")}
    return render_config(stack, {**config, "vllm-eks:edge": {**edge, "cloudfront": False}})


@lru_cache(maxsize=None)
def rendered_first_preview(stack: str) -> dict:
    """A shipped stack as a first `pulumi preview` sees it: computed values unknown (preflight.mocks preview mode)."""
    return render_stack(stack, preview=True)
