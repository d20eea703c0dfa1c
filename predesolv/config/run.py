"""The top-level :class:`RunConfig` and the checks that span sections."""

from __future__ import annotations

from typing import Annotated, Any

from openmm import unit
from pydantic import Field, PrivateAttr, model_validator
from pydantic_core import PydanticCustomError

from predesolv.config.base import StrictModel
from predesolv.config.freeenergy import BiasConfig, PMFConfig, PullConfig
from predesolv.config.simulation import (
    MinimizeStage,
    OutputConfig,
    ProductionStage,
    SimulationConfig,
    Stage,
    barostat_problem,
)
from predesolv.config.system import SystemConfig

#: Most integration steps one stage or output interval may take (a guard against unit slips:
#: 1e10 steps of 2 fs are 20 µs).
MAX_STEPS = 10**10
#: Largest time step allowed without hydrogen mass repartitioning (fs).
MAX_TIMESTEP_WITHOUT_HMR_FS = 2.5


def steps_in(duration: Any, timestep: Any, field: str) -> int:
    """Number of integration steps in ``duration``; must be a whole multiple of ``timestep``.

    Raises
    ------
    ValueError
        If ``duration / timestep`` is not an integer within 1e-6 relative tolerance.
    """
    ratio = duration.value_in_unit(unit.picosecond) / timestep.value_in_unit(unit.picosecond)
    n = round(ratio)
    if n < 1 or abs(ratio - n) > 1e-6 * max(1.0, ratio):
        raise ValueError(
            f"{field} ({duration}) must be a whole positive multiple of the time step "
            f"({timestep}); it is {ratio:.6g} steps"
        )
    if n > MAX_STEPS:
        raise ValueError(
            f"{field} ({duration}) is {n:.3g} steps of {timestep}; more than {MAX_STEPS:.0e} "
            f"steps is refused as a probable unit mistake (check the time step and duration)")
    return n


def _config_error(message: str) -> PydanticCustomError:
    """A cross-field error whose message already names its YAML path (braces escaped: pydantic
    treats the message as a template)."""
    return PydanticCustomError("config", message.replace("{", "{{").replace("}", "}}"))


class RunConfig(StrictModel):
    """A complete predesolv run: system source, MD settings, protocol and output."""

    system: SystemConfig
    simulation: SimulationConfig
    stages: Annotated[list[Stage], Field(min_length=1)] = Field(
        ..., description="Protocol stages run in order (minimize, nvt, npt, production)"
    )
    output: OutputConfig
    bias: BiasConfig | None = Field(
        None, description="restraints of this run (written by `predesolv pmf` into each "
        "window and the pull; CV columns are added to state.csv)")
    pull: PullConfig | None = Field(None, description="steered pull (predesolv pmf)")
    pmf: PMFConfig | None = Field(None, description="umbrella sampling + MBAR (predesolv pmf)")
    #: Dotted names of the seeds drawn at random on loading (absent from the user's YAML).
    _drawn_seeds: set[str] = PrivateAttr(default_factory=set)

    @property
    def drawn_seeds(self) -> frozenset[str]:
        """Seeds the user left out (drawn at random when the config was loaded)."""
        return frozenset(self._drawn_seeds)

    @model_validator(mode="after")
    def _cross_checks(self) -> RunConfig:
        sim = self.simulation
        dt_fs = sim.timestep.value_in_unit(unit.femtosecond)
        if dt_fs > MAX_TIMESTEP_WITHOUT_HMR_FS and sim.hydrogen_mass is None:
            raise PydanticCustomError(
                "config",
                "simulation.timestep: {dt} fs needs hydrogen mass repartitioning; set "
                "simulation.hydrogen_mass (e.g. '3 amu') or use a time step <= {mx} fs",
                {"dt": f"{dt_fs:g}", "mx": MAX_TIMESTEP_WITHOUT_HMR_FS},
            )
        names: set[str] = set()
        n_prod = 0
        for i, st in enumerate(self.stages):
            label = st.name or f"{st.type}{i}"
            if label in names:
                raise _config_error(f"stages[{i}].name: duplicate stage name {label!r}; "
                                    f"give each stage its own name")
            names.add(label)
            if isinstance(st, ProductionStage):
                n_prod += 1
                if i != len(self.stages) - 1:
                    raise PydanticCustomError(
                        "config",
                        "stages[{i}].type: production must be the last stage (it is stage "
                        "{i} of {n})", {"i": i, "n": len(self.stages)},
                    )
            if not isinstance(st, MinimizeStage):
                try:
                    steps_in(st.duration, sim.timestep, f"stages[{i}].duration")
                except ValueError as exc:
                    raise PydanticCustomError("config", "{m}", {"m": str(exc)}) from None
            kind = st.barostat_kind
            if kind is not None and self.system.has_electrode:
                # the builders freeze the electrode and fix every box axis of a cell
                why = barostat_problem(kind, frozen=True, fixed_axes={"x", "y", "z"},
                                       fixed_box=False)
                if why:
                    raise _config_error(f"stages[{i}].barostat: {why}")
        self._check_intervals()
        self._check_frames()
        if self.pmf is not None:
            self._check_pmf_stages(self.pmf)
        return self

    def _check_pmf_stages(self, pmf: PMFConfig) -> None:
        """Window stages: production last, whole numbers of steps, a sample per interval."""
        dt = self.simulation.timestep
        for i, st in enumerate(pmf.stages):
            if isinstance(st, ProductionStage) and i != len(pmf.stages) - 1:
                raise _config_error(f"pmf.stages[{i}].type: production must be the last stage")
            if not isinstance(st, MinimizeStage):
                try:
                    steps_in(st.duration, dt, f"pmf.stages[{i}].duration")
                except ValueError as exc:
                    raise _config_error(str(exc)) from None
            if st.barostat_kind is not None:
                raise _config_error(f"pmf.stages[{i}]: umbrella windows run at constant volume "
                                    f"(a barostat would move the frozen electrode and the CV "
                                    f"origin); use nvt")
        last = pmf.stages[-1]
        if not isinstance(last, ProductionStage):
            raise _config_error("pmf.stages: the last window stage must be 'production' (its "
                                "CV samples feed MBAR)")
        try:
            every = steps_in(pmf.sample_interval, dt, "pmf.sample_interval")
        except ValueError as exc:
            raise _config_error(str(exc)) from None
        n = steps_in(last.duration, dt, "pmf.stages[-1].duration") // every
        if n < 20:
            raise _config_error(
                f"pmf.sample_interval: the window production stage gives {n} CV samples; MBAR "
                f"needs at least 20 per window (lengthen production or sample more often)")

    def _check_intervals(self) -> None:
        """Output intervals are whole numbers of time steps."""
        out = self.output
        for field, q in (
            ("output.trajectory.interval", out.trajectory.interval),
            ("output.state_interval", out.state_interval),
            ("output.checkpoint_interval", out.checkpoint_interval),
        ):
            try:
                steps_in(q, self.simulation.timestep, field)
            except ValueError as exc:
                raise PydanticCustomError("config", "{m}", {"m": str(exc)}) from None

    def _check_frames(self) -> None:
        """A production stage shorter than one trajectory interval would write no frame."""
        last = self.stages[-1]
        if not isinstance(last, ProductionStage):
            return
        every = self.output.trajectory.interval.value_in_unit(unit.picosecond)
        length = last.duration.value_in_unit(unit.picosecond)
        if every > length * (1 + 1e-9):
            raise _config_error(
                f"output.trajectory.interval: {every:g} ps is longer than the production "
                f"stage ({length:g} ps), so no frame would be written; use an interval <= "
                f"{length:g} ps")

    def stage_label(self, index: int) -> str:
        """Name of stage ``index`` as it appears in state.csv and progress.json."""
        st = self.stages[index]
        return st.name or f"{st.type}{index}"

    def stage_steps(self, index: int) -> int:
        """Integration steps in stage ``index`` (0 for minimisation)."""
        st = self.stages[index]
        if isinstance(st, MinimizeStage):
            return 0
        return steps_in(st.duration, self.simulation.timestep, f"stages[{index}].duration")

    def interval_steps(self, which: str) -> int:
        """Steps between outputs: ``which`` is 'trajectory', 'state' or 'checkpoint'."""
        q = {
            "trajectory": self.output.trajectory.interval,
            "state": self.output.state_interval,
            "checkpoint": self.output.checkpoint_interval,
        }[which]
        return steps_in(q, self.simulation.timestep, f"output.{which}_interval")
