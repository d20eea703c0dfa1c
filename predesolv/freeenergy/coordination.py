"""Smooth coordination number: PLUMED's rational switch summed over partner atoms.

:class:`CoordinationCV` is evaluated in OpenMM by a ``CustomNonbondedForce`` restricted to the
(cation, partner) interaction group, with a periodic cutoff ``d_max`` (below half the
shortest box edge) so that pair distances are minimum-image; with NumPy by the same switch
on minimum-image distances. See :mod:`.cv` for the shared interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import openmm

from predesolv.errors import ConfigError

from .cv import (
    _check_atoms,
    _CVBase,
    _finish,
    _frame_box,
    _periodic,
    _positions,
    _system_box,
    min_image,
)

DMAX_FACTOR = 3.0
"""Default coordination cutoff: ``d_max = d0 + DMAX_FACTOR * r0``."""


def rational_switch(r_nm: Any, r0_nm: float, n: int = 6, m: int = 12,
                    d0_nm: float = 0.0) -> np.ndarray:
    """PLUMED's rational switching function ``(1 - x^n) / (1 - x^m)``, ``x = (r - d0)/r0``.

    Evaluated without the 0/0 at ``x = 1`` as the ratio of geometric sums
    ``sum_{k<n} x^k / sum_{k<m} x^k`` (exact for integers ``n < m``; ``n/m`` at ``x = 1``),
    which is ``1 / (1 + x^n)`` when ``m = 2n``. ``x`` is clipped at 0 (``s = 1`` for
    ``r <= d0``).

    Parameters
    ----------
    r_nm : array_like
        Distances, nm.
    r0_nm, d0_nm : float
        Switching length and offset, nm.
    n, m : int
        Exponents, ``0 < n < m``.

    Returns
    -------
    ndarray
        Same shape as ``r_nm``, in ``(0, 1]``.
    """
    x = np.maximum(0.0, (np.asarray(r_nm, dtype=float) - d0_nm) / r0_nm)
    if m == 2 * n:
        return np.asarray(1.0 / (1.0 + x**n), dtype=float)
    num = sum(x**k for k in range(n))
    den = sum(x**k for k in range(m))
    return np.asarray(num / den, dtype=float)



@dataclass(frozen=True)
class CoordinationCV(_CVBase):
    """Smooth coordination number of one cation by a set of partner atoms (dimensionless).

    ``value = sum_j S(r_j)`` over partners ``j`` at minimum-image distance ``r_j`` from the
    cation, with PLUMED's rational switch ``s`` (:func:`rational_switch`) stretched to vanish
    at ``d_max`` (PLUMED's ``D_MAX`` with ``STRETCH``)::

        S(r) = (s(r) - s(d_max)) / (1 - s(d_max))   for r < d_max,   0 beyond.

    As ``n`` grows (``m = 2n``) ``S`` tends to the step ``r < r0``: the integer count of
    partners within ``r0`` that predesolv's analysis reports (there ``r <= cutoff``).

    Attributes
    ----------
    cation : int
        Atom index of the centre (mobile).
    partners : tuple of int
        Coordinating atoms (e.g. the ``solvent_O:DME`` group); may include frozen atoms.
        Every partner counts (the analysis skips the cation's own residue, which for a
        monatomic cation is the same thing).
    r0_nm : float
        Switching length, nm (analysis: the first minimum of the RDF,
        :func:`predesolv.analysis.rdf.default_r0_nm`).
    n, m : int
        Exponents, ``0 < n < m``; ``m`` at most 64 unless ``m = 2n``.
    d0_nm : float
        Offset, nm (``s = 1`` for ``r <= d0``).
    d_max_nm : float, optional
        Cutoff, nm; default ``d0 + 3 r0``. Must be below half the shortest box edge.
    """

    cation: int
    partners: tuple[int, ...]
    r0_nm: float
    n: int = 6
    m: int = 12
    d0_nm: float = 0.0
    d_max_nm: float | None = None
    unit_name = "1"

    def __post_init__(self) -> None:
        object.__setattr__(self, "cation", int(self.cation))
        object.__setattr__(self, "partners", tuple(sorted({int(i) for i in self.partners})))
        if not self.partners or min(self.partners) < 0:
            raise ConfigError("CoordinationCV: partners must be a non-empty list of atoms")
        if self.cation in self.partners:
            raise ConfigError(f"CoordinationCV: the cation (atom {self.cation}) is among its "
                              "partners")
        if not (isinstance(self.n, int) and isinstance(self.m, int) and 0 < self.n < self.m):
            raise ConfigError(f"CoordinationCV: n and m must be integers with 0 < n < m, got "
                              f"n={self.n!r}, m={self.m!r}")
        if self.m != 2 * self.n and self.m > 64:
            raise ConfigError(f"CoordinationCV: m = {self.m} > 64 is only supported as m = 2n")
        if not (self.r0_nm > 0 and self.d0_nm >= 0 and self.d_max > self.d0_nm):
            raise ConfigError(f"CoordinationCV: need r0_nm > 0, d0_nm >= 0 and d_max_nm > "
                              f"d0_nm, got {self.r0_nm}, {self.d0_nm}, {self.d_max_nm}")

    @property
    def d_max(self) -> float:
        """Cutoff actually used, nm."""
        if self.d_max_nm is not None:
            return float(self.d_max_nm)
        return float(self.d0_nm + DMAX_FACTOR * self.r0_nm)

    def switch(self, r_nm: Any) -> np.ndarray:
        """The stretched switch ``S(r)`` (NumPy), same shape as ``r_nm``."""
        r = np.asarray(r_nm, dtype=float)
        s_max = float(rational_switch(self.d_max, self.r0_nm, self.n, self.m, self.d0_nm))
        s = rational_switch(r, self.r0_nm, self.n, self.m, self.d0_nm)
        return np.where(r < self.d_max, (s - s_max) / (1.0 - s_max), 0.0)

    def _switch_expr(self) -> str:
        n, m = self.n, self.m
        if m == 2 * n:
            s = f"1/(1+xs^{n})"
        else:
            num = "+".join(f"xs^{k}" for k in range(n))
            den = "+".join(f"xs^{k}" for k in range(m))
            s = f"({num})/({den})"
        s_max = float(rational_switch(self.d_max, self.r0_nm, n, m, self.d0_nm))
        return (f"(sw-{s_max!r})/{1.0 - s_max!r}; sw={s}; "
                f"xs=max(0,(r-{self.d0_nm!r})/{self.r0_nm!r})")

    def inner_force(self, system: openmm.System, periodic: bool | None = None) -> openmm.Force:
        """``CustomNonbondedForce`` (cation × partners) whose energy is the value."""
        _check_atoms(system, [self.cation], "CoordinationCV cation")
        if max(self.partners) >= system.getNumParticles():
            raise ConfigError(f"CoordinationCV: partner atom {max(self.partners)} does not "
                              f"exist (the System has {system.getNumParticles()})")
        pbc = _periodic(system, periodic)
        box = _system_box(system, pbc)
        if box is not None and not self.d_max < 0.5 * float(box.min()):
            raise ConfigError(f"CoordinationCV: d_max = {self.d_max:.4g} nm must be below half "
                              f"the shortest box edge ({0.5 * float(box.min()):.4g} nm)")
        force = openmm.CustomNonbondedForce(self._switch_expr())
        for _ in range(system.getNumParticles()):
            force.addParticle([])
        force.addInteractionGroup([self.cation], list(self.partners))
        force.setNonbondedMethod(openmm.CustomNonbondedForce.CutoffPeriodic if pbc
                                 else openmm.CustomNonbondedForce.CutoffNonPeriodic)
        force.setCutoffDistance(self.d_max)
        force.setUseSwitchingFunction(False)
        force.setUseLongRangeCorrection(False)
        return force

    def from_positions(self, positions_nm: Any, box_nm: Any = None, masses: Any = None) -> Any:
        """The coordination number; arguments as :meth:`PositionCV.from_positions`
        (``masses`` is ignored)."""
        pos = _positions(positions_nm)
        box = _frame_box(box_nm, pos)
        d = pos[..., list(self.partners), :] - pos[..., self.cation:self.cation + 1, :]
        b = None if box is None else (box if box.ndim == 1 else box[:, None, :])
        r = np.linalg.norm(min_image(d, b), axis=-1)
        return _finish(self.switch(r).sum(axis=-1))
