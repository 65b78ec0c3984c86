"""The notebooks run top to bottom in a real Jupyter kernel, with the public API only."""

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

# subprocesses, kernels or a cluster: `make test-fast` skips these, `make test` runs them
pytestmark = pytest.mark.slow

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
STUDIES = [
    "01_quickstart",
    "02_tid_vs_qid",
    "03_titration_12_weeks",
    "04_card_vs_published_model",
    "05_dose_finding",
    "06_your_own_model",
    "07_precision_dosing",
]
CELL_TIMEOUT_S = 120
# imports of pkmodel other than `import pkmodel as pk` and `pkmodel.plots`, or private names
_PRIVATE = re.compile(r"(from|import)\s+pkmodel\.(?!plots\b)\w+|\bpk\.(\w+\.)*_\w")


def kernel_manager() -> KernelManager:
    """The python3 kernel of this interpreter: with no kernel folders to search, the spec manager
    finds only the ipykernel installed beside sys.executable (not a user's python3 kernel that
    may point at another Python)."""
    return KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))


def execute(notebook, folder: Path, env: dict[str, str]) -> None:
    """Run every cell in a new kernel of this interpreter, in `folder`; raises on errors. The
    kernel is shut down after (nbclient leaves a kernel it was handed running until the test
    process ends)."""
    km = kernel_manager()
    try:
        NotebookClient(
            notebook, km=km, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(folder)}}
        ).execute(env=env)
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_the_five_studies_are_there():
    assert [path.stem for path in NOTEBOOKS] == STUDIES


def test_the_kernel_is_this_interpreter():
    spec = kernel_manager().kernel_spec
    assert spec.argv[0] == sys.executable and spec.argv[1:3] == ["-m", "ipykernel_launcher"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_committed_clean_and_uses_the_public_api(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    for cell in code_cells(notebook):
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
        assert not _PRIVATE.search(cell.source), cell.source
    prose = [cell for cell in notebook.cells if cell.cell_type == "markdown"]
    assert len(prose) >= 4 and "import pkmodel as pk" in code_cells(notebook)[0].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_clean_and_shows_its_figures(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    # the kernel picks its own matplotlib backend, the inline one a researcher sees (it renders
    # with Agg: no display needed), whatever MPLBACKEND the test runner has
    env = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}
    # runs in an empty folder: a notebook that reads or writes files beside it would show here
    execute(notebook, tmp_path, env)  # raises on errors
    outputs = [output for cell in code_cells(notebook) for output in cell.outputs]
    stderr = [output.text for output in outputs if output.get("name") == "stderr"]
    assert stderr == []  # no warnings either
    figures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(figures) >= 2
    assert list(tmp_path.iterdir()) == []
