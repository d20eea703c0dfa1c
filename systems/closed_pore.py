"""Carbon frameworks of closed graphitic pores for 0 K sodium filling (study E0).

Ren et al. (*Nano-Micro Lett.* **18**, 382 (2026), Experimental section) model a closed pore's
cavity as a graphene bilayer slab: two sheets a chosen interlayer spacing apart, periodic in
the sheet plane, with about 1.5 nm of vacuum along the normal; Na atoms are added one by one
between the sheets with the carbon held fixed. :func:`bilayer_cavity` builds that framework
from predesolv's graphene lattice (:mod:`predesolv.systems.graphene`: C–C 0.142 nm, whole
rectangular cells so the sheets have no edge). Lengths are nm; the positions are plain arrays
(the MLIP side, :mod:`predesolv.mlip.structures`, turns them into ASE ``Atoms``).

:func:`stepped_pore` joins a narrow part (an orifice, or a smaller cavity) to a wider cavity
along x: one flat periodic sheet below, and above it two hydrogen-terminated ribbons (periodic
along y) at the two heights, so an atom placed in one part shares the lower wall with the
other (Ren Fig. 1e joins the parts with curved graphene; here the upper wall is stepped and
open at the step: stated wherever a number from it is reported).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from predesolv.errors import BuildError

from .graphene import CC_BOND_NM, cell_dimensions, ribbon, stacking_shift

#: Closest approach of a Na atom centre to a carbon plane used to place Na (nm): about the
#: Na–C distance of Na adsorbed on graphene; only candidate *starting* points use it.
NA_PLANE_NM = 0.20


@dataclass(frozen=True)
class PoreRegion:
    """One part of a pore where Na may be placed.

    Attributes
    ----------
    name : str
        ``"cavity"``, ``"orifice"``, ...
    x_nm : (float, float) or None
        x range of the part (nm); None: the whole cell.
    z_nm : (float, float)
        Heights of the carbon planes bounding the part below and above (nm).
    """

    name: str
    x_nm: tuple[float, float] | None
    z_nm: tuple[float, float]

    @property
    def spacing_nm(self) -> float:
        """Carbon plane to carbon plane across the part (nm)."""
        return self.z_nm[1] - self.z_nm[0]


@dataclass(frozen=True)
class PoreCarbon:
    """A pore's carbon (and edge hydrogen) framework.

    Attributes
    ----------
    symbols : tuple of str
        Element of every atom (``"C"``, ``"H"``).
    positions_nm : numpy.ndarray
        Shape (n_atoms, 3), nm, inside the box.
    box_nm : numpy.ndarray
        Orthorhombic box edges, shape (3,), nm (periodic in x, y and z; vacuum along z).
    regions : tuple of PoreRegion
        The parts Na may fill, by name.
    """

    symbols: tuple[str, ...]
    positions_nm: np.ndarray
    box_nm: np.ndarray
    regions: tuple[PoreRegion, ...]

    def region(self, name: str) -> PoreRegion:
        """The part called ``name`` (BuildError naming those there are)."""
        for r in self.regions:
            if r.name == name:
                return r
        raise BuildError(f"pore has no region {name!r}; it has "
                         f"{', '.join(r.name for r in self.regions)}")

    @property
    def n_carbon(self) -> int:
        """Number of carbon atoms."""
        return sum(s == "C" for s in self.symbols)


def bilayer_cavity(spacing_nm: float, n_cells: tuple[int, int] = (2, 4), *,
                   stacking: str = "AB", edge: str = "zigzag",
                   vacuum_nm: float = 1.5) -> PoreCarbon:
    """Two periodic graphene sheets ``spacing_nm`` apart: a closed pore's cavity.

    Parameters
    ----------
    spacing_nm : float
        Carbon plane to carbon plane (nm), >= 0.3.
    n_cells : (int, int)
        Rectangular 4-atom cells along x and y (zigzag: 0.426 x 0.246 nm each); the
        default (2, 4) is 0.852 x 0.984 nm, 32 carbons per sheet.
    stacking : {"AB", "AA"}
        Registry of the two sheets.
    edge : {"zigzag", "armchair"}
        Lattice direction along x.
    vacuum_nm : float
        Empty space between the upper sheet and the lower sheet's periodic image (nm).

    Returns
    -------
    PoreCarbon
        One region, ``"cavity"``; the lower sheet at ``vacuum_nm / 2``.
    """
    if not spacing_nm >= 0.3 or not vacuum_nm > 0 or min(n_cells) < 2:
        raise BuildError(f"bilayer cavity: need spacing >= 0.3 nm, vacuum > 0 and at least "
                         f"2 x 2 cells (got {spacing_nm}, {vacuum_nm}, {n_cells})")
    lx, ly = cell_dimensions(edge)
    box = np.array([n_cells[0] * lx, n_cells[1] * ly, spacing_nm + vacuum_nm])
    z0 = vacuum_nm / 2
    sheets = [ribbon(n_cells[0], n_cells[1], edge, z=z,
                     shift=stacking_shift(edge, stacking, k)).positions
              for k, z in enumerate((z0, z0 + spacing_nm))]
    pos = np.concatenate(sheets) % box
    return PoreCarbon(("C",) * len(pos), pos, box,
                      (PoreRegion("cavity", None, (z0, z0 + spacing_nm)),))


def lateral_sites(pore: PoreCarbon) -> dict[str, np.ndarray]:
    """In-plane points (nm, shape (2,)) over the lower sheet of a bilayer cavity, next to the
    box centre: ``hollow`` (a hexagon centre), ``top`` (an atom) and ``bridge`` (a C–C bond
    midpoint)."""
    z_low = pore.region("cavity").z_nm[0]
    lower = pore.positions_nm[np.abs(pore.positions_nm[:, 2] - z_low) < 1e-6]
    c0 = lower[np.argmin(np.linalg.norm(lower[:, :2] - pore.box_nm[:2] / 2, axis=1))]
    nb = lower[np.argsort(np.linalg.norm(lower - c0, axis=1))[1:3]]
    return {"hollow": c0[:2] + (nb[0, :2] - c0[:2]) + (nb[1, :2] - c0[:2]),
            "top": c0[:2], "bridge": (c0[:2] + nb[0, :2]) / 2}


def stepped_pore(narrow_nm: float, wide_nm: float, *, narrow_cells: int = 3,
                 wide_cells: int = 4, gap_cells: int = 1, n_y: int = 4,
                 narrow_name: str = "orifice", vacuum_nm: float = 1.5) -> PoreCarbon:
    """A narrow part joined to a wide cavity along x (zigzag lattice, AB below the narrow part).

    Parameters
    ----------
    narrow_nm, wide_nm : float
        Spacings of the narrow part and of the cavity (nm), ``0.3 <= narrow < wide``.
    narrow_cells, wide_cells : int
        Length of each upper ribbon along x, in 0.426 nm cells.
    gap_cells : int
        Cells of open upper wall between the ribbons at each step (so the edge hydrogens of
        the two ribbons do not clash).
    n_y : int
        Cells along y (0.246 nm each; periodic).
    narrow_name : str
        Region name of the narrow part (``"orifice"`` or ``"cavity1"``).
    vacuum_nm : float
        Empty space above the cavity's upper sheet (nm).

    Returns
    -------
    PoreCarbon
        Regions ``narrow_name`` and ``"cavity"``; lower sheet periodic along x and y, upper
        ribbons hydrogen-terminated at both x ends.
    """
    if not 0.3 <= narrow_nm < wide_nm or min(narrow_cells, wide_cells, n_y) < 2 or gap_cells < 1:
        raise BuildError(f"stepped pore: need 0.3 <= narrow < wide spacing and >= 2 cells per "
                         f"part, >= 1 gap cell (got {narrow_nm}, {wide_nm}, {narrow_cells}, "
                         f"{wide_cells}, {gap_cells})")
    lx, ly = cell_dimensions("zigzag")
    n_x = narrow_cells + wide_cells + 2 * gap_cells
    box = np.array([n_x * lx, n_y * ly, wide_nm + vacuum_nm])
    z0 = vacuum_nm / 2
    lower = ribbon(n_x, n_y, "zigzag", z=z0)
    x_narrow = (0.0, narrow_cells * lx)
    x_wide = ((narrow_cells + gap_cells) * lx, (narrow_cells + gap_cells + wide_cells) * lx)
    shift = stacking_shift("zigzag", "AB", 1)
    top_n = ribbon(narrow_cells, n_y, "zigzag", z=z0 + narrow_nm, shift=shift,
                   hydrogenate=True)
    top_w = ribbon(wide_cells, n_y, "zigzag", z=z0 + wide_nm, x0=x_wide[0], shift=shift,
                   hydrogenate=True)
    symbols, parts = ["C"] * lower.n_atoms, [lower.positions]
    for sheet in (top_n, top_w):
        symbols += ["H" if label == "HE" else "C" for label in sheet.labels]
        parts.append(sheet.positions)
    pos = np.concatenate(parts) % box
    regions = (PoreRegion(narrow_name, (x_narrow[0] + CC_BOND_NM, x_narrow[1] - CC_BOND_NM),
                          (z0, z0 + narrow_nm)),
               PoreRegion("cavity", (x_wide[0] + CC_BOND_NM, x_wide[1] - CC_BOND_NM),
                          (z0, z0 + wide_nm)))
    return PoreCarbon(tuple(symbols), pos, box, regions)
