"""Biases on collective variables as System transforms, and their energies for MBAR.

A window is a thermodynamic state: the bias's centre and force constant are *global
parameters* of one ``CustomCVForce``, so one Context serves every umbrella window
(``context.setParameter``) and a steered pull moves the centre parameter step by step.

* :func:`add_harmonic_bias` — ``U = k/2 (cv - c)^2``, parameters ``{name}_center`` and
  ``{name}_k``;
* :func:`add_flat_bottom` — ``U = k/2 [max(0, cv - upper)^2 + max(0, lower - cv)^2]``
  (zero inside ``[lower, upper]``), parameters ``{name}_lower``, ``{name}_upper``,
  ``{name}_k``; either bound may be None (one-sided);
* :func:`harmonic_energy_kj`, :func:`flat_bottom_energy_kj`, :func:`reduced_harmonic_bias` —
  the same energies from CV values (NumPy), e.g. ``u_kn`` for pymbar.

Units: the CV's unit is nm (position, distance) or 1 (coordination); a centre or a bound is
in that unit, a force constant in kJ/mol per unit squared. OpenMM Quantities are accepted
(nm, kJ/mol/nm**2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import openmm
from openmm import unit

from predesolv.constants import kT_kJ_per_mol
from predesolv.errors import ConfigError

_CV = "@CV@"  # placeholder for the CV expression in bias energies
_IDENT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789"


def kt_kj_per_mol(temperature_K: float) -> float:
    """``k_B T`` in kJ/mol (OpenMM's gas constant)."""
    if not temperature_K > 0:
        raise ConfigError(f"temperature must be > 0 K, got {temperature_K!r}")
    return kT_kJ_per_mol(temperature_K)


_LENGTH = (unit.nanometer,)
_FORCE_CONSTANT = (unit.kilojoule_per_mole / unit.nanometer**2, unit.kilojoule_per_mole)


def _plain(value: Any, what: str, units: tuple[Any, ...] = _LENGTH) -> float:
    """A plain float from a number or a Quantity in one of ``units``."""
    if isinstance(value, unit.Quantity):
        for u in units:
            if value.unit.is_compatible(u):
                return float(value.value_in_unit(u))
        raise ConfigError(f"{what}: a quantity in {' or '.join(str(u) for u in units)} is "
                          f"needed, got {value}")
    v = float(value)
    if not np.isfinite(v):
        raise ConfigError(f"{what} must be finite, got {value!r}")
    return v


def _global_names(system: openmm.System) -> set[str]:
    names: set[str] = set()
    for f in system.getForces():
        if hasattr(f, "getNumGlobalParameters"):
            names.update(f.getGlobalParameterName(i) for i in range(f.getNumGlobalParameters()))
    return names


def _check_names(system: openmm.System, name: str, params: list[str]) -> None:
    if not name or name[0].isdigit() or any(ch not in _IDENT for ch in name):
        raise ConfigError(f"bias name {name!r} must be an identifier (letters, digits, _)")
    clash = sorted(set(params) & _global_names(system))
    if clash:
        raise ConfigError(f"bias {name!r}: global parameters {clash} already exist in the "
                          "System; choose another name")


def _bias_force(system: openmm.System, cv: Any, energy: str, params: dict[str, float],
                name: str, force_group: int | None, periodic: bool | None) -> int:
    expr, terms = cv.cv_terms(system, name, periodic)
    force = openmm.CustomCVForce(energy.replace(_CV, f"({expr})"))
    for p, v in params.items():
        force.addGlobalParameter(p, v)
    for nm, f in terms:
        force.addCollectiveVariable(nm, f)
    force.setName(f"predesolv_bias_{name}")
    if force_group is not None:
        force.setForceGroup(int(force_group))
    return system.addForce(force)


@dataclass(frozen=True)
class HarmonicBias:
    """Handle of a harmonic bias in a System.

    Attributes
    ----------
    force_index : int
        Index of the ``CustomCVForce`` in the System.
    center_parameter, k_parameter : str
        Global parameter names (centre in the CV unit; k in kJ/mol per unit²).
    """

    force_index: int
    center_parameter: str
    k_parameter: str

    def set(self, context: openmm.Context, center: Any = None, k: Any = None) -> None:
        """Move the window (or the steered centre) in a live Context."""
        if center is not None:
            context.setParameter(self.center_parameter, _plain(center, "center"))
        if k is not None:
            context.setParameter(self.k_parameter, _plain(k, "k", _FORCE_CONSTANT))


@dataclass(frozen=True)
class FlatBottom:
    """Handle of a flat-bottom restraint: force index and global parameter names."""

    force_index: int
    lower_parameter: str | None
    upper_parameter: str | None
    k_parameter: str


def add_harmonic_bias(system: openmm.System, cv: Any, center: Any, k: Any, name: str = "cv",
                      *, force_group: int | None = None, periodic: bool | None = None
                      ) -> HarmonicBias:
    """Add ``U = k/2 (cv - center)^2`` to ``system`` (in place).

    Parameters
    ----------
    system : openmm.System
    cv : PositionCV or DistanceCV or CoordinationCV or SumCV
    center : float or Quantity
        Initial window centre, CV unit (``{name}_center``).
    k : float or Quantity
        Force constant, kJ/mol per CV unit² (``{name}_k``), >= 0.
    name : str
        Prefix of the global parameters and the CV name inside the force.
    force_group : int, optional
        Force group of the bias (to read its energy alone).
    periodic : bool, optional
        Minimum image for the CV; default: whether ``system`` is periodic.

    Returns
    -------
    HarmonicBias
        Force index and parameter names.

    Raises
    ------
    ConfigError
        Negative k, a parameter name already used in the System, an invalid CV.
    """
    c, kk = _plain(center, "center"), _plain(k, "k", _FORCE_CONSTANT)
    if kk < 0:
        raise ConfigError(f"bias {name!r}: force constant must be >= 0, got {kk}")
    pc, pk = f"{name}_center", f"{name}_k"
    _check_names(system, name, [pc, pk])
    idx = _bias_force(system, cv, f"0.5*{pk}*({_CV}-{pc})^2", {pc: c, pk: kk}, name,
                      force_group, periodic)
    return HarmonicBias(idx, pc, pk)


def add_flat_bottom(system: openmm.System, cv: Any, lower: Any, upper: Any, k: Any,
                    name: str = "wall", *, force_group: int | None = None,
                    periodic: bool | None = None) -> FlatBottom:
    """Add ``U = k/2 [max(0, cv - upper)^2 + max(0, lower - cv)^2]`` (zero inside).

    Parameters
    ----------
    system : openmm.System
    cv : CV object
    lower, upper : float or Quantity or None
        Bounds in the CV unit (None: no wall on that side; at least one bound).
    k : float or Quantity
        Force constant, kJ/mol per CV unit², >= 0.
    name, force_group, periodic
        As :func:`add_harmonic_bias`.

    Returns
    -------
    FlatBottom
    """
    lo = None if lower is None else _plain(lower, "lower")
    hi = None if upper is None else _plain(upper, "upper")
    kk = _plain(k, "k", _FORCE_CONSTANT)
    if (lo is None and hi is None) or (lo is not None and hi is not None and not lo <= hi) \
            or kk < 0:
        raise ConfigError(f"flat-bottom {name!r}: need lower <= upper (one may be None) and "
                          f"k >= 0, got lower={lo}, upper={hi}, k={kk}")
    pl, pu, pk = f"{name}_lower", f"{name}_upper", f"{name}_k"
    params = {pk: kk}
    walls = []
    if hi is not None:
        params[pu] = hi
        walls.append(f"max(0,{_CV}-{pu})^2")
    if lo is not None:
        params[pl] = lo
        walls.append(f"max(0,{pl}-{_CV})^2")
    _check_names(system, name, list(params))
    idx = _bias_force(system, cv, f"0.5*{pk}*({'+'.join(walls)})", params, name,
                      force_group, periodic)
    return FlatBottom(idx, pl if lo is not None else None, pu if hi is not None else None, pk)


def harmonic_energy_kj(cv_values: Any, center: Any, k: Any) -> np.ndarray:
    """``k/2 (cv - center)^2`` in kJ/mol, broadcast over the arguments."""
    cv = np.asarray(cv_values, dtype=float)
    return 0.5 * np.asarray(k, dtype=float) * (cv - np.asarray(center, dtype=float)) ** 2


def flat_bottom_energy_kj(cv_values: Any, lower: float | None, upper: float | None,
                          k: float) -> np.ndarray:
    """``k/2 [max(0, cv - upper)^2 + max(0, lower - cv)^2]`` in kJ/mol."""
    cv = np.asarray(cv_values, dtype=float)
    e = np.zeros_like(cv)
    if upper is not None:
        e += np.maximum(0.0, cv - upper) ** 2
    if lower is not None:
        e += np.maximum(0.0, lower - cv) ** 2
    return 0.5 * float(k) * e


def reduced_harmonic_bias(cv_values: Any, centers: Any, k: Any, temperature_K: float
                          ) -> np.ndarray:
    """Reduced bias energies ``u_kn = k_k/2 (cv_n - c_k)^2 / kT`` for MBAR.

    Parameters
    ----------
    cv_values : array_like, shape (N,)
        CV of every sample (all windows concatenated), CV unit.
    centers : array_like, shape (K,)
        Window centres.
    k : float or array_like, shape (K,)
        Force constants, kJ/mol per CV unit².
    temperature_K : float

    Returns
    -------
    ndarray, shape (K, N)
        Dimensionless; add the unbiased reduced potential for MBAR's ``u_kn``.
    """
    cv = np.asarray(cv_values, dtype=float).reshape(1, -1)
    c = np.asarray(centers, dtype=float).reshape(-1, 1)
    kk = np.broadcast_to(np.asarray(k, dtype=float), (c.shape[0],)).reshape(-1, 1)
    return harmonic_energy_kj(cv, c, kk) / kt_kj_per_mol(temperature_K)
