"""Lookups in a rendered snapshot, shared by the test modules."""


def resources_of(snapshot: dict, type_token: str) -> list[dict]:
    return [resource for resource in snapshot["resources"] if resource["type"] == type_token]


def resource_named(snapshot: dict, type_token: str, name: str) -> dict:
    matches = [r for r in resources_of(snapshot, type_token) if r["name"] == name]
    assert len(matches) == 1, f"expected one {type_token} named {name}, found {[r['name'] for r in resources_of(snapshot, type_token)]}"
    return matches[0]
