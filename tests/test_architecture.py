"""The architecture: pkmodel's layers, read from its import statements, and what `import pkmodel`
loads.

LAYERS is the rule, lowest first: a module may import from its own layer and the layers below,
never from one above, and no chain of imports may come back to where it started. The graph is
read with `ast` from every `import` in pkmodel/ (at module level and inside functions alike, so
a lazy import cannot hide an upward one). Importing `pkmodel.a.b` also runs `pkmodel/a/__init__.py`,
so its imports count as the importer's too. The top-level `pkmodel/__init__.py` (the public
surface) is the one module above everything; nothing inside the package imports it.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pkmodel"

# Lowest first. A name is a module or a package (all modules under it); the longest name that
# matches a module gives its layer. analysis/ is split: its windows and exposure metrics sit
# below simulation (simulate(..., keep="exposure") reduces each chunk to them), its studies of
# many simulations (compare, dose finding, sensitivity, validation, summaries) above it.
LAYERS = (
    (
        "foundations",
        ("pkmodel._version", "pkmodel._checks", "pkmodel._arrays", "pkmodel._display", "pkmodel.units"),
    ),
    ("population", ("pkmodel.population",)),
    ("model", ("pkmodel.model",)),
    ("files", ("pkmodel.io.files", "pkmodel.io.csvfile", "pkmodel.io.provenance", "pkmodel.io.tables")),
    ("dosing", ("pkmodel.dosing",)),
    ("engines", ("pkmodel.engines", "pkmodel.engines._kernel")),  # _kernel: numba, imported only when used
    ("results", ("pkmodel.simulation.result", "pkmodel.io.resultfile", "pkmodel.io")),
    (
        "metrics",
        (
            "pkmodel.analysis.windows",
            "pkmodel.analysis.grid",
            "pkmodel.analysis.exposure",
            "pkmodel.analysis.steady_state",
        ),
    ),
    ("simulation", ("pkmodel.simulation",)),
    ("analysis", ("pkmodel.analysis",)),
    ("estimation", ("pkmodel.estimation",)),
    ("drugs", ("pkmodel.drugs",)),
    ("plots", ("pkmodel.plots",)),
    ("study", ("pkmodel.study", "pkmodel._study_tables")),
    ("report", ("pkmodel.report", "pkmodel._report_markdown")),
    ("cli", ("pkmodel.cli", "pkmodel._cli_args", "pkmodel.__main__")),
    ("surface", ("pkmodel",)),
)


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by the name of its __init__)."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def imports_of(name: str, path: Path, modules) -> set[str]:
    """The pkmodel modules `name` imports anywhere in its file (module or function level)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            # `from pkg import mod` imports the module; `from mod import name` the module
            targets = [
                f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module
                for alias in node.names
            ]
        else:
            continue
        found |= {t for t in targets if t == "pkmodel" or t.startswith("pkmodel.")}
    unknown = found - set(modules)
    assert not unknown, f"{name} imports {sorted(unknown)}, which are not modules of pkmodel"
    return found


def import_graph() -> dict[str, set[str]]:
    """name -> the modules it imports, with the package __init__s those imports run."""
    modules = module_names()
    direct = {name: imports_of(name, path, modules) for name, path in modules.items()}
    graph = {}
    for name, targets in direct.items():
        edges = set(targets)
        for target in targets:
            parts = target.split(".")
            for i in range(2, len(parts)):  # pkmodel.a.b runs pkmodel/a/__init__.py
                parent = ".".join(parts[:i])
                if not name.startswith(parent + ".") and direct[parent]:
                    edges.add(parent)
        graph[name] = edges - {name}
    return graph


def layer_of(name: str) -> int:
    best = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if name == prefix or name.startswith(prefix + "."):
                if best is None or len(prefix) > len(best[1]):
                    best = (rank, prefix)
    assert best is not None, f"{name} is in no layer of LAYERS; give it one"
    return best[0]


def test_every_module_has_a_layer():
    for name in module_names():
        layer_of(name)


def test_no_module_imports_from_a_layer_above_its_own():
    upward = [
        f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for name, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(name)
    ]
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_nothing_inside_the_package_imports_the_public_surface():
    inside = sorted(n for n, targets in import_graph().items() if "pkmodel" in targets and n != "pkmodel")
    assert not inside, f"{inside} import pkmodel/__init__.py; import the module that defines the name"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_import_graph_has_no_cycle():
    graph = {n: t - {"pkmodel"} for n, t in import_graph().items() if n != "pkmodel"}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    # the check above would pass vacuously if cycles() never found one
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_layer_check_sees_a_function_level_import(tmp_path):
    # an upward import hidden in a function is still an edge of the graph
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from ..plots import percentile_band\n")
    modules = {"pkmodel.dosing.m": path, "pkmodel.plots": path}
    assert imports_of("pkmodel.dosing.m", path, modules) == {"pkmodel.plots"}
    assert layer_of("pkmodel.plots") > layer_of("pkmodel.dosing.m")


HEAVY = ("pyarrow", "matplotlib", "dask", "distributed", "sympy", "numba")

# Runs in a fresh interpreter: any import of a heavy library while `import pkmodel` runs is
# recorded with the file that asked for it. pandas (2.x) itself probes for pyarrow when it is
# imported, which pkmodel cannot prevent without importing pandas lazily; so the heavy
# libraries are made unavailable, and the test asks that pkmodel import all the same, that no
# file of pkmodel asked for one, and that none is loaded afterwards.
PROBE = """
import json, sys
HEAVY = {heavy!r}
asked = []
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY:
            frame = sys._getframe(1)
            while frame and ("importlib" in frame.f_code.co_filename
                            or frame.f_code.co_filename.startswith("<frozen")):
                frame = frame.f_back
            asked.append([name, frame.f_code.co_filename if frame else "?"])
            raise ModuleNotFoundError(f"no module named {{name!r}} (refused by the test)")
        return None
sys.meta_path.insert(0, Refuse())
import pkmodel
loaded = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
print(json.dumps({{"asked": asked, "loaded": loaded}}))
"""


@pytest.mark.slow
def test_import_pkmodel_loads_neither_pyarrow_matplotlib_dask_nor_sympy():
    import json

    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)], capture_output=True, text=True, check=True
    ).stdout
    report = json.loads(out)
    assert report["loaded"] == []
    by_pkmodel = [(name, where) for name, where in report["asked"] if str(PACKAGE.resolve()) in where]
    assert by_pkmodel == []
    # the probe does see an import: pandas asks for pyarrow (and nothing else asks)
    assert {where.split("site-packages")[-1].split("/")[1] for _, where in report["asked"]} <= {"pandas"}


def layout_paths(readme: str) -> set[str]:
    """The paths README's Layout block names: one per line, folders ending in '/', nested by
    indentation; text from column 25 on is the description (or its continuation)."""
    block = readme[readme.index("## Layout") :].split("```")[1]
    stack: list[tuple[int, str]] = []
    paths = set()
    for line in block.splitlines():
        if not line.strip() or len(line) - len(line.lstrip()) >= 25:
            continue
        indent, token = len(line) - len(line.lstrip()), line.split()[0]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = "/".join([folder for _, folder in stack] + [token.rstrip("/")])
        paths.add(path)
        if token.endswith("/"):
            stack.append((indent, token.rstrip("/")))
    return paths


def test_readme_layout_names_every_module_and_only_those():
    readme = (PACKAGE.parent / "README.md").read_text()
    listed = {p for p in layout_paths(readme) if p.startswith("pkmodel/") and p.endswith(".py")}
    modules = {
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" or path.parent == PACKAGE
    }
    assert sorted(modules - listed) == [], "modules missing from README's Layout"
    assert sorted(listed - modules) == [], "README's Layout names modules that do not exist"


def test_the_layout_reader_nests_by_indentation():
    text = "## Layout\n```\npkg/\n  a.py        one\n  sub/\n    b.py      two\n                         more\n  c.py\n```\n"
    assert layout_paths(text) == {"pkg", "pkg/a.py", "pkg/sub", "pkg/sub/b.py", "pkg/c.py"}
