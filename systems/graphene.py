"""Graphene sheet geometry: honeycomb ribbons finite along x, periodic along y.

Pure geometry, no OpenMM objects: every function returns numpy arrays in nanometres plus
string labels. A *ribbon* lies in a plane of constant z, has open edges at its low-x and
high-x ends and is periodic along y with a period that is a whole number of rectangular
unit cells (so the sheet width must equal the box length along y).

Orientation (``edge``) names the edge shape that faces the electrolyte (the edges run along
y):

* ``"zigzag"``: rectangular cell ``3 b`` (x) by ``sqrt(3) b`` (y), 4 atoms;
* ``"armchair"``: rectangular cell ``sqrt(3) b`` (x) by ``3 b`` (y), 4 atoms;

with ``b`` the C–C bond length (0.142 nm). Edge carbons have two carbon neighbours; with
``hydrogenate=True`` each receives one H along its missing bond direction.

Atom labels used throughout the electrode code:

``"C"``   basal (3-coordinated) carbon; ``"CE"`` edge carbon (2-coordinated);
``"HE"``  edge hydrogen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from predesolv.errors import BuildError

CC_BOND_NM = 0.142
CH_BOND_NM = 0.109
GRAPHITE_SPACING_NM = 0.335
EDGES = ("zigzag", "armchair")
_SQ3 = float(np.sqrt(3.0))


@dataclass
class Sheet:
    """One graphene ribbon (or a stack of them, after :func:`concatenate`).

    Attributes
    ----------
    positions : numpy.ndarray
        Shape (n, 3), nm.
    labels : list of str
        Per-atom label (``"C"``, ``"CE"``, ``"HE"`` or a dopant label), length n.
    bonds : list of tuple of int
        Covalent bonds (0-based indices into ``positions``), periodic along y included.
    sheet_id : numpy.ndarray
        Shape (n,), int: which sheet each atom belongs to.
    """

    positions: np.ndarray
    labels: list[str]
    bonds: list[tuple[int, int]] = field(default_factory=list)
    #: Default (empty): every atom on sheet 0.
    sheet_id: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    def __post_init__(self) -> None:
        self.positions = np.asarray(self.positions, dtype=float).reshape(-1, 3)
        if self.sheet_id is None or (len(self.sheet_id) == 0 and len(self.positions) > 0):
            self.sheet_id = np.zeros(len(self.positions), dtype=int)
        if len(self.labels) != len(self.positions) or len(self.sheet_id) != len(self.positions):
            raise ValueError("Sheet: positions, labels and sheet_id lengths differ")

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return len(self.positions)


def cell_dimensions(edge: str, bond: float = CC_BOND_NM) -> tuple[float, float]:
    """Rectangular 4-atom unit cell of a ribbon.

    Parameters
    ----------
    edge : {"zigzag", "armchair"}
        Edge shape facing the low/high-x ends.
    bond : float
        C–C bond length, nm.

    Returns
    -------
    (float, float)
        Cell length along x and along y, nm.
    """
    _check_edge(edge)
    if edge == "zigzag":
        return 3.0 * bond, _SQ3 * bond
    return _SQ3 * bond, 3.0 * bond


def _check_edge(edge: str) -> None:
    if edge not in EDGES:
        raise BuildError(f"electrode.edge: {edge!r} is not allowed; choose one of {EDGES}")


def _cell_basis(edge: str, bond: float) -> np.ndarray:
    b = bond
    if edge == "zigzag":
        return np.array([[0.0, 0.0], [b / 2, _SQ3 * b / 2], [1.5 * b, _SQ3 * b / 2], [2 * b, 0.0]])
    return np.array([[0.0, 0.0], [_SQ3 * b / 2, b / 2], [_SQ3 * b / 2, 1.5 * b], [0.0, 2 * b]])


def n_cells_for_width(width: float, edge: str, bond: float = CC_BOND_NM) -> int:
    """Whole number of unit cells along y closest to ``width`` (nm), at least 2."""
    _, ly = cell_dimensions(edge, bond)
    return max(2, int(round(width / ly)))


def stacking_shift(edge: str, stacking: str, layer: int, bond: float = CC_BOND_NM) -> np.ndarray:
    """In-plane shift (nm, shape (2,)) of sheet number ``layer`` for AB or AA stacking.

    AB (Bernal) stacking shifts every other sheet by one C–C bond vector. For armchair
    ribbons the bond vector (0, b) along y is used, so the edges stay aligned; for zigzag
    ribbons every bond vector has an x component and the vector (b, 0) is used: odd sheets'
    edges sit ``b`` further along x.
    """
    _check_edge(edge)
    if stacking not in ("AB", "AA"):
        raise BuildError(f"electrode.stacking: {stacking!r} is not allowed; choose 'AB' or 'AA'")
    if stacking == "AA" or layer % 2 == 0:
        return np.zeros(2)
    return np.array([bond, 0.0]) if edge == "zigzag" else np.array([0.0, bond])


def ribbon(
    n_x: int,
    n_y: int,
    edge: str,
    *,
    z: float = 0.0,
    x0: float = 0.0,
    shift: np.ndarray | None = None,
    hydrogenate: bool = False,
    bond: float = CC_BOND_NM,
) -> Sheet:
    """Build one graphene ribbon.

    Parameters
    ----------
    n_x : int
        Unit cells along x (finite direction), >= 1.
    n_y : int
        Unit cells along y (periodic direction), >= 2.
    edge : {"zigzag", "armchair"}
        Edge shape at both x ends.
    z : float
        Height of the sheet plane, nm.
    x0 : float
        x of the first atom column (before ``shift``), nm.
    shift : numpy.ndarray, optional
        In-plane (x, y) shift in nm (stacking); y is wrapped into ``[0, L_y)``.
    hydrogenate : bool
        Add one H (C–H 0.109 nm) on every 2-coordinated edge carbon.
    bond : float
        C–C bond length, nm.

    Returns
    -------
    Sheet
        ``n = 4 n_x n_y`` carbons (plus one H per edge carbon when hydrogenated); edge
        carbons labelled ``"CE"``, hydrogens ``"HE"``.
    """
    _check_edge(edge)
    if n_x < 1 or n_y < 2:
        raise BuildError(f"ribbon needs n_x >= 1 and n_y >= 2 unit cells, got {n_x}, {n_y}")
    lx, ly = cell_dimensions(edge, bond)
    basis = _cell_basis(edge, bond)
    ii, jj = np.meshgrid(np.arange(n_x), np.arange(n_y), indexing="ij")
    origins = np.stack([ii.ravel() * lx, jj.ravel() * ly], axis=1)
    xy = (origins[:, None, :] + basis[None, :, :]).reshape(-1, 2)
    xy[:, 0] += x0
    if shift is not None:
        xy += np.asarray(shift, dtype=float)[:2]
    xy[:, 1] = np.mod(xy[:, 1], n_y * ly)
    # sort by x then y for a readable atom order
    order = np.lexsort((np.round(xy[:, 1], 6), np.round(xy[:, 0], 6)))
    xy = xy[order]
    pos = np.column_stack([xy, np.full(len(xy), float(z))])
    bonds = _bonds_periodic_y(pos, n_y * ly, bond)
    deg = np.zeros(len(pos), dtype=int)
    for i, j in bonds:
        deg[i] += 1
        deg[j] += 1
    if np.any(deg < 2) or np.any(deg > 3):
        raise BuildError("internal error: ribbon has carbons with < 2 or > 3 neighbours")
    labels = ["C" if d == 3 else "CE" for d in deg]
    sheet = Sheet(pos, labels, bonds)
    if hydrogenate:
        sheet = add_edge_hydrogens(sheet, n_y * ly)
    return sheet


def _bonds_periodic_y(pos: np.ndarray, ly_box: float, bond: float) -> list[tuple[int, int]]:
    d = pos[:, None, :] - pos[None, :, :]
    d[:, :, 1] -= ly_box * np.round(d[:, :, 1] / ly_box)
    r = np.sqrt((d**2).sum(axis=2))
    i, j = np.nonzero(np.triu((r > 0.5 * bond) & (r < 1.15 * bond), k=1))
    return list(zip(i.tolist(), j.tolist(), strict=True))


def neighbour_vectors(pos: np.ndarray, bonds: list[tuple[int, int]], ly_box: float) -> list:
    """Minimum-image bond vectors from each atom to its bonded neighbours (periodic y)."""
    nbr: list[list[np.ndarray]] = [[] for _ in range(len(pos))]
    for i, j in bonds:
        v = pos[j] - pos[i]
        v[1] -= ly_box * np.round(v[1] / ly_box)
        nbr[i].append(v)
        nbr[j].append(-v)
    return nbr


def dangling_direction(vectors: list[np.ndarray]) -> np.ndarray:
    """Unit vector of the missing third bond of a 2-coordinated sp2 atom."""
    s = -np.sum([v / np.linalg.norm(v) for v in vectors], axis=0)
    return s / np.linalg.norm(s)


def add_edge_hydrogens(sheet: Sheet, ly_box: float, bond_ch: float = CH_BOND_NM) -> Sheet:
    """Return a copy of ``sheet`` with one H on every ``"CE"`` carbon (in-plane)."""
    nbr = neighbour_vectors(sheet.positions, sheet.bonds, ly_box)
    pos = [sheet.positions]
    labels = list(sheet.labels)
    bonds = list(sheet.bonds)
    sid = list(sheet.sheet_id)
    n = sheet.n_atoms
    for i, lab in enumerate(sheet.labels):
        if lab != "CE":
            continue
        h = sheet.positions[i] + bond_ch * dangling_direction(nbr[i])
        h[1] = np.mod(h[1], ly_box)
        pos.append(h[None, :])
        labels.append("HE")
        bonds.append((i, n))
        sid.append(sheet.sheet_id[i])
        n += 1
    return Sheet(np.vstack(pos), labels, bonds, np.asarray(sid, dtype=int))


def concatenate(sheets: list[Sheet]) -> Sheet:
    """Stack several sheets into one :class:`Sheet` (bond indices offset, sheet ids renumbered)."""
    pos: list[np.ndarray] = []
    labels: list[str] = []
    bonds: list[tuple[int, int]] = []
    sid: list[np.ndarray] = []
    offset = 0
    for k, s in enumerate(sheets):
        pos.append(s.positions)
        labels.extend(s.labels)
        bonds.extend((i + offset, j + offset) for i, j in s.bonds)
        sid.append(np.full(s.n_atoms, k, dtype=int))
        offset += s.n_atoms
    if not pos:
        return Sheet(np.zeros((0, 3)), [], [], np.zeros(0, dtype=int))
    return Sheet(np.vstack(pos), labels, bonds, np.concatenate(sid))


def bond_lengths(sheet: Sheet, ly_box: float) -> np.ndarray:
    """Minimum-image length (nm) of every bond of ``sheet``; shape (n_bonds,)."""
    if not sheet.bonds:
        return np.zeros(0)
    b = np.asarray(sheet.bonds)
    d = sheet.positions[b[:, 1]] - sheet.positions[b[:, 0]]
    d[:, 1] -= ly_box * np.round(d[:, 1] / ly_box)
    return np.linalg.norm(d, axis=1)
