"""The dev and prod stacks render exactly as the committed golden copies (tests/golden/render-{dev,prod}.jsonl).

Why it exists: issue 19 moved the component library into the installable `vllm_eks` package; a refactor of the library
must not change what the stacks deploy (resource types, names, parents, inputs, options, dependencies, outputs).
After an intentional change of a stack, regenerate and review the diff:
    .venv/bin/python tests/golden_renders.py --write
"""

import pytest

from golden_renders import GOLDEN_DIR, differences, snapshot_lines
from rendered import rendered


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_render_matches_golden(stack: str) -> None:
    diff = differences(GOLDEN_DIR, stack, snapshot_lines(rendered(stack)))
    assert not diff, (f"{stack} renders differently from tests/golden/render-{stack}.jsonl (regenerate with "
                      "`.venv/bin/python tests/golden_renders.py --write` only if the change is intended):\n" + "\n".join(diff))


def test_a_changed_input_shows_in_the_diff() -> None:
    snapshot = rendered("dev")
    first = snapshot["resources"][0]
    changed = {**snapshot, "resources": [{**first, "name": first["name"] + "-renamed"}, *snapshot["resources"][1:]]}
    diff = differences(GOLDEN_DIR, "dev", snapshot_lines(changed))
    assert any(line.startswith("+") and "-renamed" in line for line in diff)
