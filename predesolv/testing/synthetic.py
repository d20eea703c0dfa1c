"""Synthetic run directories with known solvation shells, for tests, notebook and benchmarks.

The trajectory is not MD: molecules are placed by hand and moved by prescribed rules, so the
answers are known. Layout (lengths in nm, box ``Lx x Ly x Lz``):

* a slit along +x from the mouth at ``x = 0.6 Lx`` to the box edge, walls at
  ``z = Lz/2 +- 0.35`` (rows of carbon atoms), region ``inside``; region ``mouth`` is the
  0.5 nm in front of it (wider in z); the rest is ``bulk``;
* ion 0 (the *tracked* ion) starts in bulk as Na(DME)3, with three bidentate DME on an
  octahedron (Na–O 0.24 nm), drifts along +x into the slit; when it reaches
  ``x = mouth - 0.1 nm`` two DME stop moving (pre-desolvation) and one enters with it;
* the other ``n_complexes - 1`` ions sit in bulk on a lattice; every fourth is a contact ion
  pair Na(DME)2(PF6) (one F at 0.24 nm, one octahedral site empty), the others Na(DME)3;
  ion 1 sits on the y = 0 box face so its shell is split across the periodic boundary;
* free PF6 (to neutralise) and free DME fill lattice sites far from ions.

Every atom receives Gaussian noise (``noise_A``) each frame; atoms are wrapped into the box
per atom, as the harshest case for periodic handling.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import MDAnalysis as mda
import numpy as np

from predesolv.analysis.units import angstrom_to_nm

NA_O_A = 2.4
OCTA = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
# three cis pairs covering the octahedron: (+x,+y), (-x,+z), (-y,-z)
CIS_PAIRS = [(0, 2), (1, 4), (3, 5)]



_GROUP_KIND = {"cation": "cation", "NA": "cation", "anion": "anion", "PF6": "anion",
               "DME": "DME", "C": "C"}


def _assign_groups(groups: dict[str, list[int]], i: int, kind: str, el: str) -> None:
    """Add atom ``i`` (residue kind, element) to the metadata groups it belongs to."""
    k = _GROUP_KIND[kind]
    if k == "cation":
        groups["cation"].append(i)
    elif k == "anion":
        groups["anion"].append(i)
        if el == "F":
            groups["anion_coord"].append(i)
    elif k == "DME":
        groups["solvent:DME"].append(i)
        if el == "O":
            groups["solvent_O:DME"].append(i)
            groups["solvent_Oall:DME"].append(i)
    else:
        groups["electrode"].append(i)
        groups["frozen"].append(i)

def _dme(o1: np.ndarray, o2: np.ndarray, center: np.ndarray) -> np.ndarray:
    """DME heavy atoms C1 O1 C2 C3 O2 C4 (Å) binding ``center`` through O1 and O2."""
    m = 0.5 * (o1 + o2)
    u = m - center
    u /= np.linalg.norm(u)
    c2 = o1 + 0.3 * (o2 - o1) + 1.2 * u
    c3 = o1 + 0.7 * (o2 - o1) + 1.2 * u
    c1 = o1 + 1.4 * (o1 - center) / np.linalg.norm(o1 - center)
    c4 = o2 + 1.4 * (o2 - center) / np.linalg.norm(o2 - center)
    return np.array([c1, o1, c2, c3, o2, c4])


def _free_dme(c: np.ndarray) -> np.ndarray:
    return c + np.array([[-3.6, 0, 0], [-2.2, 0.6, 0], [-0.8, 0, 0], [0.8, 0, 0],
                         [2.2, 0.6, 0], [3.6, 0, 0]])


def _pf6(p: np.ndarray, toward: np.ndarray | None = None) -> np.ndarray:
    """PF6 (P then six F, Å); with ``toward`` the first F points at that position."""
    axes = OCTA.copy()
    if toward is not None:
        v = toward - p
        v /= np.linalg.norm(v)
        a = np.array([1.0, 0, 0]) if abs(v[0]) < 0.9 else np.array([0, 1.0, 0])
        e2 = np.cross(v, a)
        e2 /= np.linalg.norm(e2)
        e3 = np.cross(v, e2)
        axes = np.array([v, -v, e2, -e2, e3, -e3])
    return np.vstack([p, p + 1.6 * axes])


def make_run(
    out_dir: str | Path,
    n_complexes: int = 4,
    n_free_dme: int = 2,
    n_frames: int = 40,
    box_nm: tuple[float, float, float] = (5.0, 3.0, 3.0),
    noise_A: float = 0.08,
    dt_ps: float = 1.0,
    seed: int = 0,
) -> Path:
    """Write ``topology.pdb``, ``trajectory.dcd`` and ``metadata.json`` into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Created if needed.
    n_complexes : int
        Number of Na⁺ (>= 2); as many PF6 are added.
    n_free_dme : int
        DME not bound to any ion.
    n_frames : int
        Frames written.
    box_nm : (float, float, float)
        Orthorhombic box (nm); must hold the bulk lattice (~0.9 nm per site).
    noise_A : float
        Per-atom Gaussian displacement each frame (Å).
    dt_ps : float
        Time between frames (ps).
    seed : int
        Random seed.

    Returns
    -------
    Path
        ``out_dir``.
    """
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    L = np.array(box_nm) * 10.0
    mouth_x, zc = 0.6 * L[0], 0.5 * L[2]
    start0, ion_sites, rest = _lattice(L, box_nm, n_complexes, n_free_dme, mouth_x, zc)
    mol = _Molecules(["electrode", "frozen"])
    n_cip = _place_complexes(mol, ion_sites)
    for j in range(n_complexes - n_cip):
        mol.add("PF6", PF6_NAMES, PF6_EL, _pf6(rest[j]), "anion", -1)
    for j in range(n_free_dme):
        mol.add("DME", DME_NAMES, DME_EL, _free_dme(rest[n_complexes - n_cip + j]), "DME", -1)
    for x in np.arange(mouth_x + 1.0, L[0], 2.5):
        for y in np.arange(1.0, L[1], 2.5):
            for z in (zc - 3.5, zc + 3.5):
                mol.add("GRA", ["C"], ["C"], [np.array([x, y, z])], "C", -1)
    frames = _tracked_frames(mol, rng, L, start0, mouth_x, n_complexes, n_frames, noise_A)
    _write_run(out, mol, frames, L, dt_ps)
    nm = angstrom_to_nm
    geometry = {
        "kind": "slit",
        "insertion": {"axis": "x", "origin_nm": nm(mouth_x), "direction": 1},
        "regions": [
            {"name": "inside", "bounds_nm": {"x": [nm(mouth_x), nm(L[0])],
                                             "z": [nm(zc - 3.5), nm(zc + 3.5)]}},
            {"name": "mouth", "bounds_nm": {"x": [nm(mouth_x) - 0.5, nm(mouth_x)],
                                            "z": [nm(zc - 6.0), nm(zc + 6.0)]}},
        ],
        "fixed_axes": ["z"],
        "spacing_nm": 0.7,
    }
    _write_metadata(out, mol, {"builder": "predesolv.analysis.synthetic.make_run",
                               "seed": seed, "note": "synthetic, hand-placed; not MD"},
                    geometry)
    return out


DME_NAMES = ["C1", "O1", "C2", "C3", "O2", "C4"]
DME_EL = ["C", "O", "C", "C", "O", "C"]
PF6_NAMES = ["P", "F1", "F2", "F3", "F4", "F5", "F6"]
PF6_EL = ["P"] + ["F"] * 6
_GROUPS = ("cation", "anion", "anion_coord", "solvent:DME", "solvent_O:DME",
           "solvent_Oall:DME")


class _Molecules:
    """Atoms (name, resname, element), positions (Å), residues and metadata groups."""

    def __init__(self, extra_groups: list[str] | None = None):
        self.atoms: list[tuple[str, str, str]] = []
        self.res_of: list[int] = []
        self.pos: list[np.ndarray] = []
        self.groups: dict[str, list[int]] = {k: [] for k in (*_GROUPS, *(extra_groups or []))}
        self.mover: list[int] = []  # per residue: the ion it moves with (-1 static)
        self.nres = 0

    def add(self, resname: str, names: list[str], elems: list[str], xyz: Any, kind: str,
            follow: int) -> None:
        for name, el, p in zip(names, elems, xyz, strict=True):
            i = len(self.atoms)
            self.atoms.append((name, resname, el))
            self.res_of.append(self.nres)
            self.pos.append(p)
            _assign_groups(self.groups, i, kind, el)
        self.mover.append(follow)
        self.nres += 1


def _lattice(L: np.ndarray, box_nm: Any, n_complexes: int, n_free_dme: int, mouth_x: float,
             zc: float) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Tracked-ion start, ion sites and the remaining bulk lattice sites (Å)."""
    spacing = 9.0
    # bulk lattice sites (x < mouth - 8 A), away from the walls region
    xs = np.arange(4.5, mouth_x - 8.0, spacing)
    ys = np.arange(0.0, L[1] - 4.0, spacing)
    zs = np.arange(4.5, L[2] - 4.0, spacing)
    sites = np.array([[x, y, z] for x in xs for y in ys for z in zs])
    need = 2 * n_complexes - 1 + n_free_dme
    if len(sites) < need:
        raise ValueError(f"box {box_nm} holds {len(sites)} lattice sites, {need} needed")
    start0 = np.array([6.0, 0.5 * L[1], zc])  # tracked ion at the mouth height, in bulk
    sites = sites[np.linalg.norm(sites - start0, axis=1) > 8.0]
    if len(sites) < need:
        raise ValueError(f"box {box_nm} too small for {n_complexes} complexes")
    ion_sites = [start0] + [sites[i] * [1, 0, 1] if i == 0 else sites[i]
                            for i in range(n_complexes - 1)]
    return start0, ion_sites, sites[n_complexes - 1 :]


def _place_complexes(mol: _Molecules, ion_sites: list[np.ndarray]) -> int:
    """Na(DME)3 on every site, every fourth bulk ion a Na(DME)2(PF6) pair; returns pairs."""
    n_cip = 0
    for k, c in enumerate(ion_sites):
        c = np.asarray(c, float)
        mol.add("NA", ["NA"], ["Na"], [c], "cation", k)
        cip = k > 0 and (k - 1) % 4 == 2
        for a, b in (CIS_PAIRS[:2] if cip else CIS_PAIRS):
            mol.add("DME", DME_NAMES, DME_EL,
                    _dme(c + NA_O_A * OCTA[a], c + NA_O_A * OCTA[b], c), "DME", k)
        if cip:
            mol.add("PF6", PF6_NAMES, PF6_EL, _pf6(c + (NA_O_A + 1.6) * OCTA[3], toward=c),
                    "anion", k)
            n_cip += 1
    return n_cip


def _tracked_frames(mol: _Molecules, rng: np.random.Generator, L: np.ndarray,
                    start0: np.ndarray, mouth_x: float, n_complexes: int, n_frames: int,
                    noise_A: float) -> np.ndarray:
    """Frames (Å): ion 0 drifts into the slit keeping one DME; bulk complexes random-walk."""
    pos0 = np.array(mol.pos)
    res_of, mover = np.array(mol.res_of), np.array(mol.mover)
    # the tracked ion keeps the DME on its (+x,+y) pair, which leads it into the slit
    tracked_res = np.flatnonzero(mover == 0)
    keeper = tracked_res[1]
    travel = np.linspace(0.0, L[0] - 8.0 - start0[0], n_frames)
    drop_at = mouth_x - 1.0 - start0[0]
    frames = np.empty((n_frames, len(pos0), 3), np.float32)
    drift = np.zeros((n_complexes, 3))
    frozen = np.asarray(mol.groups["frozen"])
    for t in range(n_frames):
        shift = np.zeros((mol.nres, 3))
        if t:
            drift[1:] += rng.normal(0.0, 0.15, size=(n_complexes - 1, 3))
        for k in range(1, n_complexes):
            shift[mover == k] = drift[k]
        for r in tracked_res:
            moved = r == tracked_res[0] or r == keeper
            shift[r] = [travel[t] if moved else min(travel[t], drop_at), 0, 0]
        p = pos0 + shift[res_of] + rng.normal(0.0, noise_A, size=pos0.shape)
        p[frozen] = pos0[frozen]
        frames[t] = np.mod(p, L)
    return frames


def _write_run(out: Path, mol: _Molecules, frames: np.ndarray, L: Any, dt_ps: float) -> None:
    """topology.pdb + trajectory.dcd through MDAnalysis's public writers."""
    import warnings

    from MDAnalysis.coordinates.memory import MemoryReader

    res_of = np.array(mol.res_of)
    n = len(mol.atoms)
    u = mda.Universe.empty(n, n_residues=mol.nres, atom_resindex=res_of, trajectory=True)
    u.add_TopologyAttr("name", [a[0] for a in mol.atoms])
    u.add_TopologyAttr("type", [a[2] for a in mol.atoms])
    u.add_TopologyAttr("element", [a[2] for a in mol.atoms])
    u.add_TopologyAttr("resname", [mol.atoms[np.flatnonzero(res_of == r)[0]][1]
                                   for r in range(mol.nres)])
    u.add_TopologyAttr("resid", np.arange(1, mol.nres + 1))
    u.add_TopologyAttr("chainID", ["A"] * n)
    u.load_new(frames, format=MemoryReader, dimensions=np.r_[L, 90, 90, 90], dt=dt_ps)
    u.trajectory[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u.atoms.write(str(out / "topology.pdb"))
        with mda.Writer(str(out / "trajectory.dcd"), n, dt=dt_ps) as w:
            for _ in u.trajectory:
                w.write(u.atoms)


def _write_metadata(out: Path, mol: _Molecules, provenance: dict[str, Any],
                    geometry: dict[str, Any] | None = None) -> None:
    md: dict[str, Any] = {
        "schema_version": 1,
        "units": {"length": "nm", "charge": "e"},
        "species": {"cation": "Na", "anion": "PF6", "solvents": ["DME"]},
        "groups": {k: sorted(int(i) for i in v) for k, v in mol.groups.items()},
    }
    if geometry is not None:
        md["geometry"] = geometry
    md["provenance"] = provenance
    (out / "metadata.json").write_text(json.dumps(md, indent=1))


def make_random_electrolyte(
    out_dir: str | Path,
    box_nm: float = 5.0,
    n_na: int = 75,
    n_dme: int = 700,
    n_frames: int = 200,
    step_A: float = 0.5,
    solvated: bool = True,
    seed: int = 0,
) -> Path:
    """A liquid-density NaPF6/DME run directory with random-walk rigid molecules.

    Molecules are placed at random (overlaps allowed: this is a timing and counting
    benchmark, not a liquid structure) and each frame every molecule translates by a
    Gaussian step of ``step_A`` Å per axis. With ``solvated`` the first ``3 n_na`` DME form
    bidentate Na(DME)3 shells (Na–O 0.24 nm) that move with their ion, so a frame has the
    ~6 Na–O contacts per ion of the real liquid. Defaults give ~1 M NaPF6 in DME (5 nm box).
    Writes ``topology.pdb``, ``trajectory.dcd`` and ``metadata.json`` (no geometry: bulk).
    """
    if solvated and 3 * n_na > n_dme:
        raise ValueError("solvated=True needs n_dme >= 3 n_na")
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    L = box_nm * 10.0
    mol = _Molecules()
    for kind, count in (("NA", n_na), ("PF6", n_na), ("DME", n_dme)):
        for c in range(count):
            rot, _ = np.linalg.qr(rng.normal(size=(3, 3)))
            host, xyz, rot = _random_molecule(kind, c, mol.nres, n_na, solvated, rot)
            names, elems = {"NA": (["NA"], ["Na"]), "PF6": (PF6_NAMES, PF6_EL),
                            "DME": (DME_NAMES, DME_EL)}[kind]
            mol.add(kind, names, elems, [rot @ p for p in xyz], kind, host)
    res_of, offs = np.array(mol.res_of), np.array(mol.pos)
    host_of = np.array(mol.mover)[res_of]
    centres = rng.uniform(0, L, size=(mol.nres, 3))
    frames = np.empty((n_frames, len(mol.atoms), 3), np.float32)
    for t in range(n_frames):
        if t:
            centres = centres + rng.normal(0.0, step_A, size=centres.shape)
        centres = np.mod(centres, L)  # wrap molecule centres, as OpenMM's reporters do
        frames[t] = centres[host_of] + offs
    _write_run(out, mol, frames, np.array([L, L, L]), 1.0)
    _write_metadata(out, mol, {"builder": "predesolv.analysis.synthetic.make_random_electrolyte",
                               "seed": seed, "note": "random-walk rigid molecules; not MD"})
    return out


def _random_molecule(kind: str, c: int, nres: int, n_na: int, solvated: bool,
                     rot: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(residue it moves with, template positions (Å), rotation) of molecule ``c`` of a kind."""
    if kind == "NA":
        return nres, np.zeros((1, 3)), rot
    if kind == "PF6":
        return nres, _pf6(np.zeros(3)), rot
    if solvated and c < 3 * n_na:
        a, b = CIS_PAIRS[c % 3]
        return c // 3, _dme(NA_O_A * OCTA[a], NA_O_A * OCTA[b], np.zeros(3)), np.eye(3)
    return nres, _free_dme(np.zeros(3)), rot
