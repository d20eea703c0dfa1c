"""Physical constants, once, from OpenMM's CODATA values (``openmm.unit``).

Every module takes kB, Avogadro's number, e and the eV in kJ/mol from here, and kT from
:func:`kT_kJ_per_mol`, so two parts of the package can never disagree on them.
"""

from __future__ import annotations

from openmm import unit as _u

#: Boltzmann constant per mole (the molar gas constant R), kJ/mol/K.
KB_KJ_PER_MOL_K: float = _u.MOLAR_GAS_CONSTANT_R.value_in_unit(_u.kilojoule_per_mole / _u.kelvin)
#: Avogadro's number, 1/mol.
AVOGADRO_PER_MOL: float = _u.AVOGADRO_CONSTANT_NA.value_in_unit(_u.mole**-1)
#: Elementary charge, C.
ELEMENTARY_CHARGE_C: float = _u.elementary_charge.conversion_factor_to(_u.coulomb)
#: 1 eV per particle expressed in kJ/mol (N_A e x 1 V).
KJ_PER_MOL_PER_EV: float = (_u.AVOGADRO_CONSTANT_NA * _u.elementary_charge * _u.volt
                            ).value_in_unit(_u.kilojoule_per_mole)


def kT_kJ_per_mol(temperature_K: float) -> float:
    """kB T in kJ/mol at ``temperature_K`` (K)."""
    return KB_KJ_PER_MOL_K * float(temperature_K)


__all__ = ["AVOGADRO_PER_MOL", "ELEMENTARY_CHARGE_C", "KB_KJ_PER_MOL_K", "KJ_PER_MOL_PER_EV",
           "kT_kJ_per_mol"]
