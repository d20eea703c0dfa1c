"""What a study keeps of a finished run's trajectory once the trajectory itself may go.

A packed study state (:mod:`predesolv.state_archive`) is small because it leaves out the
trajectories of finished umbrella windows. A study whose outputs read those trajectories (the
first shell of the pulled ion along an insertion path, the E7-300K shell census) first writes
what it reads from them into the window's folder, as a *digest*:

``<run>/digest/<name>.csv``
    The per-frame (or per-window) table the study computes from the trajectory.
``<run>/digest/<name>.json``
    What it was computed with (``params``), and the frames it came from (``frames``, the
    progress record's count, and ``trajectory_sha256``).

:func:`digested` is the one reader: it computes from the trajectory whenever the trajectory
is there (refreshing the digest, and returning the table as the digest holds it, so that both
ways give the same numbers), and reads the digest only when it is not, after checking
that the digest was made with the same parameters and from the run's final trajectory. A digest
made with other parameters (a changed cutoff, another ion) is refused, never used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from predesolv.atomic import atomic_write_text, sha256_file
from predesolv.errors import RunDirectoryError
from predesolv.rundir import RunDir

#: Folder of a run directory that holds its digests.
DIGEST_DIR = "digest"


def digest_files(rd: RunDir, name: str) -> tuple[Path, Path]:
    """The table and the record of digest ``name`` of run ``rd``."""
    folder = rd.path / DIGEST_DIR
    return folder / f"{name}.csv", folder / f"{name}.json"


def _frames(rd: RunDir) -> int | None:
    progress = rd.read_progress()
    return None if progress is None or progress.latest is None else progress.latest.frames


def _normal(params: dict[str, Any]) -> Any:
    """``params`` as JSON reads them back (tuples become lists, keys strings)."""
    return json.loads(json.dumps(params, sort_keys=True))


def digested(rd: RunDir, name: str, params: dict[str, Any],
             compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """The table ``compute()`` makes from run ``rd``'s trajectory, or its digest.

    Parameters
    ----------
    rd : RunDir
        A finished run.
    name : str
        The digest's name (a file stem).
    params : dict
        Everything the table depends on besides the trajectory (JSON-serialisable).
    compute : callable
        Reads the trajectory and returns the table.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    RunDirectoryError
        No trajectory and no digest, or a digest made with other ``params`` or from another
        number of frames than the run's progress record counts.
    """
    table, record = digest_files(rd, name)
    found = rd.trajectories()
    if found:
        traj = found[0]
        table.parent.mkdir(exist_ok=True)
        atomic_write_text(table, compute().to_csv(index=False, float_format="%.9g"))
        atomic_write_text(record, json.dumps(
            {"name": name, "params": _normal(params), "frames": _frames(rd),
             "trajectory": traj.name, "trajectory_sha256": sha256_file(traj)},
            indent=1, sort_keys=True) + "\n")
        return pd.read_csv(table)  # as the digest gives it: the same numbers either way
    if not (table.is_file() and record.is_file()):
        raise RunDirectoryError(
            f"{rd.path}: the trajectory is not here and there is no {name} digest to use "
            f"instead; restore the trajectory (a packed study state keeps digests of the "
            f"runs whose trajectories it leaves out)")
    meta = json.loads(record.read_text())
    if meta.get("params") != _normal(params):
        raise RunDirectoryError(
            f"{record}: made with {meta.get('params')}, but this analysis uses "
            f"{_normal(params)}; the trajectory it came from is not here, so it cannot be "
            f"redone: restore the trajectory and run again")
    if meta.get("frames") != _frames(rd):
        raise RunDirectoryError(
            f"{record}: made from {meta.get('frames')} frames, but the run's progress record "
            f"counts {_frames(rd)}; restore the trajectory and run again")
    return pd.read_csv(table)


def finished_with_trajectory(rd: RunDir) -> bool:
    """A finished run whose trajectory is here (one a digest can be made from)."""
    return rd.is_complete() and bool(rd.trajectories())
