"""The documented predesolv model for any Topology, from ``forcefield:`` keywords.

See :mod:`predesolv.forcefields` for why a System made from the XML alone differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from predesolv.config.forcefield import ForceFieldConfig
from predesolv.forcefields.parameterize import create_system as _create


def create_system(topology: Any, *, extra_xml: Sequence[str] = (), **options: Any) -> Any:
    """An OpenMM System of ``topology`` with the documented predesolv model.

    Parameters
    ----------
    topology : openmm.app.Topology
        Periodic (box vectors set: PME) or not.
    extra_xml : sequence of str
        More ForceField XML files (e.g. ``"predesolv-carbon.xml"`` for electrodes).
    **options
        Fields of :class:`predesolv.config.forcefield.ForceFieldConfig`, e.g.
        ``charge_scaling=0.8``, ``nonbonded_cutoff="1.0 nm"``, ``constraints="hbonds"``
        (their defaults are the documented model).

    Returns
    -------
    openmm.System
        Geometric-rule LJ in a CustomNonbondedForce, scaled ionic charges, OPLS 1-4 terms.
    """
    system, _ = _create(topology, ForceFieldConfig(**options), extra_xml=list(extra_xml))
    return system
