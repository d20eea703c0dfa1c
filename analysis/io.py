"""Reading a predesolv run directory into an MDAnalysis Universe plus its metadata."""

from __future__ import annotations

import struct
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import MDAnalysis as mda
import numpy as np

from predesolv import layout
from predesolv.errors import AnalysisError
from predesolv.metadata import ANION_COORD, Metadata, MetadataError, solvent_o_group

from .geometry import as_metadata

TRAJECTORY_NAMES = layout.TRAJECTORIES


def load_metadata(path: str | Path) -> Metadata:
    """Read ``metadata.json`` into typed :class:`~predesolv.metadata.Metadata`.

    Raises
    ------
    AnalysisError
        If the file is missing, is not UTF-8 JSON, or has the wrong shape.
    """
    try:
        return Metadata.load(path)
    except MetadataError as exc:
        raise AnalysisError(str(exc)) from None


def find_trajectory(run_dir: Path, trajectory: str | Path | None = None) -> Path:
    """The trajectory of a run directory (``trajectory`` overrides; relative to ``run_dir``).

    Raises
    ------
    AnalysisError
        No such file.
    """
    if trajectory is not None:
        traj = Path(trajectory)
        traj = traj if traj.is_absolute() else run_dir / traj
        if not traj.is_file():
            raise AnalysisError(f"trajectory not found: {traj}")
        return traj
    found = [run_dir / n for n in layout.TRAJECTORIES if (run_dir / n).is_file()]
    if not found:
        raise AnalysisError(
            f"{run_dir}: no trajectory ({' or '.join(layout.TRAJECTORIES)}); "
            "only the production stage writes one"
        )
    return found[0]


def load_run(run_dir: str | Path, trajectory: str | Path | None = None
             ) -> tuple[mda.Universe, Metadata]:
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
    metadata : Metadata
        Typed ``metadata.json`` (lengths in nm).

    Raises
    ------
    AnalysisError
        A file is missing or unreadable, the trajectory has no frame, or the topology and
        metadata disagree on the atom count.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise AnalysisError(f"run directory not found: {run_dir}")
    top = run_dir / layout.TOPOLOGY
    if not top.is_file():
        raise AnalysisError(f"{run_dir}: {layout.TOPOLOGY} is missing")
    md = load_metadata(run_dir / layout.METADATA)
    traj = find_trajectory(run_dir, trajectory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PDB element/chainID guesses are harmless here
        try:
            # explicit formats skip MDAnalysis's format sniffing (which imports parmed, ~2 s)
            u = mda.Universe(str(top), str(traj), topology_format="PDB",
                             format=traj.suffix.lstrip(".").upper())
        except (OSError, ValueError, EOFError, RuntimeError) as exc:
            raise AnalysisError(f"could not read {top} + {traj}: {str(exc)[:160]}") from None
    if len(u.trajectory) == 0:
        raise AnalysisError(f"{traj} holds no frame")
    if md.groups.max_index() >= u.atoms.n_atoms:
        raise AnalysisError(
            f"metadata.json groups index atom {md.groups.max_index()} but {top} has "
            f"{u.atoms.n_atoms} atoms"
        )
    return u, md


def dcd_header_frames(path: Path) -> int | None:
    """Frame count written in a DCD header (None for other formats or an unreadable header).

    Compared with the frames actually present it reveals a truncated file.
    """
    if path.suffix.lower() != ".dcd":
        return None
    with open(path, "rb") as fh:
        head = fh.read(12)
    if len(head) < 12 or head[4:8] != b"CORD":
        return None
    return int(struct.unpack("<i", head[8:12])[0])


def group(universe: mda.Universe, metadata: Metadata | Mapping[str, Any],
          name: str) -> mda.AtomGroup:
    """AtomGroup of a named metadata group.

    Raises
    ------
    AnalysisError
        If the group is absent or empty; the message lists the groups that exist.
    """
    groups = as_metadata(metadata).groups
    if name not in groups:
        raise AnalysisError(
            f"metadata.json has no group {name!r}; available: {', '.join(sorted(groups))}"
        )
    idx = np.asarray(groups[name], dtype=np.intp)
    if idx.size == 0:
        raise AnalysisError(f"metadata.json group {name!r} is empty")
    return universe.atoms[idx]


def solvent_names(metadata: Metadata | Mapping[str, Any]) -> list[str]:
    """Solvent names present as ``solvent_O:<NAME>`` groups, in metadata order."""
    return as_metadata(metadata).solvent_names()


def anion_name(metadata: Metadata | Mapping[str, Any]) -> str:
    """Label of the anion (``species.anion``, default ``"anion"``)."""
    return str(as_metadata(metadata).species.anion or "anion")


def coordination_partners(
    universe: mda.Universe, metadata: Metadata | Mapping[str, Any]
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
    md = as_metadata(metadata)
    out: dict[str, mda.AtomGroup] = {}
    for s in md.solvent_names():
        if md.groups.get(solvent_o_group(s)):
            out[s] = group(universe, md, solvent_o_group(s))
    if md.groups.get(ANION_COORD):
        out[anion_name(md)] = group(universe, md, ANION_COORD)
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
