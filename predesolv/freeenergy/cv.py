"""Collective variables: one definition, two evaluations (an OpenMM force and NumPy).

Each CV is a frozen dataclass holding atom indices and constants. :meth:`to_force` builds a
``CustomCVForce`` whose potential energy (kJ/mol, numerically) *is* the CV value;
:meth:`cv_terms` gives the same as an expression of named inner forces (what a bias wraps,
:mod:`predesolv.freeenergy.restraints`); :meth:`from_positions` evaluates the same arithmetic
on coordinates with NumPy. Lengths are
nm in and out; coordination numbers are dimensionless. No plugin is needed.

Periodic boundaries (orthorhombic boxes only)
---------------------------------------------
Everything is built from one periodic primitive, the signed one-axis displacement
``sd(a, b) = (p - q)(p + q) / (4 eps)`` with ``p = |mi(a - b + eps)|``,
``q = |mi(a - b - eps)|`` (``mi``: minimum image; ``eps =`` :data:`WRAP_EPS_NM`), computed
in OpenMM with the periodic ``pointdistance`` of a ``CustomCompoundBondForce`` (no box length
is needed, so a barostat may act). It equals ``mi(a - b)`` exactly for
``|mi(a - b)| <= L/2 - eps``; within ``eps`` of the cut at ``b +/- L/2`` it runs
continuously (slope ``-(L - 2 eps)/(2 eps)``) from ``L/2 - eps`` to ``-(L/2 - eps)`` instead
of jumping. The NumPy path uses the same formula, so both agree everywhere.

* **Centres** are unwrapped on the group's first (lowest-index) atom, the *anchor*:
  ``com = r_1 + offset``, ``offset = sum_i w_i sd(r_i, r_1)`` with normalised weights
  (masses by default). A group may straddle the boundary, or be wrapped atom by atom, as long
  as it spans less than ``L/2 - eps``; no atom's periodic image matters.
  (``CustomCentroidBondForce`` is not used: it averages raw coordinates, which GPU platforms
  wrap molecule by molecule, so a group of several molecules could be split.)
* **Position**: ``direction * (c + sd(x_1, c) + offset - origin)``, ``c = center_nm``
  (default: the origin): the centre coordinate in the image where the *anchor* lies within
  ``[c - L/2, c + L/2)``, measured from the origin; for a single atom that is the
  minimum-image displacement from the origin. Pass ``center_nm = L/2`` for the primary cell
  ``[0, L)`` that predesolv's analysis uses (``Geometry.insertion_coordinate``).
* **Distance**: per axis the raw anchor separation plus the offsets, brought to its
  minimum image with the box length read in the force (``c + |mi(c)|``, ``c = 0.75 L0``):
  the minimum-image distance between the centres at every separation; two single atoms use
  OpenMM's periodic ``r`` directly.
* **Coordination** (:mod:`.coordination`) uses minimum-image pair distances.

In OpenMM a CV is a ``CustomCVForce`` over a few small inner forces (:meth:`cv_terms`), which
compile in milliseconds whatever the group size.
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
    """Minimum-image displacement ``d - L floor(d/L + 1/2)`` (OpenMM's convention), nm.

    ``length`` broadcasts against ``d``; None leaves ``d`` unchanged (no periodicity).
    """
    if length is None:
        return d
    return d - length * np.floor(d / length + 0.5)


def signed_displacement(a: Any, b: Any, length: Any,
                        eps_nm: float = WRAP_EPS_NM) -> np.ndarray:
    """Signed periodic displacement ``a - b`` along one axis (the module's ``sd``), nm.

    Parameters
    ----------
    a, b : array_like
        Coordinates along one axis, nm (broadcast together).
    length : array_like or None
        Box length along that axis, nm (broadcast); None: not periodic (returns ``a - b``).
    eps_nm : float
        Finite-difference half-width; equal to the minimum image for
        ``|mi(a - b)| <= L/2 - eps_nm``, continuous everywhere.

    Returns
    -------
    ndarray
    """
    p = np.abs(min_image(a - (b - eps_nm), length))
    q = np.abs(min_image(a - (b + eps_nm), length))
    return (p - q) * (p + q) / (4.0 * eps_nm)


# ------------------------------------------------------------- small OpenMM forces
def _point(axis: int, value: str) -> str:
    xyz = ["0", "0", "0"]
    xyz[axis] = value
    return ",".join(xyz)


def _sd_force(n_particles: int, axis: int, a: str, b: str, pbc: bool,
              weighted: bool = False) -> openmm.CustomCompoundBondForce:
    """``CustomCompoundBondForce`` with energy ``[w *] sd(a, b)`` per bond along ``axis``.

    ``a`` and ``b`` are coordinate expressions (``"x1"``, ``"1.5"``); the caller adds bonds.
    """
    eps = repr(WRAP_EPS_NM)
    expr = (f"{'w*' if weighted else ''}(p-q)*(p+q)/{4.0 * WRAP_EPS_NM!r}; "
            f"p=pointdistance({_point(axis, a)},{_point(axis, f'{b}-{eps}')}); "
            f"q=pointdistance({_point(axis, a)},{_point(axis, f'{b}+{eps}')})")
    force = openmm.CustomCompoundBondForce(n_particles, expr)
    if weighted:
        force.addPerBondParameter("w")
    force.setUsesPeriodicBoundaryConditions(pbc)
    return force


def _box_length_force(axis: int, length_nm: float, atom: int) -> openmm.CustomCompoundBondForce:
    """Energy = the periodic box length along ``axis`` (nm), read from the context's box:
    ``c + |mi(c)|`` with ``c = 0.75 length_nm`` (the minimum image of ``c`` is ``c - L`` for
    ``L/2 < c < L``), valid while the box stays between 0.75 and 1.5 times ``length_nm``.
    One bond on ``atom``, whose position does not matter (no force)."""
    c = repr(0.75 * length_nm)
    shifted = ",".join(f"{v}1+{c}" if i == axis else f"{v}1" for i, v in enumerate("xyz"))
    force = openmm.CustomCompoundBondForce(1, f"{c}+pointdistance(x1,y1,z1,{shifted})")
    force.addBond([atom], [])
    force.setUsesPeriodicBoundaryConditions(True)
    return force


def _offset_force(group: Sequence[int], w: np.ndarray, axis: int,
                  pbc: bool) -> openmm.CustomCompoundBondForce:
    """Energy ``sum_i w_i sd(r_i, r_1)`` along ``axis``: the centre minus the anchor atom."""
    c = "xyz"[axis]
    force = _sd_force(2, axis, f"{c}2", f"{c}1", pbc, weighted=True)
    for atom, wi in zip(group[1:], w[1:], strict=True):
        force.addBond([group[0], atom], [float(wi)])
    return force


def _offset_numpy(pos: np.ndarray, atoms: Sequence[int], w: np.ndarray,
                  box: np.ndarray | None) -> np.ndarray:
    """Centre minus anchor (…, 3) of ``atoms`` in positions (…, n, 3)."""
    first = pos[..., atoms[0], :]
    off = np.zeros_like(first)
    for a, wi in zip(atoms[1:], w[1:], strict=True):
        off = off + wi * signed_displacement(pos[..., a, :], first, box)
    return off


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


def _check_exist(system: openmm.System, atoms: Sequence[int], what: str) -> None:
    n = system.getNumParticles()
    if max(atoms) >= n:
        raise ConfigError(f"{what}: atom {max(atoms)} does not exist (the System has {n})")


def _check_atoms(system: openmm.System, atoms: Sequence[int], what: str) -> None:
    _check_exist(system, atoms, what)
    frozen = [a for a, m in zip(atoms, _masses(system, atoms), strict=True) if m == 0.0]
    if frozen:
        raise ConfigError(
            f"{what}: atoms {frozen[:10]} are frozen (mass 0); a collective variable of frozen "
            "atoms never moves and a bias on it does nothing; choose mobile atoms (a fixed "
            "reference point is an origin, e.g. PositionCV.origin_nm)")


def check_distance_groups(system: openmm.System, group_a: Sequence[int],
                          group_b: Sequence[int], what: str) -> None:
    """The groups of a distance: each wholly mobile or wholly frozen, not both frozen.

    A wholly frozen group is a fixed reference point (a dopant site of a frozen electrode);
    the restraint then acts on the other group alone.

    Raises
    ------
    ConfigError
        A group mixing frozen (mass 0) and mobile atoms, both groups frozen, or an atom
        index beyond the System.
    """
    _check_exist(system, list(group_a) + list(group_b), what)
    n_frozen = {name: int((_masses(system, g) == 0.0).sum())
                for name, g in (("group_a", group_a), ("group_b", group_b))}
    for name, g in (("group_a", group_a), ("group_b", group_b)):
        if 0 < n_frozen[name] < len(g):
            raise ConfigError(f"{what}.{name}: the group mixes frozen (mass 0) and mobile "
                              "atoms, so its centre cannot follow a restraint: choose a group "
                              "that is wholly mobile or wholly frozen")
    if n_frozen["group_a"] == len(group_a) and n_frozen["group_b"] == len(group_b):
        raise ConfigError(f"{what}: atoms of both groups are frozen (mass 0); a restraint "
                          "cannot move them: make at least one group mobile")


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


def _finish(values: Any) -> Any:
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

    ``value = direction * (c + sd(x_anchor, c) + offset - origin_nm)`` with
    ``c = center_nm`` (default ``origin_nm``): the centre coordinate in the image where the
    anchor (first atom) lies within ``[c - L/2, c + L/2)``, measured from the origin (see
    the module docstring; for one atom, its coordinate wrapped into that window). For cells,
    origin, axis and direction of the insertion coordinate are
    ``metadata.geometry.insertion`` (:func:`position_cv`).

    Attributes
    ----------
    group : tuple of int
        Atom indices (spanning less than half a box edge); the first is the anchor.
    axis : {"x", "y", "z"}
    origin_nm : float
        Absolute coordinate of the zero, nm.
    direction : {1, -1}
    center_nm : float, optional
        Centre of the wrapping window (absolute coordinate, nm).
    weights : tuple of float, optional
        Centre weights; default: masses (System masses in the force, ``masses`` in NumPy).
        Give them explicitly when the two differ (hydrogen mass repartitioning in the
        System, element masses in analysis: :func:`~predesolv.freeenergy.element_masses`).
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

    def cv_terms(self, system: openmm.System, name: str = "cv", periodic: bool | None = None
                 ) -> tuple[str, list[tuple[str, openmm.Force]]]:
        """``direction*(c + anchor + offset - origin)``: two small compound-bond forces."""
        _check_atoms(system, self.group, "PositionCV")
        pbc = _periodic(system, periodic)
        _system_box(system, pbc)  # refuses triclinic boxes
        w = _weights(self.group, self.weights, _masses(system, range(system.getNumParticles())),
                     "PositionCV")
        ax = AXES[self.axis]
        anchor = _sd_force(1, ax, f"{self.axis}1", repr(self._c), pbc)
        anchor.addBond([self.group[0]], [])
        terms: list[tuple[str, openmm.Force]] = [(f"{name}_anchor", anchor)]
        expr = f"{self.direction}*({self._c!r}+{name}_anchor-({self.origin_nm!r}))"
        if len(self.group) > 1:
            terms.append((f"{name}_offset", _offset_force(self.group, w, ax, pbc)))
            expr = f"{self.direction}*({self._c!r}+{name}_anchor+{name}_offset" \
                   f"-({self.origin_nm!r}))"
        return expr, terms

    def inner_force(self, system: openmm.System, periodic: bool | None = None) -> openmm.Force:
        """A ``CustomCVForce`` whose energy is the value (nm)."""
        return self.to_force(system, "position", periodic)

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
        x = pos[..., ax:ax + 1]
        lb1 = None if lb is None else np.asarray(lb)[..., None]
        off = _offset_numpy(x, self.group, w, lb1)[..., 0]
        c = self._c
        anchor = signed_displacement(x[..., self.group[0], 0], c, lb)
        return _finish(self.direction * (c + anchor + off - self.origin_nm))


@dataclass(frozen=True)
class DistanceCV(_CVBase):
    """Minimum-image distance between the centres of two groups (nm), exact at every
    separation.

    Two single atoms: the minimum-image distance itself. Larger groups: per axis, the raw
    anchor separation plus the centres' offsets from their anchors (see the module
    docstring), ``D = x_a1 - x_b1 + offset_a - offset_b``, brought to its minimum image
    ``D - L floor(D/L + 1/2)``: any image of either anchor gives the same value, and nothing
    folds at half a box. The box length ``L`` is measured in the force itself
    (:func:`_box_length_force`), so a barostat may act (within 0.75–1.5 times the System's
    default box).

    Attributes
    ----------
    group_a, group_b : tuple of int
        Disjoint atom groups (each spanning less than half a box edge).
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

    @property
    def atom_pair(self) -> bool:
        """Both groups are single atoms: the CV is the exact minimum-image distance."""
        return len(self.group_a) == 1 and len(self.group_b) == 1

    def cv_terms(self, system: openmm.System, name: str = "cv", periodic: bool | None = None
                 ) -> tuple[str, list[tuple[str, openmm.Force]]]:
        """Two atoms: the minimum-image distance ``r`` (a periodic ``CustomBondForce``; exact
        at any separation). Groups: ``|sd(anchor_a, anchor_b) + offset_a - offset_b|``,
        per-axis compound-bond forces."""
        check_distance_groups(system, self.group_a, self.group_b, "DistanceCV")
        pbc = _periodic(system, periodic)
        box = _system_box(system, pbc)  # checks the box, and gives L0 for groups
        if self.atom_pair:
            bond = openmm.CustomBondForce("r")
            bond.addBond(self.group_a[0], self.group_b[0], [])
            bond.setUsesPeriodicBoundaryConditions(pbc)
            return f"{name}_r", [(f"{name}_r", bond)]
        masses = _masses(system, range(system.getNumParticles()))
        wa = _weights(self.group_a, self.weights_a, masses, "DistanceCV group_a")
        wb = _weights(self.group_b, self.weights_b, masses, "DistanceCV group_b")
        terms: list[tuple[str, openmm.Force]] = []
        comps = []
        for c, ax in AXES.items():
            pair = openmm.CustomCompoundBondForce(2, f"{c}1-{c}2")  # raw: any image
            pair.addBond([self.group_a[0], self.group_b[0]], [])
            terms.append((f"{name}_d{c}", pair))
            comp = f"{name}_d{c}"
            if len(self.group_a) > 1:
                terms.append((f"{name}_a{c}", _offset_force(self.group_a, wa, ax, pbc)))
                comp += f"+{name}_a{c}"
            if len(self.group_b) > 1:
                terms.append((f"{name}_b{c}", _offset_force(self.group_b, wb, ax, pbc)))
                comp += f"-{name}_b{c}"
            if box is None:
                comps.append(f"({comp})^2")
                continue
            length = f"{name}_L{c}"
            terms.append((length, _box_length_force(ax, float(box[ax]), self.group_a[0])))
            comps.append(f"(({comp})-{length}*floor(({comp})/{length}+0.5))^2")
        return f"sqrt({'+'.join(comps)})", terms

    def inner_force(self, system: openmm.System, periodic: bool | None = None) -> openmm.Force:
        """A ``CustomCVForce`` whose energy is the distance (nm)."""
        return self.to_force(system, "distance", periodic)

    def from_positions(self, positions_nm: Any, box_nm: Any = None, masses: Any = None) -> Any:
        """The distance (nm); arguments as :meth:`PositionCV.from_positions`."""
        pos = _positions(positions_nm)
        box = _frame_box(box_nm, pos)
        if self.atom_pair:
            return _finish(np.linalg.norm(min_image(
                pos[..., self.group_a[0], :] - pos[..., self.group_b[0], :], box), axis=-1))
        m = None if masses is None else _nm(masses)
        wa = _weights(self.group_a, self.weights_a, m, "DistanceCV group_a")
        wb = _weights(self.group_b, self.weights_b, m, "DistanceCV group_b")
        d = pos[..., self.group_a[0], :] - pos[..., self.group_b[0], :]
        d = d + _offset_numpy(pos, self.group_a, wa, box) - _offset_numpy(pos, self.group_b, wb,
                                                                           box)
        return _finish(np.linalg.norm(min_image(d, box), axis=-1))


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
