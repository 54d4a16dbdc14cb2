"""The README's policy table lists exactly the pack's policies, each with the level the pack declares."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_policy_table_lists_every_policy_of_the_pack_with_its_level(pack):
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \| [a-z]+ \| (mandatory|advisory) \|", README, flags=re.M))
    declared = {policy["name"]: policy["enforcementLevel"] for policy in pack.policies()}
    assert rows == declared
