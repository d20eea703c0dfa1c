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

from typing import Any

import numpy as np
import openmm
from openmm import unit

from predesolv.config.cvtypes import ResolvedCV, cv_type
from predesolv.config.freeenergy import BiasConfig
from predesolv.errors import ConfigError
from predesolv.transforms import register_transform

from .cv import PositionCV, SumCV
from .definitions import SOLVENT_TOTAL
from .restraints import add_flat_bottom, add_harmonic_bias

#: Force group of the harmonic bias (its energy is read alone for the pull work).
BIAS_FORCE_GROUP = 30
NAME = "bias"
WORK = f"{NAME}_work"
CENTER = f"{NAME}_center"
#: Prefix of the second harmonic term of a two-CV window (``bias2_center``, ``bias2_k``).
NAME2 = "bias2"
CENTER2 = f"{NAME2}_center"


def wall_column(index: int, cv_unit: str) -> str:
    """The ``state.csv`` column of wall ``index``'s CV (e.g. ``wall0 (nm)``)."""
    return f"wall{index} ({cv_unit or '1'})"


def resolve_cv(spec: Any, built: Any, field: str, r0_nm: dict[str, float] | None = None
               ) -> ResolvedCV:
    """The CV a spec names on ``built`` (a :class:`~predesolv.built.BuiltSystem`), by the
    resolver registered for its type (:func:`predesolv.config.cvtypes.register_cv_type`).

    Parameters
    ----------
    spec : CVSpecBase
        A validated ``cv:`` block of any registered type.
    built : BuiltSystem
    field : str
        YAML path of the block, for messages.
    r0_nm : dict, optional
        Default coordination switching lengths by kind (nm).

    Raises
    ------
    ConfigError
        Unknown group, a group on frozen (mass 0) atoms, a coordination CV without ``r0``
        and no RDF-based default, a position CV without axis/origin on a system whose
        metadata has no insertion coordinate (each type's resolver says what it refuses).
    """
    return cv_type(spec.type, field).resolver(spec, built, field, r0_nm)


def refuse_start_at_cut(spec: Any, built: Any, positions_nm: Any, field: str) -> None:
    """Refuse a start structure a bias on ``spec`` cannot handle (the type's ``check_start``;
    positions in nm or a Quantity).

    For a position CV: a periodic position CV is exact within ``L/2 - eps`` of its centre;
    in the ``2 eps`` band around the periodic cut (half a box away) it runs backwards (module
    docstring of :mod:`.cv`). A harmonic bias or flat-bottom wall acting on a group that
    starts in that band pushes it *towards* the cut and holds it there: e.g. a wall meant to
    keep an ion within 0.1 nm of a slit mid-plane keeps it 0.1 nm from the mid-plane's
    periodic image. Types without a check accept every start.

    Raises
    ------
    ConfigError
        Naming the field, the group's distance from the CV's centre and the cut.
    """
    check = cv_type(spec.type, field).check_start
    if check is not None:
        check(spec, built, positions_nm, field)


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
        #: The second harmonic term (CV, centre, k) of a two-CV window, or None.
        self.term2 = (None if cfg.cv2 is None else
                      (resolve_cv(cfg.cv2.cv, built, "bias.cv2.cv", r0_nm),
                       cfg.cv2.center_value, cfg.cv2.k_value))
        u = self.cv.unit or "1"
        self.columns = [f"cv ({u})", f"bias_center ({u})", "bias_energy (kJ/mol)"]
        if self.pull is not None:
            self.columns.append("pull_work (kJ/mol)")
        if self.term2 is not None:
            u2 = self.term2[0].unit or "1"
            self.columns += [f"cv2 ({u2})", f"bias2_center ({u2})"]
        #: The walls whose CV ``row`` records (none for a run from before wall columns).
        self.recorded_walls = [rc for rc, *_ in self.walls]
        self.columns += [wall_column(i, rc.unit) for i, rc in enumerate(self.recorded_walls)]

    def check_start(self, built: Any) -> None:
        """Refuse a start structure whose bias or wall CV sits in its periodic cut band
        (:func:`refuse_start_at_cut`)."""
        refuse_start_at_cut(self.cfg.cv, built, built.positions, "bias.cv")
        if self.cfg.cv2 is not None:
            refuse_start_at_cut(self.cfg.cv2.cv, built, built.positions, "bias.cv2.cv")
        for i, w in enumerate(self.cfg.walls):
            refuse_start_at_cut(w.cv, built, built.positions, f"bias.walls[{i}].cv")

    def stage_reporters(self, stage_index: int, n_stages: int, first_step: int,
                        dt_ps: float) -> list[Any]:
        """The pull mover for the last stage of a steered run (none otherwise); ``row``
        makes its due move first, so a row shows the centre of its own step."""
        self.puller = None
        if self.pull is not None and stage_index == n_stages - 1:
            self.puller = PullReporter(self, first_step, dt_ps)
            return [self.puller]
        return []

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
        if self.term2 is not None:
            rc2, c2, k2 = self.term2
            add_harmonic_bias(system, rc2.cv, c2, k2, NAME2, force_group=BIAS_FORCE_GROUP)
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
        if self.term2 is not None:
            rc2, _, k2 = self.term2
            s2, c2 = float(rc2.cv.from_positions(pos, box)), context.getParameter(CENTER2)
            out[2] += 0.5 * k2 * (s2 - c2) ** 2
            out += [s2, c2]
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


register_transform(BiasConfig, Bias)

__all__ = ["BIAS_FORCE_GROUP", "Bias", "PullReporter", "ResolvedCV", "SOLVENT_TOTAL",
           "SumCV", "PositionCV", "resolve_cv"]
