"""Atom groups for collective variables: one spec syntax for built cells and users' own systems.

A *group spec* names atoms in one of these forms (indices are 0-based):

``"cation[0]"``
    Atom ``0`` of the metadata group ``cation`` (any metadata group name works:
    ``"anion_coord[5]"``, ``"solvent_O:DME[12]"``). A negative index counts from the end.
``"solvent:DME#3"``
    Molecule ``3`` of the metadata group ``solvent:DME``: the atoms of that group lying in the
    fourth distinct residue of the group (residues in order of first appearance).
``"cation"``
    Every atom of a metadata group.
``[12, 13, 14]`` or ``12``
    Atom indices.
``"sel:resname DME and resid 5"``
    An MDAnalysis selection evaluated on the topology (an MDAnalysis ``Universe``, an OpenMM
    ``Topology`` or a PDB file), so a system loaded ``from_files`` needs no metadata groups.

:func:`resolve_group` turns a spec into sorted, unique atom indices; errors are
:class:`~predesolv.errors.ConfigError` naming the spec (and the YAML field when given).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from predesolv.errors import ConfigError
from predesolv.metadata import Metadata

SELECTION_PREFIX = "sel:"
_SPEC = re.compile(r"^(?P<name>[^\[\]#]+?)(?:\[(?P<index>-?\d+)\]|#(?P<mol>\d+))?$")

GroupSpec = str | int | Sequence[int]
"""What :func:`resolve_group` accepts."""


def _groups_text(metadata: Metadata | None) -> str:
    if metadata is None or not metadata.groups:
        return "no metadata groups are available (use atom indices or 'sel:<selection>')"
    return "available groups: " + ", ".join(sorted(metadata.groups))


def _n_atoms(topology: Any) -> int | None:
    if topology is None:
        return None
    if hasattr(topology, "getNumAtoms"):
        return int(topology.getNumAtoms())
    if hasattr(topology, "atoms"):
        return int(topology.atoms.n_atoms)
    return None


def as_universe(topology: Any) -> Any:
    """An MDAnalysis ``Universe`` for ``topology``.

    Parameters
    ----------
    topology : MDAnalysis.Universe or openmm.app.Topology or str or Path
        A Universe is returned unchanged; an OpenMM Topology is converted with MDAnalysis's
        OpenMM topology parser; a path is read as a topology file (PDB).

    Raises
    ------
    ConfigError
        ``topology`` is None or cannot be read.
    """
    import MDAnalysis as mda

    if isinstance(topology, mda.Universe):
        return topology
    if topology is None:
        raise ConfigError("an MDAnalysis selection needs a topology (Universe, OpenMM "
                          "Topology or topology.pdb)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # element / chain guesses from PDB files are harmless
        try:
            if isinstance(topology, (str, Path)):
                return mda.Universe(str(topology))
            return mda.Universe(topology, topology_format="OPENMMTOPOLOGY")
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"cannot build an MDAnalysis Universe from {topology!r:.80}: "
                              f"{str(exc)[:160]}") from None


def residue_indices(topology: Any) -> np.ndarray:
    """Residue index of every atom, shape ``(n_atoms,)``.

    Parameters
    ----------
    topology : openmm.app.Topology or MDAnalysis.Universe or str or Path
    """
    if hasattr(topology, "atoms") and hasattr(topology, "residues") \
            and not hasattr(topology, "getNumAtoms"):
        return np.asarray(topology.atoms.resindices, dtype=int)
    if hasattr(topology, "getNumAtoms"):
        return np.array([a.residue.index for a in topology.atoms()], dtype=int)
    return np.asarray(as_universe(topology).atoms.resindices, dtype=int)


def _select(spec: str, topology: Any, where: str) -> list[int]:
    from MDAnalysis.exceptions import SelectionError

    query = spec[len(SELECTION_PREFIX):].strip()
    u = as_universe(topology)
    try:
        ag = u.select_atoms(query)
    except (SelectionError, ValueError, KeyError) as exc:
        raise ConfigError(f"{where}: MDAnalysis selection {query!r} is invalid: "
                          f"{str(exc)[:160]}") from None
    return [int(i) for i in ag.indices]


def _molecule(name: str, atoms: list[int], k: int, topology: Any, where: str) -> list[int]:
    if topology is None:
        raise ConfigError(f"{where}: molecule '#{k}' of group {name!r} needs a topology "
                          "(residues)")
    res = residue_indices(topology)
    if atoms and max(atoms) >= len(res):
        raise ConfigError(f"{where}: group {name!r} indexes atom {max(atoms)} but the "
                          f"topology has {len(res)} atoms")
    order = list(dict.fromkeys(int(res[i]) for i in atoms))
    if not -len(order) <= k < len(order):
        raise ConfigError(f"{where}: group {name!r} has {len(order)} molecules "
                          f"(#0..#{len(order) - 1}), got #{k}")
    return [i for i in atoms if res[i] == order[k]]


def _named(spec: str, metadata: Metadata | None, topology: Any, where: str) -> list[int]:
    m = _SPEC.match(spec.strip())
    if m is None:
        raise ConfigError(f"{where}: {spec!r} is not a group spec; use 'name', 'name[i]', "
                          "'name#k', atom indices or 'sel:<MDAnalysis selection>'")
    name = m["name"].strip()
    if metadata is None or name not in metadata.groups:
        raise ConfigError(f"{where}: unknown group {name!r} in {spec!r}; "
                          f"{_groups_text(metadata)}")
    atoms = list(metadata.groups[name])
    if m["index"] is not None:
        i = int(m["index"])
        if not -len(atoms) <= i < len(atoms):
            raise ConfigError(f"{where}: group {name!r} has {len(atoms)} atoms "
                              f"([0]..[{len(atoms) - 1}]), got [{i}]")
        return [atoms[i]]
    if m["mol"] is not None:
        return _molecule(name, atoms, int(m["mol"]), topology, where)
    return atoms


def resolve_group(spec: GroupSpec, metadata: Metadata | None = None, topology: Any = None,
                  *, field: str | None = None) -> tuple[int, ...]:
    """Atom indices named by a group spec (see the module docstring for the syntax).

    Parameters
    ----------
    spec : str or int or sequence of int
        ``"cation[0]"``, ``"solvent:DME#3"``, ``"anion"``, ``[4, 5]``, ``7`` or
        ``"sel:<MDAnalysis selection>"``.
    metadata : Metadata, optional
        Groups of a built system (needed for named groups).
    topology : openmm.app.Topology or MDAnalysis.Universe or str or Path, optional
        Needed for ``#k`` (residues) and ``sel:`` specs; also bounds-checks indices.
    field : str, optional
        YAML field named in error messages.

    Returns
    -------
    tuple of int
        Sorted, unique, 0-based atom indices (never empty).

    Raises
    ------
    ConfigError
        Unknown group (the message lists the groups available), index out of range, bad
        syntax, an invalid or empty selection.
    """
    where = field or f"group {spec!r:.80}"
    if isinstance(spec, str):
        if spec.strip().startswith(SELECTION_PREFIX):
            atoms = _select(spec.strip(), topology, where)
        else:
            atoms = _named(spec, metadata, topology, where)
    elif isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        atoms = [int(spec)]
    elif isinstance(spec, Sequence) and all(
            isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in spec):
        atoms = [int(i) for i in spec]
    else:
        raise ConfigError(f"{where}: a group is a name, atom indices or 'sel:<selection>', "
                          f"got {type(spec).__name__}")
    out = tuple(sorted(set(atoms)))
    if not out:
        raise ConfigError(f"{where}: {spec!r:.80} selects no atoms")
    n = _n_atoms(topology)
    if out[0] < 0 or (n is not None and out[-1] >= n):
        raise ConfigError(f"{where}: atom indices must lie in [0, {n if n else 'n_atoms'}), "
                          f"got {out[0] if out[0] < 0 else out[-1]}")
    return out


def element_masses(topology: Any) -> np.ndarray:
    """Atomic masses from the elements of a topology, daltons, shape ``(n_atoms,)``.

    Use these as centre-of-mass weights when a trajectory is analysed without the System
    (e.g. when hydrogen masses were repartitioned in the simulated System, pass them as
    explicit ``weights`` to a CV so that bias and analysis agree).

    Parameters
    ----------
    topology : openmm.app.Topology or MDAnalysis.Universe or str or Path
    """
    if hasattr(topology, "getNumAtoms"):
        from openmm import unit

        out = []
        for a in topology.atoms():
            if a.element is None:
                raise ConfigError(f"atom {a.index} ({a.name}) has no element: pass weights")
            out.append(a.element.mass.value_in_unit(unit.dalton))
        return np.array(out, dtype=float)
    return np.asarray(as_universe(topology).atoms.masses, dtype=float)
