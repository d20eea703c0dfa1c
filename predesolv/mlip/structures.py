"""predesolv structures <-> ASE ``Atoms`` (lengths: nm on the predesolv side, Å in ASE).

Every builder of ``predesolv.systems`` (ion slits, stage-wise pores, N-doped sheets, full
cells) returns a :class:`~predesolv.built.BuiltSystem`; :func:`built_to_atoms` turns one
into an ``ase.Atoms`` with the same atoms in the same order, the periodic box as the cell
and periodic boundaries in all three directions. :func:`to_atoms` does the same for any
(topology, positions, box), :func:`molecule_atoms` for one shipped molecule
(``predesolv/forcefields/molecules/*.pdb``) and :func:`add_atoms` adds atoms (Na) at given
positions. :func:`positions_nm` and :func:`cell_nm` read an ``Atoms`` back in nm.

Atom order is kept everywhere, so index groups of a BuiltSystem's metadata (``cation``,
``electrode``, ``frozen``) index the ``Atoms`` too. Each ``Atoms`` carries the residue name
of every atom as the per-atom array ``"residue"`` (``""`` where none is known).

ASE is an optional dependency (the ``ml`` extra): it is imported inside the functions that
build ``Atoms``, so this module imports without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from openmm import app, unit

from predesolv.built import BuiltSystem
from predesolv.errors import BuildError
from predesolv.forcefields.parameterize import load_molecule
from predesolv.mlip.errors import require

if TYPE_CHECKING:  # ase is optional (the ml extra)
    from ase import Atoms

#: Å per nm (ASE works in Å, predesolv in nm).
ANGSTROM_PER_NM = 10.0


def _as_nm(values: Any, what: str) -> np.ndarray:
    """A Quantity (any length unit) or a plain array taken as nm -> float array (nm)."""
    if isinstance(values, unit.Quantity):
        values = values.value_in_unit(unit.nanometer)
    if isinstance(values, (list, tuple)) and values and isinstance(values[0], unit.Quantity):
        values = [v.value_in_unit(unit.nanometer) for v in values]
    arr = np.array(values, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise BuildError(f"{what} holds non-finite values")
    return arr


def _symbols(topology: app.Topology) -> list[str]:
    """Element symbol of every atom; virtual sites and other massless, element-less
    particles cannot be handed to an interatomic potential."""
    symbols, missing = [], []
    for atom in topology.atoms():
        if atom.element is None:
            missing.append(f"{atom.index} ({atom.residue.name}:{atom.name})")
        else:
            symbols.append(atom.element.symbol)
    if missing:
        raise BuildError(f"atoms without an element cannot go to ASE: {', '.join(missing[:5])}"
                         + (" ..." if len(missing) > 5 else ""))
    return symbols


def _box_nm(topology: app.Topology, box: Any) -> np.ndarray | None:
    """3x3 box vectors (nm, rows a, b, c) from ``box`` or else the topology; None if none."""
    if box is None:
        box = topology.getPeriodicBoxVectors()
        if box is None:
            return None
    arr = _as_nm(box, "box")
    if arr.shape == (3,):
        arr = np.diag(arr)
    if arr.shape != (3, 3) or abs(np.linalg.det(arr)) < 1e-12:
        raise BuildError(f"box must be 3 edge lengths or 3x3 vectors with a volume "
                         f"(got shape {arr.shape})")
    return arr


def to_atoms(topology: app.Topology, positions: Any, box: Any = None) -> Atoms:
    """``ase.Atoms`` of a topology and its positions.

    Parameters
    ----------
    topology : openmm.app.Topology
        Atoms with elements (their order is kept); its periodic box is the default ``box``.
    positions : openmm.unit.Quantity or array_like
        Shape (n_atoms, 3); a plain array is taken as nm.
    box : Quantity or array_like, optional
        Box edge lengths (3,) or vectors (3, 3) in nm; default: the topology's box. With no
        box at all the ``Atoms`` has no cell and no periodic boundaries (a molecule).

    Returns
    -------
    ase.Atoms
        Positions and cell in Å; ``pbc`` True in all three directions when there is a box;
        per-atom array ``"residue"`` with the residue names.

    Raises
    ------
    BuildError
        Positions and topology disagree, a particle has no element or the box is degenerate.
    ConfigError
        ASE is not installed (the ``ml`` extra).
    """
    ase = require("ase", "structures")
    pos = _as_nm(positions, "positions")
    n = topology.getNumAtoms()
    if pos.shape != (n, 3):
        raise BuildError(f"positions have shape {pos.shape} but the topology {n} atoms")
    symbols = _symbols(topology)
    cell = _box_nm(topology, box)
    atoms = ase.Atoms(symbols=symbols, positions=pos * ANGSTROM_PER_NM,
                      cell=None if cell is None else cell * ANGSTROM_PER_NM,
                      pbc=cell is not None)
    atoms.set_array("residue", np.array([a.residue.name for a in topology.atoms()], dtype="U8"))
    return atoms


def built_to_atoms(built: BuiltSystem) -> Atoms:
    """``ase.Atoms`` of a :class:`~predesolv.built.BuiltSystem` (same atoms, same order).

    Parameters
    ----------
    built : BuiltSystem
        Any builder's output; its System's default periodic box is the cell.

    Returns
    -------
    ase.Atoms
        Positions and cell in Å, periodic in x, y and z (slits keep their vacuum along z);
        ``info["groups"]`` holds the metadata's atom groups (lists of indices).
    """
    vectors = built.system.getDefaultPeriodicBoxVectors()
    atoms = to_atoms(built.topology, built.positions, box=vectors)
    atoms.info["groups"] = built.metadata.groups.to_dict()
    return atoms


def molecule_atoms(resname: str, box_nm: float | None = None) -> Atoms:
    """One shipped molecule (``EC``, ``DME``, ``PF6``, ``NA`` ...) as ``ase.Atoms``.

    Parameters
    ----------
    resname : str
        Residue name of a PDB in ``predesolv/forcefields/molecules/``.
    box_nm : float, optional
        Edge of a cubic periodic box (nm) with the molecule at its centre (the crystal-trained
        models need a cell: give it a few nm of vacuum). Default: no cell, no periodicity
        (what molecular codes such as xTB expect).

    Returns
    -------
    ase.Atoms
        Positions in Å, centred on the origin (no box) or on the box centre.

    Raises
    ------
    ConfigError
        Unknown residue name, or ASE not installed.
    BuildError
        ``box_nm`` is not positive.
    """
    top, xyz = load_molecule(resname)
    box = None
    if box_nm is not None:
        if not box_nm > 0:
            raise BuildError(f"molecule box must be > 0 nm (got {box_nm})")
        xyz = xyz + box_nm / 2
        box = np.full(3, float(box_nm))
    return to_atoms(top, xyz, box=box)


def add_atoms(atoms: Atoms, symbol: str, positions_nm: Sequence[Sequence[float]] | np.ndarray,
              residue: str = "") -> Atoms:
    """A copy of ``atoms`` with atoms of element ``symbol`` appended at ``positions_nm``.

    Parameters
    ----------
    atoms : ase.Atoms
        Left unchanged.
    symbol : str
        Element symbol (``"Na"``).
    positions_nm : array_like
        Shape (k, 3) or (3,), nm.
    residue : str, optional
        Residue name stored for the new atoms (default: ``symbol.upper()``).

    Returns
    -------
    ase.Atoms
        The old atoms first, in their order, then the new ones.
    """
    ase = require("ase", "structures")
    pos = _as_nm(positions_nm, "positions_nm").reshape(-1, 3)
    new = ase.Atoms(symbols=[symbol] * len(pos), positions=pos * ANGSTROM_PER_NM,
                    cell=atoms.cell, pbc=atoms.pbc)
    new.set_array("residue", np.array([residue or symbol.upper()] * len(pos), dtype="U8"))
    out = atoms.copy()
    if "residue" not in out.arrays:
        out.set_array("residue", np.array([""] * len(out), dtype="U8"))
    out.extend(new)
    return out


def positions_nm(atoms: Atoms) -> np.ndarray:
    """Positions of ``atoms`` in nm, shape (n_atoms, 3) (not wrapped into the cell)."""
    return np.asarray(atoms.get_positions(), dtype=float) / ANGSTROM_PER_NM


def cell_nm(atoms: Atoms) -> np.ndarray | None:
    """Cell vectors of ``atoms`` in nm (rows a, b, c), or None when it has no cell."""
    cell = np.asarray(atoms.cell[:], dtype=float)
    if not np.any(cell):
        return None
    return cell / ANGSTROM_PER_NM
