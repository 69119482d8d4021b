"""The lab notebooks: committed without outputs, and each runs top to bottom, offline.

Every notebook is executed with nbclient in a fresh kernel of *this* interpreter (a
kernelspec written into the test's temporary folder, so a ``python3`` kernel registered
elsewhere on the machine is never picked up), with the kernel's working directory in a
temporary folder, so the run directories the notebooks write never land in the repository.
Downloads are made to fail (proxies pointed at a closed port): the notebooks must find their
data in the offline folder.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
KERNEL_NAME = "chainrule-notebook-test"
#: Seconds any one cell may take (the slowest, a 27-run sweep, takes about 10 s on 2 cores).
CELL_TIMEOUT = 300


def test_the_five_labs_are_there():
    numbers = sorted(path.name[:2] for path in NOTEBOOKS)
    assert numbers == ["01", "02", "03", "04", "05"], [path.name for path in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_committed_without_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        where = f"{path.name} cell {index}"
        assert cell.outputs == [], f"{where} has outputs: clear them before committing"
        assert cell.execution_count is None, f"{where} has an execution count"
        assert "execution" not in cell.metadata, f"{where} has execution timings"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_a_lab_with_equations_and_exercises(path: Path):
    notebook = nbformat.read(path, as_version=4)
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert markdown[0].startswith(f"# Lab {int(path.name[:2])} "), path.name
    assert any("$$" in text for text in markdown), f"{path.name} states no equation"
    assert notebook.cells[-1].cell_type == "markdown", path.name
    assert notebook.cells[-1].source.startswith("## Exercises"), path.name


def _kernel_manager(tmp_path: Path) -> KernelManager:
    """A kernel manager whose only kernelspec runs ipykernel in this very interpreter."""
    spec_dir = tmp_path / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "chainrule test kernel",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)


def _offline_environment(shared_data: Path) -> dict[str, str]:
    env = dict(os.environ, CHAINRULE_DATA=str(shared_data))
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens, a download fails at once
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[name] = closed
    env.pop("no_proxy", None)
    env.pop("NO_PROXY", None)
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return env


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_offline(path: Path, tmp_path: Path, shared_data: Path):
    notebook = nbformat.read(path, as_version=4)
    work = tmp_path / "work"
    work.mkdir()
    client = nbclient.NotebookClient(
        notebook,
        km=_kernel_manager(tmp_path),
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(work)}},
    )
    client.execute(env=_offline_environment(shared_data))  # raises CellExecutionError on any error

    # It ran in the temporary folder: its run directories are there, not in the repository.
    assert (work / "runs").is_dir()
    warnings = [
        output.text
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream" and output.name == "stderr" and "Warning" in output.text
    ]
    assert not warnings, f"{path.name} printed warnings:\n" + "\n".join(warnings)
    figures = sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert figures >= 1, f"{path.name} drew no figure"
