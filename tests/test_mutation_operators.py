"""The mutation benchmark's string operator (scripts/mutation_operators.py): it plants `XX` in strings a machine
reads and leaves sentences for people alone, including a sentence split over an implicit concatenation."""

from __future__ import annotations

import sys
from pathlib import Path

from cosmic_ray.ast import ast_nodes, get_ast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from mutation_operators import ReplaceString  # noqa: E402

SOURCE = '''
ACTION = "s3:GetObject"
HELP = ("Render the stack under mocks and check it with the policy pack, "
        "as pulumi preview "
        "would.")
ARN = ("arn:aws:iam::" "123456789012:role/reader")
MESSAGE = (f"{name}: got {value!r}, "
           "expected a number between one and eight.")
ADVICE = (f"{label} sets {name} as a literal env value; take it "
          "from a Secret (valueFrom.secretKeyRef or a mounted secret file).")


def f():
    """A docstring is never mutated."""
    return "label"
'''


def _mutated_strings() -> list[str]:
    operator = ReplaceString()
    return [node.value for node in ast_nodes(get_ast(SOURCE)) for _ in operator.mutation_positions(node)]


def test_machine_read_strings_are_mutated_sentences_are_not():
    assert _mutated_strings() == ['"s3:GetObject"', '"arn:aws:iam::"', '"123456789012:role/reader"', '"label"']
