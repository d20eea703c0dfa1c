"""The notebooks under ``pytest --nbmake tests notebooks``: each kernel runs as a user's would.

``tests/conftest.py`` pins OpenMM's CPU platform to one thread for the whole test process
(``OPENMM_CPU_THREADS=1``: reproducible numbers, no oversubscription while Dask workers
run). A notebook's kernel is a child process that inherits that setting, yet while it runs
the test process only waits for it: here the kernel gets OpenMM's own default (every core)
unless the variable was set before pytest started. ``default_run.ipynb`` runs the README's
default job, the longest single item of the suite.
"""

from __future__ import annotations

import os

import pytest

#: Set by tests/conftest.py when it chose the value (not the user).
SUITE_MARK = "PREDESOLV_TESTS_PINNED_THREADS"
_saved: dict[str, str] = {}


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Lift the suite's one-thread pin before the notebook's kernel starts."""
    if os.environ.get(SUITE_MARK) == "1" and "OPENMM_CPU_THREADS" in os.environ:
        _saved["OPENMM_CPU_THREADS"] = os.environ.pop("OPENMM_CPU_THREADS")


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Put the pin back for the tests that follow."""
    if "OPENMM_CPU_THREADS" in _saved:
        os.environ["OPENMM_CPU_THREADS"] = _saved.pop("OPENMM_CPU_THREADS")
