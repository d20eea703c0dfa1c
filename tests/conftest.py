"""Shared fixtures: tiny systems and config writers (CPU/Reference, few steps)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

# Before anything imports openmm: the CPU platform reads OPENMM_CPU_THREADS when it loads,
# so a value set after the import would not reach this process's contexts.
_PINNED = "OPENMM_CPU_THREADS" not in os.environ  # a user's own value is kept everywhere
if _PINNED:
    os.environ["OPENMM_CPU_THREADS"] = "1"

import pytest  # noqa: E402  (after the pin above)
import yaml  # noqa: E402

from predesolv.testing import write_double_well  # noqa: E402

# The default-run notebook works on runs/default for a user; under `pytest --nbmake tests
# notebooks` its kernel inherits this folder instead, so the README's two commands can run
# side by side without contending for runs/default's lock.
if "PREDESOLV_DEFAULT_RUN" not in os.environ:
    _runs = Path(tempfile.mkdtemp(prefix="predesolv-tests-"))
    os.environ["PREDESOLV_DEFAULT_RUN"] = str(_runs / "default")
    atexit.register(shutil.rmtree, _runs, ignore_errors=True)

DATA = Path(__file__).resolve().parent / "data"


class NotebookThreads:
    """Under ``pytest --nbmake tests notebooks`` a notebook's kernel runs as a user's would.

    The pin above (one OpenMM CPU thread: reproducible numbers, no oversubscription while
    Dask workers run) would reach every kernel, a child process, yet while a kernel runs
    the test process only waits for it: for ``.ipynb`` items the pin is lifted, so the
    kernel gets OpenMM's default (every core), and put back after. ``default_run.ipynb``
    runs the README's default job, the longest single item of the suite. A plugin, not a
    conftest of ``notebooks/``: hooks here reach items of ``tests/`` only, and a second
    ``conftest`` module would shadow this one for ``from conftest import ...``.
    """

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if _PINNED and item.path.suffix == ".ipynb":
            os.environ.pop("OPENMM_CPU_THREADS", None)

    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        if _PINNED and item.path.suffix == ".ipynb":
            os.environ["OPENMM_CPU_THREADS"] = "1"


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(NotebookThreads(), "predesolv-notebook-threads")


def base_config(run_dir: Path, **over) -> dict:
    """A valid from_files config on the NaCl/TIP3P test box (770 atoms)."""
    cfg = {
        "system": {"from_files": {"system_xml": str(DATA / "nacl_water.xml"),
                                  "pdb": str(DATA / "nacl_water.pdb")}},
        "simulation": {"platform": "CPU", "temperature": "300 K", "timestep": "2 fs",
                       "seed": 11},
        "stages": [
            {"type": "minimize", "max_iterations": 50},
            {"type": "nvt", "duration": "0.1 ps"},
            {"type": "production", "duration": "0.4 ps"},
        ],
        "output": {"directory": str(run_dir), "trajectory": {"interval": "0.02 ps"},
                   "state_interval": "0.02 ps", "checkpoint_interval": "0.1 ps",
                   "progress": "off"},
    }
    for key, value in over.items():
        cfg[key] = value
    return cfg


def double_well_pmf_config(tmp: Path, production_ps: float = 4.0) -> dict:
    """A tiny PMF on the analytic double well (Reference): 2 windows at -0.5 and -0.3 nm,
    k 500 kJ/mol/nm², ``production_ps`` per window sampled every 0.02 ps."""
    dw = write_double_well(tmp / "in", mass_amu=10.0)
    return {
        "system": {"from_files": {"system_xml": str(dw.system_xml), "pdb": str(dw.pdb)}},
        "simulation": {"platform": "Reference", "temperature": "300 K", "timestep": "2 fs",
                       "friction": "5 /ps", "seed": 3},
        "stages": [{"type": "minimize"}],
        "output": {"directory": str(tmp / "pmf"), "checkpoint_interval": "1 ps"},
        "pmf": {"cv": {"type": "position", "group": [0], "axis": "x",
                       "origin": f"{dw.center_nm} nm"},
                "windows": {"values": ["-0.5 nm", "-0.3 nm"]}, "k": "500 kJ/mol/nm**2",
                "stages": [{"type": "production", "duration": f"{production_ps:g} ps"}],
                "sample_interval": "0.02 ps",
                "estimator": {"bins": 10, "bootstraps": 0, "decorrelate": False,
                              "min_effective_samples": 2}},
    }


@pytest.fixture
def write_config(tmp_path):
    """Return a function that writes a config dict to YAML and gives its path."""

    def _write(cfg: dict, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path

    return _write


def minimised_cpu_context(built, integrator, max_iterations: int, steps: int):
    """CPU Context (1 thread) on ``built``: minimise ``max_iterations``, then ``steps`` MD steps."""
    import openmm

    ctx = openmm.Context(built.system, integrator, openmm.Platform.getPlatformByName("CPU"),
                         {"Threads": "1"})
    ctx.setPositions(built.positions)
    openmm.LocalEnergyMinimizer.minimize(ctx, 10, max_iterations)
    integrator.step(steps)
    return ctx


class FlagAfter:
    """Stand-in for the runner's SIGINT/SIGTERM flag that trips on its ``n``-th check."""

    def __init__(self, n: int):
        self._n, self._checks = n, 0

    @property
    def set(self) -> bool:
        self._checks += 1
        return self._checks >= self._n

    def requested(self) -> bool:
        """The runner's question (``InterruptFlag.requested``): counts as one check."""
        return self.set

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


@pytest.fixture(scope="session")
def e2_smoke(tmp_path_factory):
    """The E2 smoke study, run once for every test that reads it (none may change it)."""
    from predesolv.cli import main

    out = tmp_path_factory.mktemp("e2") / "e2"
    assert main(["study", "E2", "--size", "smoke", "--out", str(out)]) == 0
    return out
