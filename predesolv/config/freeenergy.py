"""``bias``, ``pull`` and ``pmf`` YAML blocks: collective variables, restraints, steered pulls,
umbrella windows and the MBAR estimator.

Example (Na+ insertion into a slit, windows every 0.1 nm)::

    pull:
      cv: {type: position, group: "cation[0]"}     # insertion coordinate, 0 at the mouth
      k: "5000 kJ/mol/nm**2"
      target: "1.2 nm"
      speed: "2 nm/ns"
    pmf:
      cv: {type: position, group: "cation[0]"}
      windows: {start: "-0.8 nm", stop: "1.2 nm", count: 21}
      k: "2000 kJ/mol/nm**2"
      walls:
        - cv: {type: position, group: "cation[0]", axis: z, origin: "1.9 nm"}
          lower: "-0.1 nm"
          upper: "0.1 nm"
          k: "5000 kJ/mol/nm**2"
      stages:
        - {type: minimize}
        - {type: nvt, duration: "20 ps"}
        - {type: production, duration: "200 ps"}
      sample_interval: "0.1 ps"

CV values and force constants are read in the CV's unit: nm for ``position``/``distance``
(write ``"0.8 nm"``; k in ``kJ/mol/nm**2``, speeds in ``nm/ns``), a pure number for
``coordination`` (k in ``kJ/mol``, speeds in ``1/ns``).

``cv:`` accepts every CV type registered with
:func:`predesolv.config.cvtypes.register_cv_type` (built-in: ``position``, ``distance``,
``coordination``, one module each: :mod:`predesolv.config.cv_position`, ...).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from predesolv.config.base import INT_MAX, Int, StrictModel
from predesolv.config.cluster import ClusterConfig

# the built-in CV types register themselves on import (one module each)
from predesolv.config.cv_coordination import CoordinationCVSpec
from predesolv.config.cv_distance import DistanceCVSpec
from predesolv.config.cv_position import PositionCVSpec
from predesolv.config.cvtypes import CVSpec, GroupSpecField, Value
from predesolv.config.simulation import Stage
from predesolv.config.units import QuantityField

Time = Annotated[Any, QuantityField("ps", gt=0)]


class WallConfig(StrictModel):
    """A flat-bottom restraint ``k/2 [max(0, cv - upper)^2 + max(0, lower - cv)^2]``."""

    cv: CVSpec
    lower: Value | None = None
    upper: Value | None = None
    k: Value

    @model_validator(mode="after")
    def _bounds(self) -> WallConfig:
        lo = None if self.lower is None else self.cv.value(self.lower, "lower")
        hi = None if self.upper is None else self.cv.value(self.upper, "upper")
        if lo is None and hi is None:
            raise ValueError("give 'lower', 'upper' or both")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"lower ({self.lower}) must not exceed upper ({self.upper})")
        if not self.cv.force_constant(self.k, "k") > 0:
            raise ValueError(f"k must be > 0, got {self.k!r}")
        return self

    def bounds(self) -> tuple[float | None, float | None]:
        """(lower, upper) in the CV unit (None: no wall on that side)."""
        return (None if self.lower is None else self.cv.value(self.lower, "lower"),
                None if self.upper is None else self.cv.value(self.upper, "upper"))


class PullSpec(StrictModel):
    """How a steered restraint centre moves (inside a run's ``bias`` block)."""

    target: Value
    rate: Value = Field(..., description="speed of the centre, e.g. '1 nm/ns'")
    update_interval: Annotated[Int, Field(ge=1, le=10000)] = Field(
        10, description="steps between moves of the centre (work is exact for this schedule)")


class BiasTerm(StrictModel):
    """A second harmonic term of a bias, on its own CV (two-CV umbrella windows)."""

    cv: CVSpec
    center: Value
    k: Value

    @model_validator(mode="after")
    def _values(self) -> BiasTerm:
        self.cv.value(self.center, "center")
        if not self.cv.force_constant(self.k, "k") > 0:
            raise ValueError(f"k must be > 0, got {self.k!r}")
        return self

    @property
    def center_value(self) -> float:
        return self.cv.value(self.center, "center")

    @property
    def k_value(self) -> float:
        return self.cv.force_constant(self.k, "k")


class BiasConfig(BiasTerm):
    """The restraints of one run (an umbrella window or a pull): a harmonic bias on ``cv``
    at ``center`` with force constant ``k`` (checked as a :class:`BiasTerm`), flat-bottom
    ``walls`` and an optional ``pull`` (the centre moves from ``center`` towards
    ``pull.target`` during the last stage)."""

    walls: list[WallConfig] = Field(default_factory=list)
    pull: PullSpec | None = None
    cv2: BiasTerm | None = Field(
        None, description="a second harmonic term on another CV (two-CV umbrella windows)")

    @model_validator(mode="after")
    def _pull_values(self) -> BiasConfig:
        if self.pull is not None:
            self.cv.value(self.pull.target, "pull.target")
            if not self.cv.rate(self.pull.rate, "pull.rate") > 0:
                raise ValueError(f"pull.rate must be > 0, got {self.pull.rate!r}")
        return self


class PullConfig(StrictModel):
    """Steered pull before the windows: a harmonic restraint on ``cv`` whose centre moves at
    ``speed`` from the CV's starting value to ``target`` (``pull.csv``: CV, centre, work)."""

    cv: CVSpec
    k: Value
    target: Value
    speed: Value
    walls: list[WallConfig] = Field(default_factory=list)
    equilibration: Time | None = Field(
        "10 ps", description="NVT at the starting centre before the centre moves")
    update_interval: Annotated[Int, Field(ge=1, le=10000)] = 10

    @model_validator(mode="after")
    def _values(self) -> PullConfig:
        self.cv.value(self.target, "target")
        if not self.cv.force_constant(self.k, "k") > 0:
            raise ValueError(f"k must be > 0, got {self.k!r}")
        if not self.cv.rate(self.speed, "speed") > 0:
            raise ValueError(f"speed must be > 0, got {self.speed!r}")
        return self


class WindowRange(StrictModel):
    """Evenly spaced window centres from ``start`` to ``stop`` (both included)."""

    start: Value
    stop: Value
    count: Annotated[Int, Field(ge=2, le=1000)]


class WindowList(StrictModel):
    """Explicit window centres."""

    values: Annotated[list[Value], Field(min_length=2, max_length=1000)]


def _centers(cv: Any, windows: WindowRange | WindowList, field: str) -> list[float]:
    """Window centres in the CV unit, in window order."""
    if isinstance(windows, WindowList):
        return [cv.value(v, f"{field}.values[{i}]") for i, v in enumerate(windows.values)]
    a = cv.value(windows.start, f"{field}.start")
    b = cv.value(windows.stop, f"{field}.stop")
    if a == b:
        raise ValueError(f"{field}: start and stop are equal")
    return [a + (b - a) * i / (windows.count - 1) for i in range(windows.count)]


class SecondCV(StrictModel):
    """A second CV for a two-CV free-energy surface: the umbrella windows sit on the grid
    ``pmf.windows`` × ``cv2.windows`` (window ``w(i*n2 + j)`` at centre i of the first CV and
    j of the second), each with a harmonic term on both CVs."""

    cv: CVSpec
    windows: WindowRange | WindowList
    k: Value
    bins: Annotated[Int, Field(ge=5, le=1000)] | None = Field(
        None, description="histogram bins along this CV (default: pmf.estimator.bins)")

    @model_validator(mode="after")
    def _values(self) -> SecondCV:
        centres = self.centers()
        if len(set(centres)) != len(centres):
            raise ValueError("windows: two windows share a centre")
        if not self.k_value > 0:
            raise ValueError(f"k must be > 0, got {self.k!r}")
        return self

    def centers(self) -> list[float]:
        """Centres along this CV (its unit), in order."""
        return _centers(self.cv, self.windows, "windows")

    @property
    def k_value(self) -> float:
        """Force constant, kJ/mol per CV unit squared (the same in every window)."""
        return self.cv.force_constant(self.k, "k")


class EstimatorConfig(StrictModel):
    """MBAR through pymbar.FES: bins, bootstrap, decorrelation, reported barriers."""

    bins: Annotated[Int, Field(ge=5, le=10000)] = 50
    bootstraps: Annotated[Int, Field(ge=0, le=10000)] = 50
    decorrelate: bool = True
    detect_equilibration: bool = False
    seed: Annotated[Int, Field(ge=0, le=INT_MAX)] = 0
    min_effective_samples: Annotated[Int, Field(ge=2, le=100000)] = Field(
        10, description="fewest effectively uncorrelated samples per window (lowering it is "
        "reported as a warning; for demos only)")
    states: dict[str, tuple[Value, Value]] = Field(
        default_factory=dict, description="named CV ranges, e.g. {bulk: ['-0.8 nm', '-0.5 nm']}")
    ranges: dict[str, tuple[Value, Value]] = Field(
        default_factory=dict, description="ranges for min->max barriers")

    @model_validator(mode="after")
    def _bootstraps(self) -> EstimatorConfig:
        if self.bootstraps == 1:
            raise ValueError("bootstraps must be 0 (off) or >= 2 (50 or more recommended)")
        return self


class PMFConfig(StrictModel):
    """Umbrella sampling along ``cv``: each window is a run directory under
    ``<output.directory>/windows/`` with a harmonic bias at its centre."""

    cv: CVSpec
    windows: WindowRange | WindowList
    k: Value | Annotated[list[Value], Field(min_length=2)]
    walls: list[WallConfig] = Field(default_factory=list)
    stages: Annotated[list[Stage], Field(min_length=1)] = Field(
        ..., description="stages of every window (equilibrate, then production samples)")
    sample_interval: Time = Field("0.1 ps", description="time between CV samples")
    seed_from: Literal["auto", "pull", "start"] = Field(
        "auto", description="window start structures: the pull frame nearest each centre "
        "(pull; auto when a pull block exists) or the start run's final state (start)")
    estimator: EstimatorConfig = Field(default_factory=EstimatorConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    cv2: SecondCV | None = Field(
        None, description="second CV: windows on a grid, a two-CV free-energy surface")
    replicas: Annotated[Int, Field(ge=1, le=20)] = Field(
        1, description="independent repeats of start run, pull and windows with other seeds; "
        "the reported uncertainty includes their spread (2 or more for a verdict)")
    replica_pulls: Literal["inward", "alternate"] = Field(
        "inward", description="alternate: odd replicas start at the end of replica 0's pull "
        "and pull back to where it began (pulls in and out, a hysteresis check)")

    @model_validator(mode="after")
    def _values(self) -> PMFConfig:
        if self.cv2 is not None and isinstance(self.k, list):
            raise ValueError("k: with cv2 give one force constant per CV (pmf.k and "
                             "pmf.cv2.k), not a list per window")
        centres = self.centers()
        ks = self.force_constants()
        if len(ks) != len(centres):
            raise ValueError(f"k: {len(ks)} force constants for {len(centres)} windows")
        bad = [k for k in ks if not k > 0]
        if bad:
            raise ValueError(f"k: force constants must be > 0, got {bad[0]}")
        if len(set(centres)) != len(centres):
            raise ValueError("windows: two windows share a centre")
        for name, (lo, hi) in {**self.estimator.states, **self.estimator.ranges}.items():
            if self.cv.value(lo, f"estimator.{name}") >= self.cv.value(hi, f"estimator.{name}"):
                raise ValueError(f"estimator.{name}: low ({lo}) must be below high ({hi})")
        return self

    def centers(self) -> list[float]:
        """Centres along ``cv`` in the CV unit, in order (with ``cv2``: the grid's first
        axis)."""
        return _centers(self.cv, self.windows, "windows")

    def force_constants(self) -> list[float]:
        """Force constant of each window, kJ/mol per CV unit squared."""
        n = len(self.centers())
        if isinstance(self.k, list):
            return [self.cv.force_constant(k, f"k[{i}]") for i, k in enumerate(self.k)]
        return [self.cv.force_constant(self.k, "k")] * n


__all__ = ["BiasConfig", "BiasTerm", "CVSpec", "CoordinationCVSpec", "DistanceCVSpec",
           "EstimatorConfig", "GroupSpecField", "PMFConfig", "PositionCVSpec", "PullConfig",
           "PullSpec", "SecondCV", "WallConfig", "WindowList", "WindowRange"]
