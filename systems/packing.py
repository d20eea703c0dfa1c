"""Pack rigid molecule copies into (regions of) a periodic box, avoiding fixed atoms.

Two packers share one interface (:func:`pack_molecules`):

* ``"packmol"`` (default): the Packmol binary shipped by the PyPI ``packmol`` package, run
  with periodic boundary conditions (``pbc``), a seed and a distance tolerance;
* ``"random"``: random rotation + insertion with a periodic KD-tree overlap test (pure
  Python/NumPy/SciPy), kept as a fallback where Packmol is unavailable. It is much slower at
  liquid densities and may fail to place all molecules; Packmol is preferred (measured in
  ``docs/validation.md``).

Whatever packer ran, :func:`min_intermolecular_distance` checks the result.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from predesolv.errors import BuildError


@dataclass
class Species:
    """One kind of molecule to pack.

    Attributes
    ----------
    name : str
        Residue name (for messages).
    xyz : numpy.ndarray
        Template coordinates (nm), shape (n_atoms, 3).
    elements : list of str
        Element symbols (for the Packmol input file).
    count : int
        Number of copies.
    regions : list of tuple
        Boxes ``((xlo, ylo, zlo), (xhi, yhi, zhi))`` in nm the molecule centres/atoms must lie
        in; empty = whole box. With several regions, copies are split evenly by volume.
    """

    name: str
    xyz: np.ndarray
    elements: list[str]
    count: int
    regions: list[tuple[tuple[float, float, float], tuple[float, float, float]]] = field(
        default_factory=list)


def packmol_executable() -> str | None:
    """Path of the Packmol binary (next to the Python interpreter, or on PATH)."""
    cand = Path(sys.executable).parent / "packmol"
    if cand.exists() and os.access(cand, os.X_OK):
        return str(cand)
    return shutil.which("packmol")


def min_intermolecular_distance(xyz: np.ndarray, molecule_id: np.ndarray,
                                box: Sequence[float] | np.ndarray | None, cutoff: float = 0.3
                                ) -> float:
    """Smallest distance (nm) between atoms of different molecules (periodic if ``box``).

    Returns ``cutoff`` if no pair is closer than ``cutoff``.
    """
    pts = np.asarray(xyz, float)
    if box is not None:
        b = np.asarray(box, float)
        pts = np.mod(pts, b)
        tree = cKDTree(pts, boxsize=b)
    else:
        tree = cKDTree(pts)
    pairs = tree.query_pairs(cutoff, output_type="ndarray")
    if len(pairs) == 0:
        return cutoff
    mask = molecule_id[pairs[:, 0]] != molecule_id[pairs[:, 1]]
    if not mask.any():
        return cutoff
    p = pairs[mask]
    d = pts[p[:, 0]] - pts[p[:, 1]]
    if box is not None:
        d -= np.round(d / b) * b
    return float(np.sqrt((d * d).sum(axis=1)).min())


def _wrap_whole(xyz: np.ndarray, sizes: Sequence[int], box: np.ndarray) -> np.ndarray:
    """Make every molecule whole (minimum image to its first atom), centroid in the box."""
    out = np.array(xyz, float)
    start = 0
    for n in sizes:
        mol = out[start:start + n]
        d = mol - mol[0]
        mol = mol[0] + d - np.round(d / box) * box
        c = mol.mean(axis=0)
        out[start:start + n] = mol + (np.mod(c, box) - c)
        start += n
    return out


def _split_counts(sp: Species) -> list[int]:
    if len(sp.regions) <= 1:
        return [sp.count]
    vols = np.array([np.prod(np.subtract(hi, lo)) for lo, hi in sp.regions])
    raw = sp.count * vols / vols.sum()
    counts = np.floor(raw).astype(int)
    for k in np.argsort(raw - counts)[::-1][: sp.count - counts.sum()]:
        counts[k] += 1
    return [int(c) for c in counts]


def _write_xyz(path: Path, xyz: np.ndarray, elements: Sequence[str]) -> None:
    with open(path, "w") as fh:
        fh.write(f"{len(xyz)}\nmolecule\n")
        for e, (x, y, z) in zip(elements, xyz * 10.0, strict=False):
            fh.write(f"{e} {x:.5f} {y:.5f} {z:.5f}\n")


def _pack_packmol(species: Sequence[Species], box: np.ndarray, seed: int, tol: float,
                  fixed: np.ndarray | None, timeout: float) -> np.ndarray:
    exe = packmol_executable()
    if exe is None:
        raise BuildError("packer 'packmol' requested but no packmol binary found; "
                         "pip install packmol, or use packer='random'")
    b = box * 10.0  # Angstrom
    with tempfile.TemporaryDirectory(prefix="predesolv_pack_") as tmp:
        t = Path(tmp)
        lines = [f"tolerance {tol * 10.0:.4f}", "filetype xyz", "output out.xyz",
                 f"seed {int(seed) % 2_147_483_647 + 1}",
                 f"pbc 0. 0. 0. {b[0]:.4f} {b[1]:.4f} {b[2]:.4f}", "nloop 200", ""]
        if fixed is not None and len(fixed):
            _write_xyz(t / "fixed.xyz", fixed, ["C"] * len(fixed))
            lines += ["structure fixed.xyz", "  number 1", "  fixed 0. 0. 0. 0. 0. 0.",
                      "end structure", ""]
        for k, sp in enumerate(species):
            if sp.count == 0:
                continue
            _write_xyz(t / f"m{k}.xyz", sp.xyz, sp.elements)
            regions = sp.regions or [((0.0, 0.0, 0.0), tuple(box))]
            for (lo, hi), n in zip(regions, _split_counts(sp), strict=False):
                if n == 0:
                    continue
                lo_a, hi_a = np.asarray(lo) * 10.0, np.asarray(hi) * 10.0
                lines += [f"structure m{k}.xyz", f"  number {n}",
                          "  inside box " + " ".join(f"{v:.4f}" for v in (*lo_a, *hi_a)),
                          "end structure", ""]
        (t / "pack.inp").write_text("\n".join(lines))
        try:
            with open(t / "pack.inp") as fin:
                res = subprocess.run([exe], stdin=fin, cwd=t, capture_output=True, text=True,
                                     timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BuildError(f"packmol did not finish in {timeout:g} s; lower the density "
                             "(fewer molecules / larger box) or packing_tolerance") from None
        out = t / "out.xyz"
        if res.returncode != 0 or "Success!" not in res.stdout or not out.exists():
            tail = "\n".join(res.stdout.strip().splitlines()[-8:])
            raise BuildError("packmol could not pack the molecules without overlaps at the "
                             "requested density; enlarge the box, reduce the counts or the "
                             f"packing_tolerance. Packmol said:\n{tail}")
        data = np.loadtxt(out, skiprows=2, usecols=(1, 2, 3), ndmin=2) / 10.0
    n_fixed = 0 if fixed is None else len(fixed)
    return data[n_fixed:]


def _pack_random(species: Sequence[Species], box: np.ndarray, seed: int, tol: float,
                 fixed: np.ndarray | None, max_tries: int = 2000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    placed: list[np.ndarray] = [] if fixed is None else [np.mod(fixed, box)]
    out: list[np.ndarray] = []
    tree = cKDTree(np.vstack(placed), boxsize=box) if placed else None
    since_rebuild: list[np.ndarray] = []
    for sp in species:
        regions = sp.regions or [((0.0, 0.0, 0.0), tuple(box))]
        for (lo, hi), n in zip(regions, _split_counts(sp), strict=False):
            lo_v, hi_v = np.asarray(lo, float), np.asarray(hi, float)
            for _ in range(n):
                for _attempt in range(max_tries):
                    rot = Rotation.random(random_state=rng).as_matrix()
                    body = sp.xyz @ rot.T
                    ext_lo, ext_hi = body.min(axis=0), body.max(axis=0)
                    span = (hi_v - lo_v) - (ext_hi - ext_lo)
                    if np.any(span < 0):
                        raise BuildError(f"region {lo}-{hi} nm is smaller than molecule "
                                         f"{sp.name}")
                    centre = lo_v - ext_lo + rng.random(3) * span
                    trial = np.mod(body + centre, box)
                    if tree is not None and len(tree.query_ball_point(trial, tol,
                                                                      return_length=True)
                                                 .nonzero()[0]):
                        continue
                    if since_rebuild:
                        recent = np.vstack(since_rebuild)
                        d = trial[:, None, :] - recent[None, :, :]
                        d -= np.round(d / box) * box
                        if (np.einsum("ijk,ijk->ij", d, d) < tol * tol).any():
                            continue
                    since_rebuild.append(trial)
                    out.append(trial)
                    if sum(len(a) for a in since_rebuild) > 500:
                        placed.extend(since_rebuild)
                        since_rebuild = []
                        tree = cKDTree(np.vstack(placed), boxsize=box)
                    break
                else:
                    raise BuildError(f"random packer: could not place a {sp.name} after "
                                     f"{max_tries} tries; the box is too dense for this "
                                     "packer, use packer='packmol'")
    return np.vstack(out) if out else np.zeros((0, 3))


def pack_molecules(
    species: Sequence[Species],
    box: Sequence[float] | np.ndarray,
    seed: int,
    tolerance: float = 0.2,
    fixed: np.ndarray | None = None,
    packer: str = "packmol",
    timeout: float = 600.0,
    min_distance: float | None = None,
) -> np.ndarray:
    """Place ``count`` rigid copies of every species into the periodic box.

    Parameters
    ----------
    species : sequence of Species
        Molecules to place, in output order (all copies of species 0 first, ...).
    box : sequence of 3 float
        Orthorhombic box edges (nm); positions are periodic in all three directions.
    seed : int
        Random seed (same seed and inputs give the same packing).
    tolerance : float
        Target minimum distance (nm) between atoms of different molecules.
    fixed : numpy.ndarray, optional
        Coordinates (nm) of atoms that must be avoided (e.g. electrode carbons); not moved
        and not returned.
    packer : {"packmol", "random"}
        Which packer to use.
    timeout : float
        Seconds allowed for Packmol.
    min_distance : float, optional
        Distance (nm) the result is checked against; default ``0.7 * tolerance``.

    Returns
    -------
    numpy.ndarray
        Coordinates (nm), shape (sum of count * n_atoms, 3); molecules whole, centroids in
        the box.

    Raises
    ------
    BuildError
        Packing failed or the result has atoms of different molecules closer than
        ``min_distance``.
    """
    b = np.asarray(box, float)
    for sp in species:
        if sp.count < 0:
            raise BuildError(f"negative count {sp.count} for {sp.name}")
    if packer == "packmol":
        xyz = _pack_packmol(species, b, seed, tolerance, fixed, timeout)
    elif packer == "random":
        xyz = _pack_random(species, b, seed, tolerance, fixed)
    else:
        raise BuildError(f"unknown packer {packer!r}; allowed: packmol, random")
    expected = sum(sp.count * len(sp.xyz) for sp in species)
    if len(xyz) != expected:
        raise BuildError(f"packer returned {len(xyz)} atoms, expected {expected}")
    xyz = _wrap_whole(xyz, [len(s.xyz) for s in species for _ in range(s.count)], b)
    mol_id = np.concatenate([np.full(len(sp.xyz), m) for m, sp in enumerate(
        [s for s in species for _ in range(s.count)])]) if expected else np.zeros(0, int)
    all_xyz, all_id = xyz, mol_id
    if fixed is not None and len(fixed):
        all_xyz = np.vstack([xyz, np.mod(fixed, b)])
        all_id = np.concatenate([mol_id, np.full(len(fixed), -1)])
    limit = 0.7 * tolerance if min_distance is None else min_distance
    dmin = min_intermolecular_distance(all_xyz, all_id, b, cutoff=max(limit, 0.3))
    if dmin < limit:
        raise BuildError(f"packing check failed: two atoms of different molecules are "
                         f"{dmin:.3f} nm apart (< {limit:.3f} nm); lower the density or "
                         "change the seed")
    return xyz
