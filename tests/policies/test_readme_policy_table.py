"""The README's policy table lists exactly the pack's policies, with the level the pack declares (GetAnalyzerInfo)
and the level each stack's policy config (policies/config/<stack>.json) gives it, reconciled as the CLI does."""

import re
from pathlib import Path

from preflight.policy_config import load_policy_pack_config, reconcile

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
LEVEL = "(mandatory|advisory|disabled)"


def test_policy_table_lists_every_policy_with_its_level_per_stack(pack):
    rows = {name: (pack_level, dev, prod) for name, pack_level, dev, prod in re.findall(
        rf"^\| `([a-z0-9-]+)` \| [a-z]+ \| {LEVEL} \| {LEVEL} \| {LEVEL} \|", README, flags=re.M)}
    policies = pack.policies()
    per_stack = {stack: reconcile(policies, pack.initial_config(),
                                  load_policy_pack_config(ROOT / "policies" / "config" / f"{stack}.json")[0])
                 for stack in ("dev", "prod")}
    expected = {p["name"]: (p["enforcementLevel"], per_stack["dev"][p["name"]]["enforcementLevel"],
                            per_stack["prod"][p["name"]]["enforcementLevel"]) for p in policies}
    assert rows == expected
