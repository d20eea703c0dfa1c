"""Reading a predesolv run directory into an MDAnalysis Universe plus its metadata."""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import MDAnalysis as mda
import numpy as np
from MDAnalysis.coordinates.DCD import DCDReader
from MDAnalysis.lib.formats.libdcd import DCDFile
from MDAnalysis.lib.mdamath import triclinic_box

from predesolv import layout
from predesolv.errors import AnalysisError
from predesolv.metadata import ANION_COORD, Metadata, MetadataError, solvent_o_group
from predesolv.rundir import RunDir

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
    found = RunDir(run_dir).trajectories()
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


class FrameBlock(NamedTuple):
    """Consecutive analysed frames of a few atoms, read in one go.

    Attributes
    ----------
    frames : ndarray of int64, shape (n_frames,)
        Trajectory frame numbers.
    times : ndarray of float64, shape (n_frames,)
        Trajectory times (ps), as ``ts.time``.
    positions : ndarray of float32, shape (n_frames, n_atoms, 3)
        C-contiguous positions (Å), as ``atoms.positions``.
    boxes : ndarray of float64, shape (n_frames, 6)
        ``ts.dimensions`` (Å, degrees); zeros where the frame has no box.
    has_box : ndarray of bool, shape (n_frames,)
        Whether ``ts.dimensions`` is not ``None``.
    """

    frames: np.ndarray
    times: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    has_box: np.ndarray


def read_frame_blocks(atoms: mda.AtomGroup, frames: np.ndarray, block_frames: int
                      ) -> Iterator[FrameBlock]:
    """Positions, boxes and times of ``atoms`` over ``frames``, ``block_frames`` at a time.

    Equal to iterating ``universe.trajectory[frames]`` and copying ``atoms.positions``,
    ``ts.dimensions``, ``ts.frame`` and ``ts.time``, but a DCD without on-the-fly
    transformations is read in bulk (:meth:`MDAnalysis.lib.formats.libdcd.DCDFile.readframes`,
    only the requested atoms kept) wherever a block's frames are evenly spaced. The bulk
    path is checked against the reader on the first and last frame; any difference (or
    another reader) falls back to frame-by-frame iteration. The reader is rewound at the
    end, as after an MDAnalysis iteration.

    Parameters
    ----------
    atoms : AtomGroup
        ``n_atoms`` atoms to read.
    frames : ndarray of int, shape (n_frames,)
        Trajectory frame numbers, in the order wanted.
    block_frames : int
        Frames per block (memory ~ ``block_frames`` x ``n_atoms`` x 12 bytes).

    Yields
    ------
    FrameBlock
        Blocks in order, together covering ``frames``.
    """
    reader = atoms.universe.trajectory
    frames = np.asarray(frames, dtype=np.int64)
    ix = atoms.ix
    dcd = _open_bulk_dcd(reader, ix, frames)
    try:
        for s in range(0, len(frames), max(int(block_frames), 1)):
            sub = frames[s:s + block_frames]
            block = _dcd_block(dcd, reader, ix, sub) if dcd is not None else None
            yield block if block is not None else _iterate_block(reader, ix, sub)
    finally:
        if dcd is not None:
            dcd.close()
        reader.rewind()


def _iterate_block(reader, ix: np.ndarray, frames: np.ndarray) -> FrameBlock:
    """Frame by frame through the MDAnalysis reader (any format, transformations applied)."""
    nf = len(frames)
    out = FrameBlock(np.array(frames, dtype=np.int64), np.zeros(nf),
                     np.zeros((nf, len(ix), 3), np.float32), np.zeros((nf, 6)),
                     np.ones(nf, dtype=bool))
    for i, ts in enumerate(reader[frames]):
        out.positions[i] = ts.positions[ix]
        out.frames[i] = ts.frame
        out.times[i] = ts.time
        if ts.dimensions is None:
            out.has_box[i] = False
        else:
            out.boxes[i] = ts.dimensions
    return out


def _open_bulk_dcd(reader, ix: np.ndarray, frames: np.ndarray) -> DCDFile | None:
    """A second handle on the reader's DCD file when bulk reading is allowed and reproduces
    the reader exactly on the first and last requested frame; else ``None``."""
    if (not isinstance(reader, DCDReader) or len(frames) == 0
            or getattr(reader, "transformations", None)):
        return None
    try:
        dcd = DCDFile(reader.filename)
    except (OSError, ValueError):
        return None
    ok = True
    for f in {int(frames[0]), int(frames[-1])}:
        block = _dcd_block(dcd, reader, ix, np.array([f]))
        ts = reader[f]
        dims = ts.dimensions
        ok = ok and block is not None and (
            np.array_equal(block.positions[0], ts.positions[ix])
            and block.times[0] == ts.time
            and bool(block.has_box[0]) == (dims is not None)
            and (dims is None or np.array_equal(block.boxes[0], np.asarray(dims, np.float64))))
    if not ok:
        dcd.close()
        return None
    return dcd


def _dcd_block(dcd: DCDFile, reader, ix: np.ndarray, frames: np.ndarray) -> FrameBlock | None:
    """Evenly spaced frames in one ``readframes`` call; ``None`` if not evenly spaced."""
    step = int(frames[1] - frames[0]) if len(frames) > 1 else 1
    if step < 1 or np.any(np.diff(frames) != step):
        return None
    dcd.seek(0)
    raw = dcd.readframes(int(frames[0]), int(frames[-1]) + 1, step, order="fac", indices=ix)
    boxes = _dcd_dimensions(raw.unitcell)
    has_box = ~np.all(boxes[:, :3] == 0, axis=1)  # ts.dimensions is None for a zero cell
    boxes[~has_box] = 0.0
    head = dcd.header
    times = (frames + head["istart"] / head["nsavc"]) * reader.ts.dt
    return FrameBlock(np.array(frames, dtype=np.int64), times,
                      np.ascontiguousarray(raw.xyz, dtype=np.float32), boxes, has_box)


def _dcd_dimensions(unitcell: np.ndarray) -> np.ndarray:
    """``ts.dimensions`` (float32 values, as float64) from raw DCD unit cells, shape (n, 6),
    with the arithmetic of MDAnalysis's DCD reader, one distinct cell at a time."""
    cells, inverse = np.unique(unitcell, axis=0, return_inverse=True)
    out = np.empty((len(cells), 6))
    half_pi = np.pi / 2
    for k, cell in enumerate(cells):
        uc = np.take(cell, [0, 2, 5, 4, 3, 1])
        if (-1.0 <= uc[3] <= 1.0) and (-1.0 <= uc[4] <= 1.0) and (-1.0 <= uc[5] <= 1.0):
            for c in (3, 4, 5):  # angle cosines (CHARMM, NAMD > 2.5, OpenMM)
                uc[c] = 90.0 - np.arcsin(uc[c]) * 90.0 / half_pi
        elif np.any(uc < 0.0) or np.any(uc[3:] > 180.0):  # CHARMM box vectors
            uc = triclinic_box(cell[[0, 1, 3]], cell[[1, 2, 4]], cell[[3, 4, 5]])
        out[k] = np.asarray(uc, dtype=np.float32)
    return out[np.ravel(inverse)]
