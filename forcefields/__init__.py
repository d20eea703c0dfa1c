"""Force-field data shipped with predesolv (OpenMM ForceField XML + provenance).

**Make Systems with** :func:`predesolv.forcefields.model.create_system` **, not with**
``openmm.app.ForceField`` **alone.**
``get_data_dir`` is registered under the ``openmm.forcefielddir`` entry point, so
``openmm.app.ForceField("predesolv-electrolytes.xml")`` finds the files shipped here, but a
System made from the XML alone is a *different model*: OpenMM's NonbondedForce mixes LJ
with the Lorentz–Berthelot rule (OPLS needs the geometric rule) and the ions keep full
charges (the documented model scales them by 0.8). On a 1 M NaPF6/DME box the two differ by
hundreds of kJ/mol. :func:`~predesolv.forcefields.model.create_system` applies both (and the
1-4 rules).

Contents:

* ``predesolv-electrolytes.xml`` - Na+, PF6-, ClO4-, DME, EC, DMC, EMC (OPLS-AA / CL&P);
  provenance of every number in ``PARAMETERS.md``; geometries in ``molecules/*.pdb``.
* :mod:`predesolv.forcefields.nonbonded` - OPLS geometric combining rule
  (:func:`~predesolv.forcefields.nonbonded.apply_combining_rule`), atom-type helper.
* :mod:`predesolv.forcefields.model` - :func:`~predesolv.forcefields.model.create_system`:
  the documented model for any Topology, keywords as in the ``forcefield:`` config block;
* :mod:`predesolv.forcefields.parameterize` - the same from a ``ForceFieldConfig`` (any
  composite Topology: electrolyte XML + extra XML, charge scaling, combining rule).
"""

from predesolv.forcefields.data import get_data_dir

__all__ = ["get_data_dir"]
