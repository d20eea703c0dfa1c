"""Reading a predesolv run directory into an MDAnalysis Universe plus its metadata."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import MDAnalysis as mda
import numpy as np

from predesolv.errors import AnalysisError

TRAJECTORY_NAMES = ("trajectory.dcd", "trajectory.xtc")


def load_metadata(path: str | Path) -> dict[str, Any]:
    """Read ``metadata.json`` and check the parts analysis relies on.

    Raises
    ------
    AnalysisError
        If the file is missing, is not JSON, or has no ``groups`` mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise AnalysisError(f"metadata file not found: {path}")
    try:
        md = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise AnalysisError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(md, dict) or not isinstance(md.get("groups"), dict):
        raise AnalysisError(f"{path} has no 'groups' mapping (see predesolv/built.py)")
    units = md.get("units", {}).get("length", "nm")
    if units != "nm":
        raise AnalysisError(f"{path}: units.length must be 'nm', got {units!r}")
    return md


def load_run(run_dir: str | Path, trajectory: str | Path | None = None):
    """Load a run directory written by the predesolv runner.

    Parameters
    ----------
    run_dir : str or Path
        Directory holding ``topology.pdb``, ``metadata.json`` and ``trajectory.dcd`` (or
        ``trajectory.xtc``).
    trajectory : str or Path, optional
        Explicit trajectory file (relative to ``run_dir`` or absolute).

    Returns
    -------
    universe : MDAnalysis.Universe
        Positions in Å, time in ps.
    metadata : dict
        Parsed ``metadata.json`` (lengths in nm).

    Raises
    ------
    AnalysisError
        If a file is missing or the topology and metadata disagree on the atom count.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise AnalysisError(f"run directory not found: {run_dir}")
    top = run_dir / "topology.pdb"
    if not top.is_file():
        raise AnalysisError(f"{run_dir}: topology.pdb is missing")
    md = load_metadata(run_dir / "metadata.json")
    if trajectory is not None:
        traj = Path(trajectory)
        traj = traj if traj.is_absolute() else run_dir / traj
        if not traj.is_file():
            raise AnalysisError(f"trajectory not found: {traj}")
    else:
        found = [run_dir / n for n in TRAJECTORY_NAMES if (run_dir / n).is_file()]
        if not found:
            raise AnalysisError(
                f"{run_dir}: no trajectory ({' or '.join(TRAJECTORY_NAMES)}); "
                "only the production stage writes one"
            )
        traj = found[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PDB element/chainID guesses are harmless here
        try:
            # explicit formats skip MDAnalysis's format sniffing (which imports parmed, ~2 s)
            u = mda.Universe(str(top), str(traj), topology_format="PDB",
                             format=traj.suffix.lstrip(".").upper())
        except (OSError, ValueError, EOFError) as exc:
            raise AnalysisError(f"could not read {top} + {traj}: {exc}") from exc
    n_md = 1 + max((max(v) for v in md["groups"].values() if v), default=-1)
    if n_md > u.atoms.n_atoms:
        raise AnalysisError(
            f"metadata.json groups index atom {n_md - 1} but {top} has {u.atoms.n_atoms} atoms"
        )
    return u, md


def group(universe: mda.Universe, metadata: Mapping[str, Any], name: str) -> mda.AtomGroup:
    """AtomGroup of a named ``metadata.json`` group.

    Raises
    ------
    AnalysisError
        If the group is absent or empty; the message lists the groups that exist.
    """
    groups = metadata.get("groups", {})
    if name not in groups:
        raise AnalysisError(
            f"metadata.json has no group {name!r}; available: {', '.join(sorted(groups))}"
        )
    idx = np.asarray(groups[name], dtype=np.intp)
    if idx.size == 0:
        raise AnalysisError(f"metadata.json group {name!r} is empty")
    return universe.atoms[idx]


def solvent_names(metadata: Mapping[str, Any]) -> list[str]:
    """Solvent names present as ``solvent_O:<NAME>`` groups, in metadata order."""
    return [k.split(":", 1)[1] for k in metadata.get("groups", {}) if k.startswith("solvent_O:")]


def anion_name(metadata: Mapping[str, Any]) -> str:
    """Label of the anion (``species.anion``, default ``"anion"``)."""
    return str(metadata.get("species", {}).get("anion") or "anion")


def coordination_partners(
    universe: mda.Universe, metadata: Mapping[str, Any]
) -> dict[str, mda.AtomGroup]:
    """Coordinating-atom groups by kind: one per solvent (its coordinating O) and the anion.

    Returns
    -------
    dict of str to AtomGroup
        ``{"DME": solvent_O:DME atoms, ..., "PF6": anion_coord atoms}``; kinds whose group
        is absent or empty are omitted.

    Raises
    ------
    AnalysisError
        If no coordinating group exists at all.
    """
    out: dict[str, mda.AtomGroup] = {}
    groups = metadata.get("groups", {})
    for s in solvent_names(metadata):
        if groups.get(f"solvent_O:{s}"):
            out[s] = group(universe, metadata, f"solvent_O:{s}")
    if groups.get("anion_coord"):
        out[anion_name(metadata)] = group(universe, metadata, "anion_coord")
    if not out:
        raise AnalysisError(
            "metadata.json has neither 'solvent_O:<NAME>' nor 'anion_coord' groups; "
            "nothing can coordinate the cation"
        )
    return out


def timestep_ps(universe: mda.Universe, dt_ps: float | None = None) -> float:
    """Time between stored frames in ps (``dt_ps`` overrides the trajectory header)."""
    if dt_ps is not None:
        if not dt_ps > 0:
            raise AnalysisError(f"dt_ps must be > 0, got {dt_ps}")
        return float(dt_ps)
    try:
        dt = float(universe.trajectory.dt)
    except (AttributeError, ValueError):
        dt = 1.0
    return dt if dt > 0 else 1.0
