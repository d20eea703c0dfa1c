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
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from openmm import unit
from pydantic import Field, model_validator

from predesolv.config.base import INT_MAX, Int, StrictModel
from predesolv.config.cluster import ClusterConfig
from predesolv.config.simulation import Stage
from predesolv.config.units import QuantityField, parse_quantity

GroupSpecField = Annotated[str, Field(min_length=1)] | Annotated[list[Int], Field(min_length=1)]
Value = float | str
Time = Annotated[Any, QuantityField("ps", gt=0)]


class _CVSpec(StrictModel):
    @property
    def unit(self) -> str:
        """Unit of the CV value: ``"nm"``, or ``""`` for a dimensionless CV."""
        return "nm"

    @property
    def column(self) -> str:
        """Column name of the CV in tables (``x_nm``, ``d_nm``, ``cn``)."""
        raise NotImplementedError

    def value(self, raw: Value, field: str) -> float:
        """``raw`` (``"0.8 nm"`` or a number for a dimensionless CV) in the CV unit."""
        return _in_unit(raw, self.unit, field)

    def force_constant(self, raw: Value, field: str) -> float:
        """A force constant in kJ/mol per CV unit squared."""
        expected = "kJ/mol/nm**2" if self.unit else "kJ/mol"
        return _in_unit(raw, expected, field)

    def rate(self, raw: Value, field: str) -> float:
        """A pulling speed in CV unit per ps."""
        expected = "nm/ps" if self.unit else "1/ps"
        return _in_unit(raw, expected, field)


def _in_unit(raw: Value, expected: str, field: str) -> float:
    try:
        q = parse_quantity(raw, expected)
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None
    if isinstance(q, unit.Quantity):
        from predesolv.config.units import parse_unit

        return float(q.value_in_unit(parse_unit(expected)))
    return float(q)


class PositionCVSpec(_CVSpec):
    """Centre of mass of a group along one axis, from an origin (default: the cell's mouth,
    ``geometry.insertion`` in metadata.json: axis, origin and inward direction)."""

    type: Literal["position"]
    group: GroupSpecField = Field("cation[0]", description="group spec: 'cation[0]', "
                                  "'solvent:DME#3', 'sel:<MDAnalysis selection>' or indices")
    axis: Literal["x", "y", "z"] | None = Field(None, description="default: insertion axis")
    origin: Annotated[Any, QuantityField("nm", ge=-1000, le=1000)] | None = Field(
        None, description="absolute coordinate of the zero (default: the mouth)")
    direction: Literal[1, -1] | None = Field(None, description="+1 or -1 (default: inward)")

    @property
    def column(self) -> str:
        # the insertion axis of predesolv cells is x
        return f"{self.axis or 'x'}_nm"


class DistanceCVSpec(_CVSpec):
    """Minimum-image distance between the centres of mass of two groups."""

    type: Literal["distance"]
    group_a: GroupSpecField
    group_b: GroupSpecField

    @property
    def column(self) -> str:
        return "d_nm"


class CoordinationCVSpec(_CVSpec):
    """Smooth coordination number of one cation with a partner kind (PLUMED's rational
    switch ``(1 - (r/r0)^n) / (1 - (r/r0)^m)``)."""

    type: Literal["coordination"]
    cation: GroupSpecField = "cation[0]"
    partner: Annotated[str, Field(min_length=1)] = Field(
        "solvent", description="a kind ('DME', 'EC', 'PF6'), 'solvent' (sum over solvents) "
        "or a group spec 'sel:<MDAnalysis selection>'")
    r0: Annotated[Any, QuantityField("nm", gt=0.05, le=2.0)] | None = Field(
        None, description="switching length (default: first minimum of the Na-O RDF of the "
        "start run's trajectory)")
    n: Annotated[Int, Field(ge=1, le=64)] = 6
    m: Annotated[Int, Field(ge=2, le=128)] = 12

    @property
    def unit(self) -> str:
        return ""

    @property
    def column(self) -> str:
        return "cn"

    @model_validator(mode="after")
    def _nm(self) -> CoordinationCVSpec:
        if self.m <= self.n:
            raise ValueError(f"m ({self.m}) must be larger than n ({self.n})")
        return self


CVSpec = Annotated[PositionCVSpec | DistanceCVSpec | CoordinationCVSpec,
                   Field(discriminator="type")]


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


class BiasConfig(StrictModel):
    """The restraints of one run (an umbrella window or a pull): a harmonic bias on ``cv``
    at ``center`` with force constant ``k``, flat-bottom ``walls`` and an optional ``pull``
    (the centre moves from ``center`` towards ``pull.target`` during the last stage)."""

    cv: CVSpec
    center: Value
    k: Value
    walls: list[WallConfig] = Field(default_factory=list)
    pull: PullSpec | None = None

    @model_validator(mode="after")
    def _values(self) -> BiasConfig:
        self.cv.value(self.center, "center")
        if not self.cv.force_constant(self.k, "k") > 0:
            raise ValueError(f"k must be > 0, got {self.k!r}")
        if self.pull is not None:
            self.cv.value(self.pull.target, "pull.target")
            if not self.cv.rate(self.pull.rate, "pull.rate") > 0:
                raise ValueError(f"pull.rate must be > 0, got {self.pull.rate!r}")
        return self

    @property
    def center_value(self) -> float:
        return self.cv.value(self.center, "center")

    @property
    def k_value(self) -> float:
        return self.cv.force_constant(self.k, "k")


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

    @model_validator(mode="after")
    def _values(self) -> PMFConfig:
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
        """Window centres in the CV unit, in window order."""
        w = self.windows
        if isinstance(w, WindowList):
            return [self.cv.value(v, f"windows.values[{i}]") for i, v in enumerate(w.values)]
        a, b = self.cv.value(w.start, "windows.start"), self.cv.value(w.stop, "windows.stop")
        if a == b:
            raise ValueError("windows: start and stop are equal")
        return [a + (b - a) * i / (w.count - 1) for i in range(w.count)]

    def force_constants(self) -> list[float]:
        """Force constant of each window, kJ/mol per CV unit squared."""
        n = len(self.centers())
        if isinstance(self.k, list):
            return [self.cv.force_constant(k, f"k[{i}]") for i, k in enumerate(self.k)]
        return [self.cv.force_constant(self.k, "k")] * n
