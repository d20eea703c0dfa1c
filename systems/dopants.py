"""Electrode residues and nitrogen dopants (graphitic, pyridinic, edge N–H, N-oxide).

:func:`electrode_residues` turns an :class:`~predesolv.systems.slit.ElectrodeGeometry` into
residues that match the templates of ``forcefields/predesolv-carbon.xml``:

=====  =======================================================  ==========================
name   atoms                                                    site
=====  =======================================================  ==========================
GRA    C                                                        any carbon
GRH    C, H                                                     H-terminated edge carbon
GNG    N                                                        basal carbon near the mouth
GNP    N, C1, C2 (N's two carbon neighbours)                    mouth-facing edge carbon
GNR    N, H, C1, C2                                             mouth-facing edge carbon
GNO    N, O, C1, C2                                             mouth-facing edge carbon
=====  =======================================================  ==========================

Dopant sites are drawn with ``numpy.random.default_rng(seed)`` from the eligible sites of
the working electrode's mouth (edge carbons on the lowest-x column of each sheet of the first
segment; graphitic N: 3-coordinated carbons within 0.45 nm of that edge). Two dopants never
share a carbon neighbour. The edge shape (zigzag/armchair) is the electrode's ``edge``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from predesolv.errors import BuildError
from predesolv.systems.graphene import dangling_direction, neighbour_vectors
from predesolv.systems.slit import ElectrodeGeometry

N_O_BOND_NM = 0.129  # pyridine N-oxide N-O (gas-phase electron diffraction, ~1.29 A)
N_H_BOND_NM = 0.101  # pyrrole N-H (OPLS-AA / experiment)
RESNAME = {"graphitic": "GNG", "pyridinic": "GNP", "pyrrolic": "GNR", "n_oxide": "GNO"}
_ELEMENT = {"C": "C", "CE": "C", "HE": "H"}


@dataclass
class ElectrodeResidues:
    """Residue-level description of an electrode, ready for a Topology.

    Attributes
    ----------
    positions : numpy.ndarray
        Shape (n, 3), nm, electrode frame.
    elements : list of str
        Element symbol per atom.
    names : list of str
        Atom name per atom (matches the template).
    residues : list of (str, list of int)
        Residue name and its atom indices (template order).
    part : list of str
        Part name per atom (``slit_walls``, ``walls``, ``cap``, ``counter``).
    groups : dict of str to list of int
        Dopant groups: ``dopant:<type>`` (all atoms of those residues) and
        ``dopant_site:<type>`` (the N atoms).
    """

    positions: np.ndarray
    elements: list[str]
    names: list[str]
    residues: list[tuple[str, list[int]]]
    part: list[str]
    groups: dict[str, list[int]] = field(default_factory=dict)

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return len(self.positions)


def _eligible_sites(geom: ElectrodeGeometry, dtype: str, sheets: str,
                    nbr_idx: list[list[int]]) -> list[int]:
    sh = geom.sheet
    pos = sh.positions
    first = geom.segments[0]
    x_hi_first = first["x_nm"][1]
    out = []
    sheet_min = {}
    for s in np.unique(sh.sheet_id):
        m = (sh.sheet_id == s) & np.array([lab != "HE" for lab in sh.labels])
        sheet_min[int(s)] = float(pos[m, 0].min())
    for i, lab in enumerate(sh.labels):
        if lab == "HE":
            continue
        if sheets == "slit_walls" and geom.part[i] != "slit_walls":
            continue
        if pos[i, 0] > x_hi_first + 1e-6:
            continue
        x0 = sheet_min[int(sh.sheet_id[i])]
        if x0 > x_hi_first:
            continue
        carbons = [j for j in nbr_idx[i] if sh.labels[j] != "HE"]
        if dtype == "graphitic":
            if lab == "C" and len(carbons) == 3 and pos[i, 0] - x0 <= 0.45:
                out.append(i)
        elif lab == "CE" and len(carbons) == 2 and pos[i, 0] - x0 < 0.1:
            out.append(i)
    return out


def electrode_residues(
    geom: ElectrodeGeometry, dopants: list[Any] | None = None, seed: int = 0
) -> ElectrodeResidues:
    """Residues (and dopants) for an electrode geometry.

    Parameters
    ----------
    geom : ElectrodeGeometry
        Working or counter electrode.
    dopants : list of predesolv.config.electrode.DopantConfig, optional
        Dopant requests, applied in order.
    seed : int
        Seed of the site draw.

    Returns
    -------
    ElectrodeResidues

    Raises
    ------
    BuildError
        Fewer eligible, non-overlapping sites than requested.
    """
    sh = geom.sheet
    n = sh.n_atoms
    nbr_idx: list[list[int]] = [[] for _ in range(n)]
    for i, j in sh.bonds:
        nbr_idx[i].append(j)
        nbr_idx[j].append(i)
    nvec = neighbour_vectors(sh.positions, sh.bonds, geom.box_y)
    rng = np.random.default_rng(seed)
    taken: set[int] = set()  # atoms already in a dopant residue (site, neighbours, their Hs)
    chosen: list[tuple[str, int]] = []
    for dop in dopants or []:
        sites = _eligible_sites(geom, dop.type, dop.sheets, nbr_idx)
        carbons_of = {i: [j for j in nbr_idx[i] if sh.labels[j] != "HE"] for i in sites}
        free = [i for i in sites if i not in taken and not (set(carbons_of[i]) & taken)]
        want = dop.count if dop.count is not None else max(1, int(round(dop.fraction * len(sites))))
        order = rng.permutation(len(free))
        got = 0
        for k in order:
            i = free[k]
            block = {i, *carbons_of[i]}
            block |= {j for c in block for j in nbr_idx[c] if sh.labels[j] == "HE"}
            ring = block | {j for c in carbons_of[i] for j in nbr_idx[c]}
            if ring & taken:
                continue
            taken |= ring
            chosen.append((dop.type, i))
            got += 1
            if got == want:
                break
        if got < want:
            raise BuildError(
                f"electrode.dopants: {dop.type} count {want} is not possible; only {got} "
                f"non-overlapping eligible sites ({len(sites)} eligible, sheets={dop.sheets}, "
                f"edge={geom.info.get('edge')}); lower the count or enlarge width/layers"
            )

    positions = list(sh.positions)
    elements = [_ELEMENT[lab] for lab in sh.labels]
    names = ["H" if lab == "HE" else "C" for lab in sh.labels]
    part = list(geom.part)
    in_res = np.zeros(n, dtype=bool)
    dropped: set[int] = set()
    residues: list[tuple[str, list[int]]] = []
    groups: dict[str, list[int]] = {}
    extra_pos, extra_el, extra_name, extra_part = [], [], [], []

    def _new_atom(p: np.ndarray, el: str, name: str, prt: str) -> int:
        extra_pos.append(p)
        extra_el.append(el)
        extra_name.append(name)
        extra_part.append(prt)
        return n + len(extra_pos) - 1

    for dtype, i in chosen:
        carbons = [j for j in nbr_idx[i] if sh.labels[j] != "HE"]
        for j in nbr_idx[i]:
            if sh.labels[j] == "HE":
                dropped.add(j)
        elements[i], names[i] = "N", "N"
        resname = RESNAME[dtype]
        atoms = [i]
        if dtype in ("pyrrolic", "n_oxide"):
            vecs = [nvec[i][k] for k, j in enumerate(nbr_idx[i]) if sh.labels[j] != "HE"]
            u = dangling_direction(vecs)
            if dtype == "n_oxide":
                atoms.append(_new_atom(sh.positions[i] + N_O_BOND_NM * u, "O", "O", part[i]))
            else:
                atoms.append(_new_atom(sh.positions[i] + N_H_BOND_NM * u, "H", "H", part[i]))
        if dtype != "graphitic":
            for k, c in enumerate(carbons):
                names[c] = f"C{k + 1}"
                # a neighbour's own edge H (H-terminated sheets) is dropped: the template
                # neighbour carbons carry no H
                for j in nbr_idx[c]:
                    if sh.labels[j] == "HE":
                        dropped.add(j)
                atoms.append(c)
        in_res[[a for a in atoms if a < n]] = True
        residues.append((resname, atoms))
        groups.setdefault(f"dopant:{dtype}", []).extend(atoms)
        groups.setdefault(f"dopant_site:{dtype}", []).append(i)

    for i, lab in enumerate(sh.labels):
        if in_res[i] or i in dropped or lab == "HE":
            continue
        hs = [j for j in nbr_idx[i] if sh.labels[j] == "HE" and j not in dropped]
        if hs:
            residues.append(("GRH", [i, hs[0]]))
        else:
            residues.append(("GRA", [i]))

    all_pos = np.vstack([np.asarray(positions), np.asarray(extra_pos).reshape(-1, 3)])
    all_el = elements + extra_el
    all_names = names + extra_name
    all_part = part + extra_part
    # renumber: drop removed H atoms, keep residue order
    keep = [i for i in range(len(all_pos)) if i not in dropped]
    new_index = {old: k for k, old in enumerate(keep)}
    residues = [(r, [new_index[a] for a in atoms]) for r, atoms in residues]
    groups = {g: sorted(new_index[a] for a in idx) for g, idx in groups.items()}
    return ElectrodeResidues(
        positions=all_pos[keep],
        elements=[all_el[i] for i in keep],
        names=[all_names[i] for i in keep],
        residues=residues,
        part=[all_part[i] for i in keep],
        groups=groups,
    )
