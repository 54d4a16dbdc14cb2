"""The mutants of the mutation benchmark (scripts/mutation_benchmark.py): which modules, which operators, which
positions. Operators: a curated subset of cosmic-ray's core operators (one realistic slip per construct), plus a
string operator of our own; docstrings and sentences for people are left alone."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from cosmic_ray.ast import ast_nodes, get_ast
from cosmic_ray.operators.operator import Example, Operator
from cosmic_ray.plugins import get_operator

from mutation_report import Mutant
from mutation_targets import MUTATED_ROOTS

ROOT = Path(__file__).resolve().parent.parent


# ---- Operators ----------------------------------------------------------------------------------------------------

class ReplaceString(Operator):
    """Plant `XX` inside a string literal ("app" -> "XXapp"): a wrong label, action, type token or message."""

    def mutation_positions(self, node):
        if node.type == "string" and not _is_statement_string(node) and not _is_prose(_sentence_of(node)):
            yield (node.start_pos, node.end_pos)

    def mutate(self, node, index):
        value = node.value
        body = len(value) - len(value.lstrip("rRbBuU"))
        quote = value[body:body + 3] if value[body:body + 3] in ('"""', "'''") else value[body]
        node.value = value[:body + len(quote)] + "XX" + value[body + len(quote):]
        return node

    @classmethod
    def examples(cls):
        return (Example('x = "a"', 'x = "XXa"'), Example("x = r'''a'''", "x = r'''XXa'''"))


def _is_statement_string(node) -> bool:
    """A docstring, or any string that is a statement on its own (it changes nothing when mutated)."""
    parent = node.parent
    while parent is not None and parent.type == "strings":
        node, parent = parent, parent.parent
    return parent is not None and parent.type == "simple_stmt" and parent.children[0] is node


def _sentence_of(node) -> str:
    """The literal a string is part of: "a long " "sentence." (an implicit concatenation) is one sentence."""
    if node.parent is None or node.parent.type != "strings":
        return node.value
    parts = []
    for part in node.parent.children:
        if part.type == "fstring":  # its literal text, each field a "{}" (a value named in the sentence)
            parts.append("".join("{}" if child.type == "fstring_expr" else child.get_code()
                                 for child in part.children[1:-1]))
            continue
        try:
            value = ast.literal_eval(part.get_code().strip())
        except (ValueError, SyntaxError):
            value = "{}"
        parts.append(value if isinstance(value, str) else "{}")
    return repr("".join(parts))


_WORD = re.compile(r"^[A-Za-z][A-Za-z'’]*[,.;:!?)]?$|^\(?[a-z]+$|^[0-9]+$|^\{\}[,.;:!?)]?$")


def _is_prose(literal: str) -> bool:
    """A sentence for people (a description, part of a message): XX in it changes nothing a machine reads."""
    try:
        text = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return False
    words = text.split() if isinstance(text, str) else []
    return len(words) >= 3 and sum(bool(_WORD.match(word)) for word in words) >= 0.8 * len(words)


# One realistic slip per construct, not every operator pair (Add->Pow and friends are killed by anything).
CORE_OPERATORS = [
    "core/ReplaceComparisonOperator_Eq_NotEq", "core/ReplaceComparisonOperator_NotEq_Eq",
    "core/ReplaceComparisonOperator_Lt_LtE", "core/ReplaceComparisonOperator_LtE_Lt",
    "core/ReplaceComparisonOperator_Gt_GtE", "core/ReplaceComparisonOperator_GtE_Gt",
    "core/ReplaceComparisonOperator_Is_IsNot", "core/ReplaceComparisonOperator_IsNot_Is",
    "core/ReplaceBinaryOperator_Add_Sub", "core/ReplaceBinaryOperator_Sub_Add",
    "core/ReplaceBinaryOperator_Mul_Div", "core/ReplaceBinaryOperator_Div_Mul",
    "core/ReplaceBinaryOperator_FloorDiv_Div", "core/ReplaceUnaryOperator_USub_UAdd",
    "core/ReplaceUnaryOperator_Delete_Not", "core/AddNot", "core/ReplaceTrueWithFalse", "core/ReplaceFalseWithTrue",
    "core/ReplaceAndWithOr", "core/ReplaceOrWithAnd", "core/ReplaceBreakWithContinue",
    "core/ReplaceContinueWithBreak", "core/NumberReplacer", "core/ZeroIterationForLoop", "core/RemoveDecorator",
]


def operators() -> dict[str, Operator]:
    found = {name.removeprefix("core/"): get_operator(name)() for name in CORE_OPERATORS}
    found["ReplaceString"] = ReplaceString()
    return found


# ---- Enumeration --------------------------------------------------------------------------------------------------

def modules_in_scope() -> list[str]:
    found = []
    for root in MUTATED_ROOTS:
        path = ROOT / root
        files = [path] if path.is_file() else sorted(path.glob("*.py"))
        found += [str(file.relative_to(ROOT)) for file in files]
    return found


def enumerate_mutants(module: str, ops: dict[str, Operator]) -> list[Mutant]:
    tree = get_ast((ROOT / module).read_text())
    mutants = []
    for name, operator in ops.items():
        positions = [(node, start) for node in ast_nodes(tree) for start, _ in operator.mutation_positions(node)]
        mutants += [Mutant(module, name, occurrence, start[0]) for occurrence, (node, start) in enumerate(positions)
                    if not (name.startswith("ReplaceBinaryOperator")
                            and node.parent.type not in ("arith_expr", "term"))]
    return [mutant for mutant in mutants if not _in_main_guard(tree, mutant.line)]


# (cosmic-ray also sees the `*` of a keyword-only parameter list and of `**kwargs` as a multiplication; those
# mutants are skipped above, since `*` -> `/` there is a different signature, not an arithmetic slip.)


def _in_main_guard(tree, line: int) -> bool:
    """`if __name__ == "__main__":` blocks only dispatch to code that is mutated where it lives."""
    for node in tree.children:
        if node.type == "if_stmt" and "__name__" in node.children[1].get_code():
            if node.start_pos[0] <= line <= node.end_pos[0]:
                return True
    return False
