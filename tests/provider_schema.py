"""The Pulumi package schema of the library, inferred by the SDK's own analyzer exactly as the provider host does
(`component_provider_host` -> `ComponentProvider` -> `Analyzer.analyze` -> `generate_schema`), and its golden copy.

    .venv/bin/python tests/provider_schema.py --write   # regenerate provider/schema.json after an intentional change
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_SCHEMA = ROOT / "provider" / "schema.json"
PACKAGE = "vllm-eks"


def inferred_schema() -> dict[str, Any]:
    from pulumi.provider.experimental.component import ComponentProvider

    from vllm_eks import __version__
    from vllm_eks.components import PUBLIC_COMPONENTS

    # The provider's GetSchema answers with this string (pulumi/provider/provider.py Provider.schema).
    return json.loads(ComponentProvider(PUBLIC_COMPONENTS, PACKAGE, version=__version__).schema)


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:] != ["--write"]:
        raise SystemExit(__doc__)
    GOLDEN_SCHEMA.write_text(schema_text(inferred_schema()))
