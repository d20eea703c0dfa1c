"""Analysis of any run by MDAnalysis selections (systems without predesolv metadata).

A ``from_files`` run has no atom groups in its ``metadata.json``. Naming the cation and its
coordinating partners with selections (``--cation "resname NA"``,
``--partner DME="resname DME and name O*"``) gives the analysis the same groups a builder
writes: ``cation``, ``solvent_O:<KIND>`` for solvent kinds and ``anion_coord`` for a kind
named like an anion.
"""

from __future__ import annotations

from collections.abc import Mapping

import MDAnalysis as mda

from predesolv.errors import AnalysisError
from predesolv.metadata import ANION_COORD, CATION, Metadata, solvent_o_group

#: Partner kinds treated as the anion (their atoms form ``anion_coord``).
ANION_KINDS = frozenset({"PF6", "ClO4", "CLO", "BF4", "TFSI", "FSI", "Cl", "CL", "anion"})


def _select(universe: mda.Universe, text: str, flag: str) -> list[int]:
    try:
        atoms = universe.select_atoms(text)
    except Exception as exc:  # MDAnalysis raises several types for a bad selection
        raise AnalysisError(f"{flag}: invalid MDAnalysis selection {text!r}: "
                            f"{str(exc)[:120]}") from None
    if len(atoms) == 0:
        raise AnalysisError(f"{flag}: selection {text!r} matches no atom")
    return [int(i) for i in atoms.indices]


def metadata_from_selections(universe: mda.Universe, metadata: Metadata,
                             cation: str | None, partners: Mapping[str, str] | None
                             ) -> Metadata:
    """``metadata`` with the cation and partner groups replaced by selections.

    Parameters
    ----------
    universe : MDAnalysis.Universe
        The run's topology (selections are evaluated on it).
    metadata : Metadata
        The run's metadata (geometry and other groups are kept).
    cation : str, optional
        Selection of the cations (``"resname NA"``).
    partners : dict of str to str, optional
        Partner kind → selection of its coordinating atoms.

    Raises
    ------
    AnalysisError
        An invalid or empty selection (the flag is named).
    """
    if cation is None and not partners:
        return metadata
    data = metadata.to_dict()
    groups = dict(data.get("groups") or {})
    species = dict(data.get("species") or {})
    if cation is not None:
        groups[CATION] = _select(universe, cation, "--cation")
        species["cation"] = species.get("cation") or "cation"
    solvents = list(species.get("solvents") or [])
    for kind, text in (partners or {}).items():
        idx = _select(universe, text, f"--partner {kind}")
        if kind in ANION_KINDS:
            groups[ANION_COORD] = idx
            species["anion"] = kind
        else:
            groups[solvent_o_group(kind)] = idx
            if kind not in solvents:
                solvents.append(kind)
    species["solvents"] = solvents
    data["groups"], data["species"] = groups, species
    return Metadata.from_dict(data, "selections")
