"""The shape of the code: no import cycle between the packages of rmds, and no module over
~500 lines without a reason written at its top."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "rmds"
LIMIT = 500
#: what a long module's docstring says to explain its length
REASON = "Why this module is long:"

#: modules over the limit that are allowed without a reason in their docstring: none
KNOWN_LONG: dict[str, str] = {}


def _package(path: Path) -> str:
    """``rmds/api/app.py`` → ``api``; ``rmds/cli.py`` → ``cli``."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> set[str]:
    return imports_of(path.read_text(encoding="utf-8"),
                      path.relative_to(ROOT).with_suffix("").parts)


def imports_of(source: str, here: tuple[str, ...]) -> set[str]:
    """The rmds packages a module (at ``rmds/<here>``) imports, anywhere in it: lazy
    imports in functions and imports for type checking count, they are dependencies all
    the same."""
    tree = ast.parse(source)
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:                      # relative: resolve against this module
                base = list(here[:len(here) - node.level])
                module = ".".join(["rmds", *base, *(node.module or "").split(".")]).strip(".")
                names = [module]
            else:
                names = [node.module or ""]
        for name in names:
            parts = name.split(".")
            if parts[0] == "rmds" and len(parts) > 1 and parts[1]:
                found.add(parts[1])
    return found


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        package = _package(path)
        graph.setdefault(package, set()).update(_imports(path) - {package})
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_reader_sees_every_form() -> None:
    source = ("import rmds.web.pages\nfrom rmds.lake import store\nfrom ..quality import x\n"
              "from . import cache\nimport os\n"
              "def f():\n    from rmds.territory import Level\n")
    assert imports_of(source, ("api", "probe")) == {"web", "lake", "quality", "territory",
                                                    "api"}


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    assert {"api", "web", "access", "indicators", "consortia", "quality"} <= set(graph)
    assert cycles(graph) == []
    # the layers the access policy and the server rely on
    assert "web" not in graph["api"], "the API does not import the pages"
    assert "indicators" not in graph["consortia"]
    assert "linkage" not in graph["quality"]
    assert graph["access"] <= {"store", "territory", "exceptions"}


def test_no_long_module_without_a_reason() -> None:
    unexplained, shrunk = [], []
    for path in sorted(ROOT.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if name in KNOWN_LONG:
            if lines <= LIMIT:
                shrunk.append(name)
            continue
        if lines > LIMIT:
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            if REASON not in doc:
                unexplained.append(f"{name} ({lines} linhas)")
    assert unexplained == [], f"modules over {LIMIT} lines need '{REASON}' in their docstring"
    assert shrunk == [], "back under the limit: take them off KNOWN_LONG"
    assert all(reason for reason in KNOWN_LONG.values())
    assert not KNOWN_LONG, "every long module says why at its top"
