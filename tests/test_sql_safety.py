"""No SQL in ``rmds/`` is built by splicing a value, a path or a name into text.

Text that looks like SQL (an uppercase keyword such as SELECT, FROM or COPY) may only
interpolate, by f-string, ``%``, ``.format`` or ``+``:

* a call to ``lit``, ``lit_list``, ``ident``, ``col`` (:mod:`rmds.engine.sql`) or
  ``literal`` (:mod:`rmds.lake.store`);
* a name, attribute or call whose final name ends in ``_sql`` (``_SQL`` for a constant): a
  fragment built under the same rule;
* a constant written in the source, or a conditional expression whose branches are allowed.

Anything else is reported as ``path:line: expression``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SQL_KEYWORDS = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|ATTACH|COPY|FROM|WHERE|JOIN|"
    r"GROUP\s+BY|ORDER\s+BY|VALUES|SET|CALL|LOAD)\b")
RENDERERS = frozenset({"lit", "lit_list", "ident", "col", "literal"})


def _final_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def allowed(node: ast.expr) -> bool:
    """Whether ``node`` may be interpolated into SQL text."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.IfExp):
        return allowed(node.body) and allowed(node.orelse)
    name = _final_name(node)
    if name is None:
        return False
    if isinstance(node, ast.Call) and name in RENDERERS:
        return True
    return name.endswith(("_sql", "_SQL"))


def _text(node: ast.expr) -> str | None:
    """The constant text of a string or f-string, ``None`` for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values
                       if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return None


def _looks_like_sql(text: str | None) -> bool:
    return text is not None and SQL_KEYWORDS.search(text) is not None


def _add_operands(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _add_operands(node.left) + _add_operands(node.right)
    return [node]


class _Checker(ast.NodeVisitor):
    def __init__(self, label: str) -> None:
        self.label = label
        self.offenders: list[str] = []
        self._seen: set[int] = set()

    def _flag(self, node: ast.expr) -> None:
        if not allowed(node) and id(node) not in self._seen:
            self._seen.add(id(node))
            self.offenders.append(f"{self.label}:{node.lineno}: {ast.unparse(node)}")

    def _check_fstring(self, node: ast.JoinedStr) -> None:
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                self._flag(part.value)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        if _looks_like_sql(_text(node)):
            self._check_fstring(node)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Mod) and _looks_like_sql(_text(node.left)):
            values = node.right.elts if isinstance(node.right, ast.Tuple) else (
                [v for v in node.right.values] if isinstance(node.right, ast.Dict)
                else [node.right])
            for value in values:
                self._flag(value)
        elif isinstance(node.op, ast.Add):
            operands = _add_operands(node)
            if _looks_like_sql("".join(_text(o) or " " for o in operands)):
                for operand in operands:
                    if isinstance(operand, ast.JoinedStr):
                        self._check_fstring(operand)
                    elif _text(operand) is None:
                        self._flag(operand)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr == "format"
                and _looks_like_sql(_text(func.value))):
            for arg in node.args:
                self._flag(arg.value if isinstance(arg, ast.Starred) else arg)
            for keyword in node.keywords:
                self._flag(keyword.value)
        self.generic_visit(node)


def offenders_in(source: str, label: str) -> list[str]:
    """Every interpolation the rule forbids in ``source``, as ``label:line: expression``."""
    checker = _Checker(label)
    checker.visit(ast.parse(source))
    return checker.offenders


def test_no_sql_in_rmds_is_built_by_splicing_values() -> None:
    found: list[str] = []
    for path in sorted((ROOT / "rmds").rglob("*.py")):
        found += offenders_in(path.read_text(encoding="utf-8"),
                              path.relative_to(ROOT).as_posix())
    assert not found, "SQL montado com valores interpolados:\n" + "\n".join(found)


def test_the_checker_catches_a_spliced_value_and_accepts_rendered_ones() -> None:
    source = (
        "x = input()\n"
        "bad = f\"SELECT * FROM t WHERE a = '{x}'\"\n"
        "good = f\"SELECT * FROM {ident(x)} WHERE a = {lit(x)} AND {where_sql}\"\n"
        "bad_mod = \"DELETE FROM t WHERE a = '%s'\" % x\n"
        "bad_format = \"ATTACH '{}' AS lake\".format(x)\n"
        "bad_plus = \"COPY t TO '\" + x + \"'\"\n"
        "good_plus = \"COPY t TO \" + literal(x)\n"
        "prose = f'{x} linhas carregadas'\n"
    )
    assert offenders_in(source, "m.py") == [
        "m.py:2: x", "m.py:4: x", "m.py:5: x", "m.py:6: x"]
