"""The Pulumi package schema of the library, inferred by the SDK's own analyzer exactly as the provider host does
(`component_provider_host` -> `ComponentProvider` -> `Analyzer.analyze` -> `generate_schema`), and its golden copy.

    .venv/bin/python tests/provider_schema.py --write   # regenerate provider/schema.json and README's component table
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_SCHEMA = ROOT / "provider" / "schema.json"
PACKAGE = "vllm-eks"
README = ROOT / "README.md"
TABLE_BEGIN = "<!-- component-table:begin (generated from the schema by `tests/provider_schema.py --write`) -->"
TABLE_END = "<!-- component-table:end -->"


def inferred_schema() -> dict[str, Any]:
    from pulumi.provider.experimental.component import ComponentProvider

    from vllm_eks import __version__
    from vllm_eks.components import PUBLIC_COMPONENTS

    # The provider's GetSchema answers with this string (pulumi/provider/provider.py Provider.schema).
    return json.loads(ComponentProvider(PUBLIC_COMPONENTS, PACKAGE, version=__version__).schema)


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=1, sort_keys=True) + "\n"


def component_table(schema: dict[str, Any]) -> str:
    """README's component table: what other languages see (token, description, outputs) and where Python imports it."""
    from vllm_eks.components import PUBLIC_COMPONENTS

    packages = {component.__name__: component.__module__.rsplit(".", 1)[0] for component in PUBLIC_COMPONENTS}
    lines = [TABLE_BEGIN, "", "| component | Python | what it creates | outputs |", "| --- | --- | --- | --- |"]
    for token, resource in schema["resources"].items():
        name = token.rsplit(":", 1)[1]
        description = " ".join(resource["description"].split())
        outputs = ", ".join(f"`{output}`" for output in resource["properties"])
        lines.append(f"| `{token}` | `from {packages[name]} import {name}` | {description} | {outputs} |")
    return "\n".join(lines + ["", TABLE_END])


def readme_with_table(readme: str, table: str) -> str:
    return readme[: readme.index(TABLE_BEGIN)] + table + readme[readme.index(TABLE_END) + len(TABLE_END):]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:] != ["--write"]:
        raise SystemExit(__doc__)
    current = inferred_schema()
    GOLDEN_SCHEMA.write_text(schema_text(current))
    README.write_text(readme_with_table(README.read_text(), component_table(current)))
