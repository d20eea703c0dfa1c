"""Force-field data shipped with predesolv (OpenMM ForceField XML + provenance).

**Make Systems with** :func:`create_system` **, not with** ``openmm.app.ForceField`` **alone.**
``get_data_dir`` is registered under the ``openmm.forcefielddir`` entry point, so
``openmm.app.ForceField("predesolv-electrolytes.xml")`` finds the files shipped here, but a
System made from the XML alone is a *different model*: OpenMM's NonbondedForce mixes LJ
with the Lorentz–Berthelot rule (OPLS needs the geometric rule) and the ions keep full
charges (the documented model scales them by 0.8). On a 1 M NaPF6/DME box the two differ by
hundreds of kJ/mol. :func:`create_system` applies both (and the 1-4 rules).

Contents:

* ``predesolv-electrolytes.xml`` - Na+, PF6-, ClO4-, DME, EC, DMC, EMC (OPLS-AA / CL&P);
  provenance of every number in ``PARAMETERS.md``; geometries in ``molecules/*.pdb``.
* :mod:`predesolv.forcefields.nonbonded` - OPLS geometric combining rule
  (:func:`~predesolv.forcefields.nonbonded.apply_combining_rule`), atom-type helper.
* :mod:`predesolv.forcefields.parameterize` - :func:`create_system` for any (composite)
  Topology: electrolyte XML + extra XML, charge scaling, combining rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def get_data_dir() -> str:
    """Directory holding predesolv's ForceField XML files (for OpenMM's entry point)."""
    return str(Path(__file__).resolve().parent)


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
    from predesolv.config.forcefield import ForceFieldConfig
    from predesolv.forcefields.parameterize import create_system as _create

    system, _ = _create(topology, ForceFieldConfig(**options), extra_xml=list(extra_xml))
    return system
