"""Force-field data shipped with predesolv (OpenMM ForceField XML + provenance).

``get_data_dir`` is registered under the ``openmm.forcefielddir`` entry point, so
``openmm.app.ForceField("predesolv-electrolytes.xml")`` finds the files shipped here.

Contents:

* ``predesolv-electrolytes.xml`` - Na+, PF6-, ClO4-, DME, EC, DMC, EMC (OPLS-AA / CL&P);
  provenance of every number in ``PARAMETERS.md``; geometries in ``molecules/*.pdb``.
* :mod:`predesolv.forcefields.nonbonded` - OPLS geometric combining rule
  (:func:`~predesolv.forcefields.nonbonded.apply_combining_rule`), atom-type helper.
* :mod:`predesolv.forcefields.parameterize` - :func:`create_system` for any (composite)
  Topology: electrolyte XML + extra XML, charge scaling, combining rule.
"""

from __future__ import annotations

from pathlib import Path


def get_data_dir() -> str:
    """Directory holding predesolv's ForceField XML files (for OpenMM's entry point)."""
    return str(Path(__file__).resolve().parent)
