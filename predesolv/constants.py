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
#: Faraday's constant as kJ/mol per volt per elementary charge (numerically N_A e / 1000).
FARADAY_KJ_PER_MOL_PER_V: float = KJ_PER_MOL_PER_EV
#: Boltzmann's constant in eV/K (kB per particle).
KB_EV_PER_K: float = KB_KJ_PER_MOL_K / KJ_PER_MOL_PER_EV
#: Planck's constant in eV s (CODATA 2018 exact: 6.62607015e-34 J s / e).
PLANCK_EV_S: float = 6.62607015e-34 / ELEMENTARY_CHARGE_C


def kT_kJ_per_mol(temperature_K: float) -> float:
    """kB T in kJ/mol at ``temperature_K`` (K)."""
    return KB_KJ_PER_MOL_K * float(temperature_K)


__all__ = ["AVOGADRO_PER_MOL", "ELEMENTARY_CHARGE_C", "FARADAY_KJ_PER_MOL_PER_V", "KB_EV_PER_K",
           "KB_KJ_PER_MOL_K", "KJ_PER_MOL_PER_EV", "PLANCK_EV_S", "kT_kJ_per_mol"]
