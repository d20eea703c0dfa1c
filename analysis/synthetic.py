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

import MDAnalysis as mda
import numpy as np

from .units import angstrom_to_nm

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
    mouth_x = 0.6 * L[0]
    zc = 0.5 * L[2]
    spacing = 9.0
    # bulk lattice sites (x < mouth - 8 A), away from the walls region
    xs = np.arange(4.5, mouth_x - 8.0, spacing)
    ys = np.arange(0.0, L[1] - 4.0, spacing)
    zs = np.arange(4.5, L[2] - 4.0, spacing)
    sites = np.array([[x, y, z] for x in xs for y in ys for z in zs])
    need = 2 * n_complexes - 1 + n_free_dme
    if len(sites) < need:
        raise ValueError(f"box {box_nm} holds {len(sites)} lattice sites, {need} needed")
    # tracked ion at the mouth height, starting in bulk
    start0 = np.array([6.0, 0.5 * L[1], zc])
    sites = sites[np.linalg.norm(sites - start0, axis=1) > 8.0]
    if len(sites) < need:
        raise ValueError(f"box {box_nm} too small for {n_complexes} complexes")
    ion_sites = [start0] + [sites[i] * [1, 0, 1] if i == 0 else sites[i]
                            for i in range(n_complexes - 1)]
    rest = sites[n_complexes - 1 :]

    atoms: list[tuple[str, str, str]] = []  # (name, resname, element)
    res_of: list[int] = []
    pos: list[np.ndarray] = []
    groups: dict[str, list[int]] = {k: [] for k in ("cation", "anion", "anion_coord", "solvent:DME",
                                                    "solvent_O:DME", "solvent_Oall:DME",
                                                    "electrode", "frozen")}
    mover: list[int] = []  # per residue: which ion it moves with (-1 static), -2 = left behind
    nres = 0

    def add_res(resname, names, elems, xyz, kind, follow):
        nonlocal nres
        for name, el, p in zip(names, elems, xyz, strict=True):
            i = len(atoms)
            atoms.append((name, resname, el))
            res_of.append(nres)
            pos.append(p)
            _assign_groups(groups, i, kind, el)
        mover.append(follow)
        nres += 1

    dme_names = ["C1", "O1", "C2", "C3", "O2", "C4"]
    dme_el = ["C", "O", "C", "C", "O", "C"]
    pf6_names = ["P", "F1", "F2", "F3", "F4", "F5", "F6"]
    pf6_el = ["P"] + ["F"] * 6
    n_cip = 0
    for k, c in enumerate(ion_sites):
        c = np.asarray(c, float)
        add_res("NA", ["NA"], ["Na"], [c], "cation", k)
        cip = k > 0 and (k - 1) % 4 == 2
        pairs = CIS_PAIRS[:2] if cip else CIS_PAIRS
        for a, b in pairs:
            add_res("DME", dme_names, dme_el,
                    _dme(c + NA_O_A * OCTA[a], c + NA_O_A * OCTA[b], c), "DME", k)
        if cip:
            add_res("PF6", pf6_names, pf6_el, _pf6(c + (NA_O_A + 1.6) * OCTA[3], toward=c),
                    "anion", k)
            n_cip += 1
    for j in range(n_complexes - n_cip):
        add_res("PF6", pf6_names, pf6_el, _pf6(rest[j]), "anion", -1)
    for j in range(n_free_dme):
        add_res("DME", dme_names, dme_el, _free_dme(rest[n_complexes - n_cip + j]), "DME", -1)
    for x in np.arange(mouth_x + 1.0, L[0], 2.5):
        for y in np.arange(1.0, L[1], 2.5):
            for z in (zc - 3.5, zc + 3.5):
                add_res("GRA", ["C"], ["C"], [np.array([x, y, z])], "C", -1)

    pos0 = np.array(pos)
    res_of = np.array(res_of)
    mover = np.array(mover)
    # the tracked ion keeps the DME on its (+x,+y) pair, which leads it into the slit
    tracked_res = np.flatnonzero(mover == 0)
    keeper = tracked_res[1]
    travel = np.linspace(0.0, L[0] - 8.0 - start0[0], n_frames)
    drop_at = mouth_x - 1.0 - start0[0]
    frames = np.empty((n_frames, len(pos0), 3), np.float32)
    drift = np.zeros((n_complexes, 3))
    for t in range(n_frames):
        shift = np.zeros((nres, 3))
        if t:
            drift[1:] += rng.normal(0.0, 0.15, size=(n_complexes - 1, 3))
        for k in range(1, n_complexes):
            shift[mover == k] = drift[k]
        dx = travel[t]
        for r in tracked_res:
            if r == tracked_res[0] or r == keeper:
                shift[r] = [dx, 0, 0]
            else:
                shift[r] = [min(dx, drop_at), 0, 0]
        p = pos0 + shift[res_of] + rng.normal(0.0, noise_A, size=pos0.shape)
        frozen = np.asarray(groups["frozen"])
        p[frozen] = pos0[frozen]
        frames[t] = np.mod(p, L)

    u = mda.Universe.empty(len(atoms), n_residues=nres, atom_resindex=res_of, trajectory=True)
    u.add_TopologyAttr("name", [a[0] for a in atoms])
    u.add_TopologyAttr("type", [a[2] for a in atoms])
    u.add_TopologyAttr("element", [a[2] for a in atoms])
    u.add_TopologyAttr("resname", [atoms[np.flatnonzero(res_of == r)[0]][1] for r in range(nres)])
    u.add_TopologyAttr("resid", np.arange(1, nres + 1))
    u.add_TopologyAttr("chainID", ["A"] * len(atoms))
    from MDAnalysis.coordinates.memory import MemoryReader

    u.load_new(frames, format=MemoryReader, dimensions=np.r_[L, 90, 90, 90], dt=dt_ps)
    u.trajectory[0]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u.atoms.write(str(out / "topology.pdb"))
        with mda.Writer(str(out / "trajectory.dcd"), len(atoms), dt=dt_ps) as w:
            for _ in u.trajectory:
                w.write(u.atoms)
    nm = angstrom_to_nm
    md = {
        "schema_version": 1,
        "units": {"length": "nm", "charge": "e"},
        "species": {"cation": "Na", "anion": "PF6", "solvents": ["DME"]},
        "groups": {k: sorted(int(i) for i in v) for k, v in groups.items()},
        "geometry": {
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
        },
        "provenance": {"builder": "predesolv.analysis.synthetic.make_run", "seed": seed,
                       "note": "synthetic, hand-placed; not MD"},
    }
    (out / "metadata.json").write_text(json.dumps(md, indent=1))
    return out


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
    tmpl_pf6 = _pf6(np.zeros(3))
    names, resn, elem, res_of, offs = [], [], [], [], []
    groups = {k: [] for k in ("cation", "anion", "anion_coord", "solvent:DME",
                              "solvent_O:DME", "solvent_Oall:DME")}
    nres = 0
    follow = []  # residue whose centre this residue moves with
    for kind, count in (("NA", n_na), ("PF6", n_na), ("DME", n_dme)):
        for c in range(count):
            rot, _ = np.linalg.qr(rng.normal(size=(3, 3)))
            host = nres
            if kind == "DME" and solvated and c < 3 * n_na:
                a, b = CIS_PAIRS[c % 3]
                tmpl_dme = _dme(NA_O_A * OCTA[a], NA_O_A * OCTA[b], np.zeros(3))
                host = c // 3  # Na residues come first
                rot = np.eye(3)
            elif kind == "DME":
                tmpl_dme = _free_dme(np.zeros(3))
            follow.append(host)
            if kind == "NA":
                atoms = [("NA", "Na", np.zeros(3))]
            elif kind == "PF6":
                atoms = list(zip(["P", "F1", "F2", "F3", "F4", "F5", "F6"], ["P"] + ["F"] * 6,
                                 tmpl_pf6, strict=True))
            else:
                atoms = list(zip(["C1", "O1", "C2", "C3", "O2", "C4"],
                                 ["C", "O", "C", "C", "O", "C"], tmpl_dme, strict=True))
            for nm, el, p in atoms:
                i = len(names)
                names.append(nm)
                elem.append(el)
                resn.append(kind)
                res_of.append(nres)
                offs.append(rot @ p)
                _assign_groups(groups, i, kind, el)
            nres += 1
    res_of = np.array(res_of)
    offs = np.array(offs)
    host_of = np.array(follow)[res_of]
    centres = rng.uniform(0, L, size=(nres, 3))
    frames = np.empty((n_frames, len(names), 3), np.float32)
    for t in range(n_frames):
        if t:
            centres = centres + rng.normal(0.0, step_A, size=centres.shape)
        centres = np.mod(centres, L)  # wrap molecule centres, as OpenMM's reporters do
        frames[t] = centres[host_of] + offs
    u = mda.Universe.empty(len(names), n_residues=nres, atom_resindex=res_of, trajectory=True)
    u.add_TopologyAttr("name", names)
    u.add_TopologyAttr("type", elem)
    u.add_TopologyAttr("element", elem)
    u.add_TopologyAttr("resname", [resn[np.flatnonzero(res_of == r)[0]] for r in range(nres)])
    u.add_TopologyAttr("resid", np.arange(1, nres + 1))
    u.add_TopologyAttr("chainID", ["A"] * len(names))
    from MDAnalysis.coordinates.memory import MemoryReader

    u.load_new(frames, format=MemoryReader, dimensions=[L, L, L, 90, 90, 90], dt=1.0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u.atoms.write(str(out / "topology.pdb"))
        with mda.Writer(str(out / "trajectory.dcd"), len(names), dt=1.0) as w:
            for _ in u.trajectory:
                w.write(u.atoms)
    md = {
        "schema_version": 1,
        "units": {"length": "nm", "charge": "e"},
        "species": {"cation": "Na", "anion": "PF6", "solvents": ["DME"]},
        "groups": {k: sorted(v) for k, v in groups.items()},
        "provenance": {"builder": "predesolv.analysis.synthetic.make_random_electrolyte",
                       "seed": seed, "note": "random-walk rigid molecules; not MD"},
    }
    (out / "metadata.json").write_text(json.dumps(md, indent=1))
    return out
