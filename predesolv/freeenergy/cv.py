"""Collective variables: one definition, two evaluations (an OpenMM force and NumPy).

Each CV is a frozen dataclass holding atom indices and constants. :meth:`inner_force` builds
an OpenMM force whose potential energy (kJ/mol, numerically) *is* the CV value;
:meth:`to_force` wraps it in a ``CustomCVForce`` (the form a bias or a reporter uses);
:meth:`from_positions` evaluates the same arithmetic on coordinates with NumPy. Lengths are
nm in and out; coordination numbers are dimensionless. No plugin is needed.

Periodic boundaries (orthorhombic boxes only)
---------------------------------------------
* **Centres of mass** are unwrapped atom by atom: ``com = r_1 + sum_i w_i mi(r_i - r_1)``
  with ``mi`` the minimum-image displacement from the group's first (lowest-index) atom and
  ``w_i`` normalised weights (masses by default). A group may straddle the box boundary, or be
  wrapped atom by atom, as long as it spans less than half a box edge (minus
  :data:`WRAP_EPS_NM`); the value does not depend on which periodic image each atom sits in.
  (``CustomCentroidBondForce`` is not used: it averages raw coordinates, which GPU platforms
  wrap molecule by molecule.)
* **Position** of a centre along one axis is wrapped into ``[c - L/2, c + L/2)`` around a
  wrap centre ``c`` (default: the origin, so the value is the minimum-image displacement from
  the origin). Pass ``center_nm = L/2`` to get the primary cell ``[0, L)`` that predesolv's
  analysis uses (``analysis.geometry.Geometry.insertion_coordinate``).
* The signed one-axis minimum image is computed from OpenMM's periodic ``pointdistance`` as
  ``sd(a, b) = (p - q)(p + q) / (4 eps)`` with ``p = |mi(a - b + eps)|``,
  ``q = |mi(a - b - eps)|``, ``eps =`` :data:`WRAP_EPS_NM`. This equals ``mi(a - b)``
  exactly for ``|mi(a - b)| <= L/2 - eps``; within ``eps`` of the cut at ``b +/- L/2`` it
  runs continuously (slope ``-(L - 2 eps)/(2 eps)``) from ``L/2 - eps`` to ``-(L/2 - eps)``
  instead of jumping. The NumPy path uses the same formula, so both agree everywhere.
* **Distance** between two centres is the 3-D minimum-image distance.
* **Coordination** uses minimum-image pair distances (a ``CustomNonbondedForce`` with a
  periodic cutoff ``d_max``, which must be below half the shortest box edge).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import openmm
from openmm import unit

from predesolv.errors import ConfigError

WRAP_EPS_NM = 0.1
"""Half-width (nm) of the finite difference that signs a periodic one-axis displacement."""
DMAX_FACTOR = 3.0
"""Default coordination cutoff: ``d_max = d0 + DMAX_FACTOR * r0``."""
MAX_GROUP_ATOMS = 64
"""Largest group a centre of mass is computed for (the force expression grows with it)."""
AXES = {"x": 0, "y": 1, "z": 2}


# ------------------------------------------------------------------ NumPy helpers
def _nm(value: Any) -> np.ndarray:
    if isinstance(value, unit.Quantity):
        value = value.value_in_unit(unit.nanometer)
    return np.asarray(value, dtype=float)


def box_lengths(box_nm: Any, n_frames: int | None = None) -> np.ndarray | None:
    """Orthorhombic box edge lengths, nm.

    Parameters
    ----------
    box_nm : None or array_like or Quantity
        ``(3,)`` lengths, ``(3, 3)`` box vectors (rows), or per frame ``(F, 3)`` /
        ``(F, 3, 3)``; None for a non-periodic system.
    n_frames : int, optional
        Number of frames; per-frame boxes must match it.

    Returns
    -------
    ndarray, shape (3,) or (F, 3), or None

    Raises
    ------
    ConfigError
        A triclinic box (off-diagonal vector components) or a non-positive length.
    """
    if box_nm is None:
        return None
    b = _nm(box_nm)
    if b.shape[-2:] == (3, 3):
        off = b - np.einsum("...ii->...i", b)[..., None] * np.eye(3)
        if np.any(np.abs(off) > 1e-9):
            raise ConfigError("collective variables support orthorhombic boxes only; the box "
                              "vectors have off-diagonal components")
        b = np.einsum("...ii->...i", b)
    if b.shape[-1] != 3 or b.ndim > 2 or (b.ndim == 2 and n_frames not in (None, len(b))):
        raise ConfigError(f"box must be (3,), (3, 3) or one per frame, got shape {b.shape}")
    if not np.all(b > 0):
        raise ConfigError(f"box lengths must be > 0 nm, got {b}")
    return b


def min_image(d: np.ndarray, length: np.ndarray | None) -> np.ndarray:
    """Minimum-image displacement ``d - L floor(d/L + 1/2)`` (OpenMM's convention)."""
    if length is None:
        return d
    return d - length * np.floor(d / length + 0.5)


def signed_displacement(a: np.ndarray, b: np.ndarray, length: np.ndarray | None,
                        eps_nm: float = WRAP_EPS_NM) -> np.ndarray:
    """Signed periodic displacement ``a - b`` along one axis, by the module's eps formula."""
    p = np.abs(min_image(a - (b - eps_nm), length))
    q = np.abs(min_image(a - (b + eps_nm), length))
    return (p - q) * (p + q) / (4.0 * eps_nm)


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
        return 1.0 / (1.0 + x**n)
    num = sum(x**k for k in range(n))
    den = sum(x**k for k in range(m))
    return num / den


# ---------------------------------------------------------- OpenMM expression pieces
def _point(axis: int, value: str) -> str:
    xyz = ["0", "0", "0"]
    xyz[axis] = value
    return ",".join(xyz)


def _sd_expr(axis: int, a: str, b: str, tag: str, defs: list[str]) -> str:
    """Expression name of ``sd(a, b)`` along ``axis``; definitions appended to ``defs``."""
    p, q = f"p_{tag}", f"q_{tag}"
    defs.append(f"{p}=pointdistance({_point(axis, a)},{_point(axis, f'({b})-{WRAP_EPS_NM!r}')})")
    defs.append(f"{q}=pointdistance({_point(axis, a)},{_point(axis, f'({b})+{WRAP_EPS_NM!r}')})")
    defs.append(f"sd_{tag}=({p}-{q})*({p}+{q})/{4.0 * WRAP_EPS_NM!r}")
    return f"sd_{tag}"


def _com_expr(axis: int, particles: Sequence[int], weights: np.ndarray, tag: str,
              defs: list[str]) -> str:
    """Name of the centre coordinate along ``axis`` of compound-bond ``particles`` (1-based)."""
    c = "xyz"[axis]
    first = f"{c}{particles[0]}"
    terms = [first]
    for j, w in zip(particles[1:], weights[1:], strict=True):
        terms.append(f"{float(w)!r}*{_sd_expr(axis, f'{c}{j}', first, f'{tag}{c}{j}', defs)}")
    defs.append(f"com_{tag}{c}=" + "+".join(terms))
    return f"com_{tag}{c}"


def _expression(main: str, defs: list[str]) -> str:
    """``main; defs...`` with each definition before the ones it uses (Lepton's order;
    ``defs`` were appended dependencies first)."""
    return "; ".join([main, *reversed(defs)])


def _com_numpy(pos: np.ndarray, atoms: Sequence[int], w: np.ndarray,
               box: np.ndarray | None) -> np.ndarray:
    """Centre (…, 3) of ``atoms`` in positions (…, n, 3), unwrapped on the first atom."""
    first = pos[..., atoms[0], :]
    com = np.array(first, copy=True)
    for a, wi in zip(atoms[1:], w[1:], strict=True):
        com = com + wi * signed_displacement(pos[..., a, :], first, box)
    return com


# ----------------------------------------------------------------- validation
def _periodic(system: openmm.System, periodic: bool | None) -> bool:
    return system.usesPeriodicBoundaryConditions() if periodic is None else bool(periodic)


def _system_box(system: openmm.System, periodic: bool) -> np.ndarray | None:
    if not periodic:
        return None
    vec = system.getDefaultPeriodicBoxVectors()
    return box_lengths(np.array([v.value_in_unit(unit.nanometer) for v in vec]))


def _masses(system: openmm.System, atoms: Sequence[int]) -> np.ndarray:
    return np.array([system.getParticleMass(i).value_in_unit(unit.dalton) for i in atoms])


def _check_atoms(system: openmm.System, atoms: Sequence[int], what: str) -> None:
    n = system.getNumParticles()
    if max(atoms) >= n:
        raise ConfigError(f"{what}: atom {max(atoms)} does not exist (the System has {n})")
    frozen = [a for a, m in zip(atoms, _masses(system, atoms), strict=True) if m == 0.0]
    if frozen:
        raise ConfigError(
            f"{what}: atoms {frozen[:10]} are frozen (mass 0); a collective variable of frozen "
            "atoms never moves and a bias on it does nothing; choose mobile atoms (a fixed "
            "reference point is an origin, e.g. PositionCV.origin_nm)")


def _weights(atoms: Sequence[int], weights: Sequence[float] | None,
             masses: np.ndarray | None, what: str) -> np.ndarray:
    """Normalised centre-of-mass weights of ``atoms``."""
    if weights is not None:
        w = np.asarray(weights, dtype=float)
    elif len(atoms) == 1:
        w = np.ones(1)
    elif masses is None:
        raise ConfigError(f"{what}: masses (or explicit weights) are needed for a centre of "
                          f"mass of {len(atoms)} atoms")
    else:
        w = np.asarray(masses, dtype=float)[..., list(atoms)]
    if w.shape != (len(atoms),) or not np.all(np.isfinite(w)) or np.any(w < 0) \
            or not w.sum() > 0:
        raise ConfigError(f"{what}: weights must be {len(atoms)} finite numbers >= 0 with a "
                          f"positive sum (frozen atoms have mass 0), got {w.tolist()[:10]}")
    return w / w.sum()


def _check_group(atoms: Sequence[int], weights: Sequence[float] | None, what: str) -> None:
    if len(atoms) == 0 or len(set(atoms)) != len(atoms) or min(atoms) < 0:
        raise ConfigError(f"{what}: a group needs distinct atom indices >= 0, got {atoms!r:.80}")
    if len(atoms) > MAX_GROUP_ATOMS:
        raise ConfigError(f"{what}: {len(atoms)} atoms; a centre of mass is limited to "
                          f"{MAX_GROUP_ATOMS} atoms (one molecule or a small cluster)")
    if weights is not None and len(weights) != len(atoms):
        raise ConfigError(f"{what}: {len(weights)} weights for {len(atoms)} atoms")


def _positions(positions_nm: Any) -> np.ndarray:
    pos = _nm(positions_nm)
    if pos.ndim not in (2, 3) or pos.shape[-1] != 3:
        raise ConfigError(f"positions must be (n_atoms, 3) or (n_frames, n_atoms, 3), "
                          f"got shape {pos.shape}")
    return pos


def _frame_box(box_nm: Any, pos: np.ndarray) -> np.ndarray | None:
    """Box lengths broadcastable against per-atom vectors of ``pos`` (…, 3)."""
    box = box_lengths(box_nm, len(pos) if pos.ndim == 3 else None)
    if box is not None and box.ndim == 2:
        if pos.ndim != 3:
            raise ConfigError("one box per frame needs positions of shape (n_frames, n, 3)")
        return box
    return box


def _finish(values: np.ndarray) -> Any:
    return float(values) if np.ndim(values) == 0 else np.asarray(values, dtype=float)


# -------------------------------------------------------------------- the CVs
class _CVBase:
    """Shared wrapping: a CustomCVForce whose energy is the CV value."""

    unit_name = "nm"

    def inner_force(self, system: openmm.System, periodic: bool | None = None) -> openmm.Force:
        raise NotImplementedError

    def cv_terms(self, system: openmm.System, name: str = "cv", periodic: bool | None = None
                 ) -> tuple[str, list[tuple[str, openmm.Force]]]:
        """Expression of the CV in terms of named inner forces, and those forces.

        A bias ``f(cv)`` is a ``CustomCVForce`` with expression ``f((expression))`` and these
        collective variables (:mod:`predesolv.freeenergy.restraints`).
        """
        return name, [(name, self.inner_force(system, periodic))]

    def to_force(self, system: openmm.System, name: str = "cv",
                 periodic: bool | None = None) -> openmm.CustomCVForce:
        """A ``CustomCVForce`` whose energy (kJ/mol, numerically) is the CV value.

        Parameters
        ----------
        system : openmm.System
            The System the force will act in (masses, box, particle count). Not modified.
        name : str
            Collective-variable name inside the force (a valid expression identifier).
        periodic : bool, optional
            Minimum-image convention; default: whether ``system`` uses periodic boundaries.
        """
        expr, terms = self.cv_terms(system, name, periodic)
        force = openmm.CustomCVForce(expr)
        for nm, f in terms:
            force.addCollectiveVariable(nm, f)
        force.setName(f"predesolv_cv_{name}")
        return force


@dataclass(frozen=True)
class PositionCV(_CVBase):
    """Centre of mass of a group along one axis, relative to an origin (nm).

    ``value = direction * (c + sd(com_axis, c) - origin_nm)`` with ``c = center_nm`` (default
    ``origin_nm``): the centre coordinate wrapped into ``[c - L/2, c + L/2)``, measured from
    the origin (see the module docstring). For cells, origin, axis and direction of the
    insertion coordinate are ``metadata.geometry.insertion`` (:func:`position_cv`).

    Attributes
    ----------
    group : tuple of int
        Atom indices (at most :data:`MAX_GROUP_ATOMS`); the first is the unwrapping anchor.
    axis : {"x", "y", "z"}
    origin_nm : float
        Absolute coordinate of the zero, nm.
    direction : {1, -1}
    center_nm : float, optional
        Centre of the wrapping window (absolute coordinate, nm).
    weights : tuple of float, optional
        Centre weights; default: masses (System masses in the force, ``masses`` in NumPy).
    """

    group: tuple[int, ...]
    axis: str = "z"
    origin_nm: float = 0.0
    direction: int = 1
    center_nm: float | None = None
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "group", tuple(int(i) for i in self.group))
        _check_group(self.group, self.weights, "PositionCV")
        if self.axis not in AXES:
            raise ConfigError(f"PositionCV: axis must be x, y or z, got {self.axis!r}")
        if self.direction not in (1, -1):
            raise ConfigError(f"PositionCV: direction must be 1 or -1, got {self.direction!r}")

    @property
    def _c(self) -> float:
        return float(self.origin_nm if self.center_nm is None else self.center_nm)

    def inner_force(self, system: openmm.System, periodic: bool | None = None) -> openmm.Force:
        """``CustomCompoundBondForce`` over the group whose energy is the value (nm)."""
        _check_atoms(system, self.group, "PositionCV")
        pbc = _periodic(system, periodic)
        _system_box(system, pbc)  # refuses triclinic boxes
        w = _weights(self.group, self.weights, _masses(system, range(system.getNumParticles())),
                     "PositionCV")
        ax, defs = AXES[self.axis], []
        com = _com_expr(ax, range(1, len(self.group) + 1), w, "g", defs)
        sd = _sd_expr(ax, com, repr(self._c), "o", defs)
        main = f"{self.direction}*({self._c!r}+{sd}-({self.origin_nm!r}))"
        force = openmm.CustomCompoundBondForce(len(self.group), _expression(main, defs))
        force.addBond(list(self.group), [])
        force.setUsesPeriodicBoundaryConditions(pbc)
        return force

    def from_positions(self, positions_nm: Any, box_nm: Any = None, masses: Any = None) -> Any:
        """The value (nm) for positions ``(n, 3)`` (float) or ``(F, n, 3)`` (array ``(F,)``).

        ``box_nm``: None (non-periodic), ``(3,)``, ``(3, 3)`` or one per frame;
        ``masses``: per-atom masses ``(n_atoms,)`` when no ``weights`` were given.
        """
        pos = _positions(positions_nm)
        box = _frame_box(box_nm, pos)
        ax = AXES[self.axis]
        w = _weights(self.group, self.weights, None if masses is None else _nm(masses),
                     "PositionCV")
        lb = None if box is None else box[..., ax]
        com = _com_numpy(pos[..., ax:ax + 1], self.group, w, None if lb is None
                         else np.asarray(lb)[..., None])[..., 0]
        c = self._c
        return _finish(self.direction * (c + signed_displacement(com, c, lb) - self.origin_nm))


@dataclass(frozen=True)
class DistanceCV(_CVBase):
    """Minimum-image distance between the centres of two groups (nm).

    Attributes
    ----------
    group_a, group_b : tuple of int
        Disjoint atom groups (each at most :data:`MAX_GROUP_ATOMS` atoms).
    weights_a, weights_b : tuple of float, optional
        Centre weights; default: masses.
    """

    group_a: tuple[int, ...]
    group_b: tuple[int, ...]
    weights_a: tuple[float, ...] | None = None
    weights_b: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for f in ("group_a", "group_b"):
            object.__setattr__(self, f, tuple(int(i) for i in getattr(self, f)))
        _check_group(self.group_a, self.weights_a, "DistanceCV group_a")
        _check_group(self.group_b, self.weights_b, "DistanceCV group_b")
        if set(self.group_a) & set(self.group_b):
            raise ConfigError("DistanceCV: the two groups share atoms "
                              f"{sorted(set(self.group_a) & set(self.group_b))[:10]}")

    def inner_force(self, system: openmm.System, periodic: bool | None = None) -> openmm.Force:
        """``CustomCompoundBondForce`` over both groups whose energy is the distance (nm)."""
        _check_atoms(system, self.group_a + self.group_b, "DistanceCV")
        pbc = _periodic(system, periodic)
        _system_box(system, pbc)
        masses = _masses(system, range(system.getNumParticles()))
        wa = _weights(self.group_a, self.weights_a, masses, "DistanceCV group_a")
        wb = _weights(self.group_b, self.weights_b, masses, "DistanceCV group_b")
        na, defs = len(self.group_a), []
        pa = range(1, na + 1)
        pb = range(na + 1, na + len(self.group_b) + 1)
        ca = [_com_expr(ax, pa, wa, "a", defs) for ax in range(3)]
        cb = [_com_expr(ax, pb, wb, "b", defs) for ax in range(3)]
        main = f"pointdistance({','.join(ca)},{','.join(cb)})"
        force = openmm.CustomCompoundBondForce(na + len(self.group_b), _expression(main, defs))
        force.addBond(list(self.group_a + self.group_b), [])
        force.setUsesPeriodicBoundaryConditions(pbc)
        return force

    def from_positions(self, positions_nm: Any, box_nm: Any = None, masses: Any = None) -> Any:
        """The distance (nm); arguments as :meth:`PositionCV.from_positions`."""
        pos = _positions(positions_nm)
        box = _frame_box(box_nm, pos)
        m = None if masses is None else _nm(masses)
        wa = _weights(self.group_a, self.weights_a, m, "DistanceCV group_a")
        wb = _weights(self.group_b, self.weights_b, m, "DistanceCV group_b")
        ca = _com_numpy(pos, self.group_a, wa, box)
        cb = _com_numpy(pos, self.group_b, wb, box)
        return _finish(np.linalg.norm(min_image(ca - cb, box), axis=-1))


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
    r0_nm : float
        Switching length, nm (analysis: the first minimum of the RDF,
        :func:`predesolv.freeenergy.default_r0_nm`).
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


@dataclass(frozen=True)
class SumCV(_CVBase):
    """Sum of CVs of one unit (e.g. coordination by every solvent species)."""

    terms: tuple[Any, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", tuple(self.terms))
        if not self.terms or len({t.unit_name for t in self.terms}) != 1:
            raise ConfigError("SumCV: needs at least one term, all of the same unit")
        object.__setattr__(self, "unit_name", self.terms[0].unit_name)

    def cv_terms(self, system: openmm.System, name: str = "cv", periodic: bool | None = None
                 ) -> tuple[str, list[tuple[str, openmm.Force]]]:
        """The sum of the terms' expressions (term ``i`` named ``{name}_{i}``)."""
        exprs, forces = [], []
        for i, t in enumerate(self.terms):
            e, f = t.cv_terms(system, f"{name}_{i}", periodic)
            exprs.append(f"({e})")
            forces += f
        return "+".join(exprs), forces

    def inner_force(self, system: openmm.System, periodic: bool | None = None) -> openmm.Force:
        """The summing ``CustomCVForce`` itself (a CustomCVForce may nest another)."""
        return self.to_force(system, "term", periodic)

    def from_positions(self, positions_nm: Any, box_nm: Any = None, masses: Any = None) -> Any:
        """Sum of the terms' values."""
        return _finish(sum(np.asarray(t.from_positions(positions_nm, box_nm, masses))
                           for t in self.terms))
