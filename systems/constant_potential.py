"""Move every charge of a System into an OpenMM ``ConstantPotentialForce``.

OpenMM's ``ConstantPotentialForce`` (8.4+) implements the periodic finite-field constant
potential method (Dufils et al., PRL 123, 195501 (2019)). It must hold **every** charge of
the System: :func:`to_constant_potential` copies the charges and the charged exceptions
(1-4 pairs) of the ``NonbondedForce`` into it, zeroes them in the ``NonbondedForce`` (which
then carries no electrostatics; LJ lives in the combining-rule ``CustomNonbondedForce``), and
declares the two conductors. Only conductor atoms (the sheet carbons) have their charges
solved for; every other atom, including fixed-charge electrode atoms such as dopant groups
and edge hydrogens, keeps its force-field charge.

Potential difference, applied in ONE of two ways: by default the conductors are held at
``+dV/2`` (working) and ``-dV/2`` (counter); with ``finite_field`` both are held at 0 and a
uniform field ``E = -dV / L_x`` along x (the electrodes are stacked along x in predesolv
cells) imposes the difference. The total charge of the system is constrained to zero: the
conductors carry whatever compensates the fixed charges.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

import openmm
from openmm import unit

from predesolv.constants import FARADAY_KJ_PER_MOL_PER_V
from predesolv.errors import BuildError
from predesolv.systems.charges import nonbonded_force

FARADAY_KJ_PER_V = FARADAY_KJ_PER_MOL_PER_V  # kJ/mol per V per e (predesolv.constants)
"""kJ/mol per (V e): converts a potential in volts to OpenMM's kJ/mol/e."""

CPF_NAME = "predesolv_constant_potential"
FIELD_SIGN = 1.0
"""Sign of the field (along +x) that puts the working electrode (larger x) at +delta_v;
calibrated on a vacuum capacitor in tests/test_constant_potential.py."""


def to_constant_potential(
    system: openmm.System,
    working: Sequence[int],
    counter: Sequence[int],
    delta_v: float,
    box_x: float,
    *,
    method: str = "cg",
    gaussian_width: float = 0.0505,
    thomas_fermi_scale: float = 0.0,
    cg_tolerance: float = 1e-4,
    finite_field: bool = False,
) -> openmm.ConstantPotentialForce:
    """Replace the NonbondedForce electrostatics by a ConstantPotentialForce.

    Parameters
    ----------
    system : openmm.System
        Periodic System with one NonbondedForce (PME). Modified in place.
    working, counter : sequence of int
        Particle indices of the two conductors (frozen; their template charges are ignored
        and solved for). Other particles keep their charges.
    delta_v : float
        Potential of the working electrode minus the counter electrode, volts.
    box_x : float
        Box length along x (nm), the direction across the electrodes.
    method : {"cg", "matrix"}
        Charge solver. ``matrix`` needs frozen electrodes and a fixed box.
    gaussian_width : float
        Width (nm) of the electrode Gaussian charges.
    thomas_fermi_scale : float
        Thomas-Fermi l^2/V (1/nm); 0 is a perfect metal.
    cg_tolerance : float
        CG tolerance (kJ/mol/e).
    finite_field : bool
        Impose ``delta_v`` with a uniform field along x (both electrodes at 0) instead of
        electrode potentials ``+/- delta_v / 2``.

    Returns
    -------
    openmm.ConstantPotentialForce
        The added force (name :data:`CPF_NAME`).

    Raises
    ------
    BuildError
        Non-periodic System, overlapping electrodes, unknown method.
    """
    if method not in ("cg", "matrix"):
        raise BuildError(f"electrode.charge.method: {method!r} is not allowed; use cg or matrix")
    nb = nonbonded_force(system)
    if nb.getNonbondedMethod() not in (openmm.NonbondedForce.PME, openmm.NonbondedForce.Ewald):
        raise BuildError("constant potential needs a fully periodic PME System")
    w, c = set(map(int, working)), set(map(int, counter))
    if not w or not c or (w & c):
        raise BuildError("constant potential needs two non-empty, disjoint electrodes")
    cpf = openmm.ConstantPotentialForce()
    cpf.setName(CPF_NAME)
    cpf.setCutoffDistance(nb.getCutoffDistance())
    cpf.setEwaldErrorTolerance(nb.getEwaldErrorTolerance())
    _move_charges(nb, cpf, w | c)
    half = 0.0 if finite_field else 0.5 * delta_v * FARADAY_KJ_PER_V
    cpf.addElectrode(w, +half, gaussian_width, thomas_fermi_scale)
    cpf.addElectrode(c, -half, gaussian_width, thomas_fermi_scale)
    cpf.setUseChargeConstraint(True)
    cpf.setChargeConstraintTarget(0.0)  # neutral cell: conductors balance the fixed charges
    if finite_field:
        cpf.setExternalField(openmm.Vec3(FIELD_SIGN * delta_v * FARADAY_KJ_PER_V / box_x,
                                         0.0, 0.0))
    cpf.setConstantPotentialMethod(
        openmm.ConstantPotentialForce.CG if method == "cg" else openmm.ConstantPotentialForce.Matrix
    )
    cpf.setCGErrorTolerance(cg_tolerance)
    # the NonbondedForce now holds no charge: skip its (empty) reciprocal-space sum
    nb.setNonbondedMethod(openmm.NonbondedForce.CutoffPeriodic)
    nb.setReactionFieldDielectric(1.0)
    system.addForce(cpf)
    return cpf


def _move_charges(nb: openmm.NonbondedForce, cpf: openmm.ConstantPotentialForce,
                  conductors: set[int]) -> None:
    """Particle charges and charged exceptions from ``nb`` into ``cpf`` (conductor charges
    start at 0: the solver owns them); ``nb`` keeps LJ only."""
    for i in range(nb.getNumParticles()):
        q, s, e = nb.getParticleParameters(i)
        qv = 0.0 if i in conductors else q.value_in_unit(unit.elementary_charge)
        cpf.addParticle(qv)
        nb.setParticleParameters(i, 0.0, s, e)
    for k in range(nb.getNumExceptions()):
        i, j, qq, s, e = nb.getExceptionParameters(k)
        if i in conductors and j in conductors:
            pass  # the solver owns conductor-conductor electrostatics (Gaussian charges)
        elif i in conductors or j in conductors:
            raise BuildError(f"exception between conductor atom and another atom ({i}, {j}) "
                             f"is not supported by ConstantPotentialForce")
        else:
            cpf.addException(i, j, qq.value_in_unit(unit.elementary_charge**2))
        nb.setExceptionParameters(k, i, j, 0.0, s, e)


def strip_pair_exclusions(system: openmm.System, atoms: Sequence[int],
                          conductors: Sequence[int] | None = None) -> int:
    """Remove NonbondedForce exceptions and LJ exclusions between two of ``atoms`` (with
    ``conductors``: only the pairs that involve a conductor atom).

    ``ConstantPotentialForce`` allows no exception on conductor particles, and OpenMM's CPU
    platform needs identical exclusions in all nonbonded forces, so bonds from a conductor
    atom into a dopant residue must not leave exclusions behind. Their LJ is zero anyway
    (frozen pairs) and the conductor's electrostatics belong to the electrode solver. Pairs
    of fixed-charge electrode atoms (inside a dopant group) keep their exceptions.

    Returns
    -------
    int
        Number of NonbondedForce exceptions removed.
    """
    sel = {int(a) for a in atoms}
    cond = sel if conductors is None else {int(a) for a in conductors}
    removed = 0
    replacements = []
    for k in range(system.getNumForces()):
        f = system.getForce(k)
        if isinstance(f, openmm.NonbondedForce):
            tag = "Exception"
        elif isinstance(f, openmm.CustomNonbondedForce):
            tag = "Exclusion"
        else:
            continue
        root = ET.fromstring(openmm.XmlSerializer.serialize(f))
        n_drop = 0
        for parent in root.iter():
            for child in list(parent):
                p1, p2 = (int(child.get("p1", -1)), int(child.get("p2", -1)))
                if (child.tag == tag and p1 in sel and p2 in sel
                        and (p1 in cond or p2 in cond)):
                    parent.remove(child)
                    n_drop += 1
        if n_drop:
            replacements.append((k, ET.tostring(root, encoding="unicode")))
            if tag == "Exception":
                removed += n_drop
    for k, _xml in sorted(replacements, reverse=True):
        system.removeForce(k)
    for _, xml in sorted(replacements):
        system.addForce(openmm.XmlSerializer.deserialize(xml))
    return removed


def electrode_charges(context: openmm.Context, system: openmm.System,
                      groups: dict[str, Sequence[int]]) -> dict[str, float]:
    """Current total charge (e) of each named group, read from the ConstantPotentialForce."""
    cpf = next(f for f in system.getForces() if isinstance(f, openmm.ConstantPotentialForce))
    q = cpf.getCharges(context)
    vals = [x.value_in_unit(unit.elementary_charge) if hasattr(x, "value_in_unit") else float(x)
            for x in q]
    return {name: float(sum(vals[i] for i in idx)) for name, idx in groups.items()}


def cp_settings(cfg: Any) -> dict[str, Any]:
    """Plain-number settings (for metadata) from a ``ConstantPotentialConfig``."""
    return {
        "delta_v_V": float(cfg.delta_v.value_in_unit(unit.volt)),
        "method": cfg.method,
        "gaussian_width_nm": float(cfg.gaussian_width.value_in_unit(unit.nanometer)),
        "thomas_fermi_scale_per_nm": float(cfg.thomas_fermi_scale.value_in_unit(
            unit.nanometer**-1)),
        "cg_tolerance_kJ_mol_e": float(cfg.cg_tolerance.value_in_unit(
            unit.kilojoule_per_mole / unit.elementary_charge)),
    }
