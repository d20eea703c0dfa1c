"""A run's restraints as a System transform plus what the runner records about them.

:class:`Bias` turns a :class:`~predesolv.config.freeenergy.BiasConfig` (the ``bias`` block of
a run's config: one harmonic restraint on a CV, flat-bottom walls, an optional steered pull)
into CV objects resolved on the built system. :meth:`Bias.add_to` adds the forces to a
System (like :mod:`predesolv.systems.constant_potential`: the run's ``system.xml`` then holds
them, so a resumed window needs nothing else); :meth:`Bias.row` gives the ``state.csv``
columns the runner appends (CV value, centre, bias energy, pull work), evaluated with the
CV's NumPy definition on the reported positions, and each wall's CV as ``wall<i> (unit)``, so a
wall that let go is visible in the samples); :class:`PullReporter` moves the centre.

Global parameters (all in the bias force): ``bias_center`` (CV unit), ``bias_k`` (kJ/mol per
CV unit squared) and, for a pull, ``bias_work`` (kJ/mol; carried by checkpoints).
Walls are ``wall<i>_lower/_upper/_k``. Centre-of-mass weights are element masses (so the
bias and any later analysis of the trajectory agree even after hydrogen mass
repartitioning).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import openmm
from openmm import unit

from predesolv.config.freeenergy import (
    BiasConfig,
    CoordinationCVSpec,
    DistanceCVSpec,
    PositionCVSpec,
)
from predesolv.errors import ConfigError

from .coordination import CoordinationCV
from .cv import AXES, WRAP_EPS_NM, DistanceCV, PositionCV, SumCV, check_distance_groups
from .definitions import SOLVENT_TOTAL, coordination_cvs, position_cv
from .groups import element_masses, resolve_group
from .restraints import add_flat_bottom, add_harmonic_bias

#: Force group of the harmonic bias (its energy is read alone for the pull work).
BIAS_FORCE_GROUP = 30
NAME = "bias"
WORK = f"{NAME}_work"
CENTER = f"{NAME}_center"


@dataclass(frozen=True)
class ResolvedCV:
    """A CV spec resolved on one system: the CV object, its unit and its table column."""

    cv: Any
    unit: str
    column: str
    atoms: tuple[int, ...]


def wall_column(index: int, cv_unit: str) -> str:
    """The ``state.csv`` column of wall ``index``'s CV (e.g. ``wall0 (nm)``)."""
    return f"wall{index} ({cv_unit or '1'})"


def _weights(atoms: Sequence[int], masses: np.ndarray) -> tuple[float, ...]:
    return tuple(float(masses[i]) for i in atoms)


def resolve_cv(spec: Any, built: Any, field: str, r0_nm: dict[str, float] | None = None
               ) -> ResolvedCV:
    """The CV a spec names on ``built`` (a :class:`~predesolv.built.BuiltSystem`).

    Raises
    ------
    ConfigError
        Unknown group, a group on frozen (mass 0) atoms, a coordination CV without ``r0``
        and no RDF-based default, a position CV without axis/origin on a system whose
        metadata has no insertion coordinate.
    """
    md, top = built.metadata, built.topology
    masses = element_masses(top)
    if isinstance(spec, PositionCVSpec):
        atoms = resolve_group(spec.group, md, top, field=f"{field}.group")
        origin = (None if spec.origin is None else spec.origin.value_in_unit(unit.nanometer))
        ins = md.geometry.insertion if md.geometry is not None else None
        if origin is None and spec.axis is not None and ins is not None and spec.axis != ins.axis:
            origin = slit_midplane_nm(md, spec.axis, field)
        cv: Any = position_cv(atoms, md, top, axis=spec.axis, direction=spec.direction,
                              origin_nm=origin, weights=_weights(atoms, masses), field=field)
        column = f"{cv.axis}_nm"
    elif isinstance(spec, DistanceCVSpec):
        a = resolve_group(spec.group_a, md, top, field=f"{field}.group_a")
        b = resolve_group(spec.group_b, md, top, field=f"{field}.group_b")
        cv, atoms, column = (DistanceCV(a, b, _weights(a, masses), _weights(b, masses)),
                             a + b, "d_nm")
        check_distance_groups(built.system, a, b, field)
        return ResolvedCV(cv, spec.unit, column, tuple(atoms))
    elif isinstance(spec, CoordinationCVSpec):
        cv, atoms = _coordination(spec, built, field, r0_nm)
        column = "cn"
    else:  # pragma: no cover - the discriminated union allows nothing else
        raise ConfigError("unknown CV type", field)
    _refuse_frozen(built.system, atoms, field, coordination=isinstance(spec, CoordinationCVSpec))
    return ResolvedCV(cv, spec.unit, column, tuple(atoms))


def refuse_start_at_cut(spec: Any, built: Any, positions_nm: Any, field: str) -> None:
    """Refuse a start structure whose group sits where a position CV reverses its sign.

    A periodic position CV is exact within ``L/2 - eps`` of its centre; in the ``2 eps``
    band around the periodic cut (half a box away) it runs backwards (module docstring of
    :mod:`.cv`). A harmonic bias or flat-bottom wall acting on a group that starts in that
    band pushes it *towards* the cut and holds it there: e.g. a wall meant to keep an ion
    within 0.1 nm of a slit mid-plane keeps it 0.1 nm from the mid-plane's periodic image.

    Raises
    ------
    ConfigError
        Naming the field, the group's distance from the CV's centre and the cut.
    """
    if not isinstance(spec, PositionCVSpec):
        return
    cv = resolve_cv(spec, built, field).cv
    box = built.topology.getPeriodicBoxVectors()
    if box is None:
        return
    ax = AXES[cv.axis]
    length = box[ax][ax].value_in_unit(unit.nanometer)
    centre = cv.origin_nm if cv.center_nm is None else cv.center_nm
    pos = np.asarray(positions_nm.value_in_unit(unit.nanometer)
                     if isinstance(positions_nm, unit.Quantity) else positions_nm, dtype=float)
    d = float(pos[cv.group[0], ax] - centre)
    d -= length * round(d / length)
    if abs(d) > length / 2 - WRAP_EPS_NM:
        raise ConfigError(
            f"the group starts {d:+.3f} nm from {cv.axis} = {centre:.4g} nm, within "
            f"{WRAP_EPS_NM} nm of the periodic cut half a box ({length / 2:.4g} nm) away, "
            f"where this position CV runs backwards: a bias or wall there would trap the "
            f"group at the cut instead of restoring it. Choose a group that starts within "
            f"{length / 2 - WRAP_EPS_NM:.3g} nm of the CV's centre", field)


def slit_midplane_nm(metadata: Any, axis: str, field: str) -> float:
    """Mid-plane of the first slit (or orifice) segment across it (default origin of a
    position CV along the stacking axis: 0 on the mid-plane)."""
    segs = (metadata.geometry.extra.get("segments") if metadata.geometry else None) or []
    for seg in segs:
        z = seg.get("z_nm") if isinstance(seg, dict) else None
        if axis == "z" and z and len(z) == 2:
            return 0.5 * (float(z[0]) + float(z[1]))
    raise ConfigError(f"{field}.origin: no default origin along {axis} for this system (the "
                      f"default is the slit mid-plane, along z); give origin, e.g. '1.2 nm'",
                      f"{field}.origin")


def _coordination(spec: CoordinationCVSpec, built: Any, field: str,
                  r0_nm: dict[str, float] | None) -> tuple[Any, tuple[int, ...]]:
    md, top = built.metadata, built.topology
    cation = resolve_group(spec.cation, md, top, field=f"{field}.cation")
    if len(cation) != 1:
        raise ConfigError(f"{field}.cation: {spec.cation!r} names {len(cation)} atoms; a "
                          f"coordination CV needs one cation (e.g. 'cation[0]')")
    given = None if spec.r0 is None else float(spec.r0.value_in_unit(unit.nanometer))
    if spec.partner.strip().startswith("sel:"):
        partners = resolve_group(spec.partner, md, top, field=f"{field}.partner")
        if given is None:
            raise ConfigError("a selection partner needs an explicit r0 (e.g. '0.32 nm')",
                              f"{field}.r0")
        return CoordinationCV(cation[0], partners, given, n=spec.n, m=spec.m), cation
    r0: float | dict[str, float] | None = given if given is not None else r0_nm
    if r0 is None:
        raise ConfigError(
            "not given, and no RDF to take its first minimum from; give r0 "
            "(e.g. '0.32 nm') or end the top-level stages with a production stage (its "
            "trajectory gives the RDF)", f"{field}.r0")
    cvs = coordination_cvs(cation, md, r0, top, n=spec.n, m=spec.m, field=field)
    if spec.partner not in cvs:
        raise ConfigError(f"{spec.partner!r} is not a coordinating kind of "
                          f"this system; choose one of {sorted(cvs)} or 'sel:<selection>'",
                          f"{field}.partner")
    return cvs[spec.partner], cation


def _refuse_frozen(system: openmm.System, atoms: Sequence[int], field: str,
                   coordination: bool) -> None:
    """A biased group must move: frozen (mass 0) atoms cannot respond to a restraint."""
    check = atoms[:1] if coordination else atoms  # a coordination's partners may be frozen
    frozen = [i for i in check if system.getParticleMass(int(i)).value_in_unit(unit.dalton) == 0]
    if frozen:
        raise ConfigError(f"the CV acts on frozen (mass 0) atoms {frozen[:5]}; a "
                          f"restraint cannot move them: choose mobile atoms", field)


class Bias:
    """The restraints of one run, resolved on its built system.

    Parameters
    ----------
    cfg : BiasConfig
    built : BuiltSystem
        Groups and topology to resolve the CVs on (for a resumed run: the stored one).
    r0_nm : dict, optional
        Default coordination switching lengths by kind (nm).
    """

    def __init__(self, cfg: BiasConfig, built: Any, r0_nm: dict[str, float] | None = None):
        self.cfg = cfg
        self.cv = resolve_cv(cfg.cv, built, "bias.cv", r0_nm)
        self.center = cfg.center_value
        self.k = cfg.k_value
        self.walls = [(resolve_cv(w.cv, built, f"bias.walls[{i}].cv", r0_nm), *w.bounds(),
                       w.cv.force_constant(w.k, f"bias.walls[{i}].k"))
                      for i, w in enumerate(cfg.walls)]
        self.pull = cfg.pull
        #: The pull mover of the current stage (set by the runner for the pulling stage).
        self.puller: PullReporter | None = None
        u = self.cv.unit or "1"
        self.columns = [f"cv ({u})", f"bias_center ({u})", "bias_energy (kJ/mol)"]
        if self.pull is not None:
            self.columns.append("pull_work (kJ/mol)")
        #: The walls whose CV ``row`` records (none for a run from before wall columns).
        self.recorded_walls = [rc for rc, *_ in self.walls]
        self.columns += [wall_column(i, rc.unit) for i, rc in enumerate(self.recorded_walls)]

    def match_state_header(self, state_csv: Any) -> None:
        """Record no wall CVs when ``state_csv`` (a resumed run's) predates wall columns."""
        with open(state_csv) as fh:
            header = fh.readline()
        n = len(self.recorded_walls)
        if n and f'"{wall_column(0, self.recorded_walls[0].unit)}"' not in header:
            self.columns, self.recorded_walls = self.columns[:-n], []

    def add_to(self, system: openmm.System) -> None:
        """Add the bias (force group :data:`BIAS_FORCE_GROUP`) and the walls to ``system``."""
        used = {f.getForceGroup() for f in system.getForces()}
        if BIAS_FORCE_GROUP in used:
            raise ConfigError(f"bias: force group {BIAS_FORCE_GROUP} is already used by the "
                              f"System; predesolv keeps it for the bias", "bias")
        h = add_harmonic_bias(system, self.cv.cv, self.center, self.k, NAME,
                              force_group=BIAS_FORCE_GROUP)
        if self.pull is not None:
            force = system.getForce(h.force_index)
            assert isinstance(force, openmm.CustomCVForce)
            force.addGlobalParameter(WORK, 0.0)
        for i, (rc, lo, hi, k) in enumerate(self.walls):
            add_flat_bottom(system, rc.cv, lo, hi, k, f"wall{i}")

    def values(self, positions_nm: np.ndarray, box_nm: np.ndarray | None) -> float:
        """The CV at one frame (NumPy definition; weights are element masses)."""
        return float(self.cv.cv.from_positions(positions_nm, box_nm))

    def row(self, simulation: Any, state: openmm.State) -> list[float]:
        """``state.csv`` values for :attr:`columns` at a reported state (positions needed).

        A due move of a pulled centre is made first (moves are idempotent), so the row shows
        the centre and work of its own step whatever order OpenMM calls reporters in.
        """
        if self.puller is not None:
            self.puller.report(simulation, state)
        context = simulation.context
        pos = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        box = np.diag(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer))
        s = self.values(np.asarray(pos), box)
        c = context.getParameter(CENTER)
        out = [s, c, 0.5 * self.k * (s - c) ** 2]
        if self.pull is not None:
            out.append(context.getParameter(WORK))
        out += [float(rc.cv.from_positions(pos, box)) for rc in self.recorded_walls]
        return out

    def pull_center(self, steps_into_stage: int, dt_ps: float) -> float:
        """Steered centre after ``steps_into_stage`` steps of the pulling stage."""
        assert self.pull is not None
        target = self.cfg.cv.value(self.pull.target, "bias.pull.target")
        rate = self.cfg.cv.rate(self.pull.rate, "bias.pull.rate")
        moved = rate * dt_ps * steps_into_stage
        span = target - self.center
        return target if moved >= abs(span) else self.center + np.sign(span) * moved


class PullReporter:
    """Moves the bias centre every ``update_interval`` steps of the pulling stage and adds
    the work ``U(x, c_new) - U(x, c_old)`` of each move to ``bias_work`` (the Jarzynski work
    of this discrete protocol; read from the bias's own force group)."""

    def __init__(self, bias: Bias, first_step: int, dt_ps: float):
        assert bias.pull is not None
        self._bias = bias
        self._first = first_step
        self._dt = dt_ps
        self._every = bias.pull.update_interval

    def describeNextReport(self, simulation: Any) -> dict[str, Any]:
        steps = self._every - (simulation.currentStep - self._first) % self._every
        return {"steps": steps, "periodic": None, "include": []}

    def report(self, simulation: Any, state: openmm.State) -> None:
        """Move the centre to its value at this step (no-op when already there)."""
        ctx = simulation.context
        n = int(simulation.currentStep) - self._first
        new = self._bias.pull_center(n - n % self._every, self._dt)
        old = ctx.getParameter(CENTER)
        if new == old:
            return
        groups = {BIAS_FORCE_GROUP}
        e_old = ctx.getState(getEnergy=True, groups=groups).getPotentialEnergy()
        ctx.setParameter(CENTER, new)
        e_new = ctx.getState(getEnergy=True, groups=groups).getPotentialEnergy()
        work = (e_new - e_old).value_in_unit(unit.kilojoule_per_mole)
        ctx.setParameter(WORK, ctx.getParameter(WORK) + work)


__all__ = ["BIAS_FORCE_GROUP", "Bias", "PullReporter", "ResolvedCV", "SOLVENT_TOTAL",
           "SumCV", "PositionCV", "resolve_cv"]
