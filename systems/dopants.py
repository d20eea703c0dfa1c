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
    nbr_idx: list[list[int]] = [[] for _ in range(sh.n_atoms)]
    for i, j in sh.bonds:
        nbr_idx[i].append(j)
        nbr_idx[j].append(i)
    chosen = _choose_sites(geom, dopants or [], np.random.default_rng(seed), nbr_idx)
    draft = _Draft(geom, nbr_idx)
    nvec = neighbour_vectors(sh.positions, sh.bonds, geom.box_y)
    for dtype, i in chosen:
        draft.add_dopant(dtype, i, nvec)
    draft.add_plain_residues()
    return draft.finish()


def _choose_sites(geom: ElectrodeGeometry, dopants: list[Any], rng: np.random.Generator,
                  nbr_idx: list[list[int]]) -> list[tuple[str, int]]:
    """Draw non-overlapping dopant sites: (type, site atom) in request order."""
    sh = geom.sheet
    taken: set[int] = set()  # atoms already in a dopant residue (site, neighbours, their Hs)
    chosen: list[tuple[str, int]] = []
    for dop in dopants:
        sites = _eligible_sites(geom, dop.type, dop.sheets, nbr_idx)
        carbons_of = {i: [j for j in nbr_idx[i] if sh.labels[j] != "HE"] for i in sites}
        free = [i for i in sites if i not in taken and not (set(carbons_of[i]) & taken)]
        want = dop.count if dop.count is not None else max(1, int(round(dop.fraction * len(sites))))
        got = 0
        for k in rng.permutation(len(free)):
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
    return chosen


class _Draft:
    """Electrode atoms being turned into residues: sheet atoms, new dopant atoms, dropped
    edge hydrogens; :meth:`finish` renumbers."""

    def __init__(self, geom: ElectrodeGeometry, nbr_idx: list[list[int]]):
        sh = geom.sheet
        self.sh, self.nbr = sh, nbr_idx
        self.n = sh.n_atoms
        self.positions = list(sh.positions)
        self.elements = [_ELEMENT[lab] for lab in sh.labels]
        self.names = ["H" if lab == "HE" else "C" for lab in sh.labels]
        self.part = list(geom.part)
        self.in_res = np.zeros(self.n, dtype=bool)
        self.dropped: set[int] = set()
        self.residues: list[tuple[str, list[int]]] = []
        self.groups: dict[str, list[int]] = {}

    def _new_atom(self, p: np.ndarray, el: str, name: str, prt: str) -> int:
        self.positions.append(p)
        self.elements.append(el)
        self.names.append(name)
        self.part.append(prt)
        return len(self.positions) - 1

    def _is_h(self, j: int) -> bool:
        return self.sh.labels[j] == "HE"

    def add_dopant(self, dtype: str, i: int, nvec: Any) -> None:
        """Site ``i`` becomes N (+ O or H for N-oxide / pyrrolic); its carbon neighbours join
        the residue (except graphitic N); edge H on the site or neighbours are dropped."""
        sh, nbr = self.sh, self.nbr
        carbons = [j for j in nbr[i] if not self._is_h(j)]
        self.dropped |= {j for j in nbr[i] if self._is_h(j)}
        self.elements[i], self.names[i] = "N", "N"
        atoms = [i]
        if dtype in ("pyrrolic", "n_oxide"):
            vecs = [nvec[i][k] for k, j in enumerate(nbr[i]) if not self._is_h(j)]
            u = dangling_direction(vecs)
            if dtype == "n_oxide":
                atoms.append(self._new_atom(sh.positions[i] + N_O_BOND_NM * u, "O", "O",
                                            self.part[i]))
            else:
                atoms.append(self._new_atom(sh.positions[i] + N_H_BOND_NM * u, "H", "H",
                                            self.part[i]))
        if dtype != "graphitic":
            for k, c in enumerate(carbons):
                self.names[c] = f"C{k + 1}"
                # a neighbour's own edge H (H-terminated sheets) is dropped: the template
                # neighbour carbons carry no H
                self.dropped |= {j for j in nbr[c] if self._is_h(j)}
                atoms.append(c)
        self.in_res[[a for a in atoms if a < self.n]] = True
        self.residues.append((RESNAME[dtype], atoms))
        self.groups.setdefault(f"dopant:{dtype}", []).extend(atoms)
        self.groups.setdefault(f"dopant_site:{dtype}", []).append(i)

    def add_plain_residues(self) -> None:
        """Every other carbon: ``GRA``, or ``GRH`` with its edge H."""
        for i, lab in enumerate(self.sh.labels):
            if self.in_res[i] or i in self.dropped or lab == "HE":
                continue
            hs = [j for j in self.nbr[i] if self._is_h(j) and j not in self.dropped]
            self.residues.append(("GRH", [i, hs[0]]) if hs else ("GRA", [i]))

    def finish(self) -> ElectrodeResidues:
        """Drop removed H atoms and renumber, keeping residue order."""
        all_pos = np.asarray(self.positions).reshape(-1, 3)
        keep = [i for i in range(len(all_pos)) if i not in self.dropped]
        new_index = {old: k for k, old in enumerate(keep)}
        return ElectrodeResidues(
            positions=all_pos[keep],
            elements=[self.elements[i] for i in keep],
            names=[self.names[i] for i in keep],
            residues=[(r, [new_index[a] for a in atoms]) for r, atoms in self.residues],
            part=[self.part[i] for i in keep],
            groups={g: sorted(new_index[a] for a in idx) for g, idx in self.groups.items()},
        )
