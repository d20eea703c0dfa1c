"""``simulation``, ``stages`` and ``output`` YAML blocks: how MD is run and what is written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, field_validator

from predesolv.config.base import INT_MAX, Int, StrictModel
from predesolv.config.units import QuantityField

Temperature = Annotated[Any, QuantityField("K", ge=1, le=5000)]
Time = Annotated[Any, QuantityField("ps", gt=0)]
Pressure = Annotated[Any, QuantityField("bar", gt=0)]

PlatformName = Literal["auto", "CUDA", "OpenCL", "HIP", "CPU", "Reference"]
BarostatKind = Literal["isotropic", "anisotropic", "x", "y", "z", "xy"]
#: Platform names the YAML and ``--platform`` accept (``auto``: the fastest usable one).
PLATFORM_NAMES: tuple[str, ...] = get_args(PlatformName)
#: Barostat kinds and the box axes each one scales.
BAROSTAT_AXES = {"isotropic": "xyz", "anisotropic": "xyz", "x": "x", "y": "y", "z": "z",
                 "xy": "xy"}
assert set(BAROSTAT_AXES) == set(get_args(BarostatKind))


def barostat_problem(kind: str, *, frozen: bool, fixed_axes: set[str],
                     fixed_box: bool) -> str | None:
    """Why barostat ``kind`` cannot act on a system, or None when it can (the one rule used
    by the config check and by the runner's preflight on the built system).

    Parameters
    ----------
    frozen : bool
        The system has frozen (mass 0) particles, e.g. a rigid electrode.
    fixed_axes : set of str
        Box axes the builder keeps fixed (``metadata.geometry.fixed_axes``).
    fixed_box : bool
        The system needs a fixed box (``metadata.requires.fixed_box``, constant potential).
    """
    nvt = "run this system NVT and equilibrate the electrolyte density in a bulk run"
    if fixed_box:
        return f"{kind!r}: this system needs a fixed box (constant potential); {nvt}"
    bad = set(BAROSTAT_AXES[kind]) & fixed_axes
    if bad and fixed_axes >= {"x", "y", "z"}:
        return f"{kind!r}: this system keeps every box axis fixed; {nvt}"
    if kind == "isotropic" and frozen:
        return (f"'isotropic' would rescale the frozen (mass 0) particles and so the electrode "
                f"geometry; {nvt}" + ("" if fixed_axes >= {"x", "y", "z"} else
                                      ", or use a barostat along the free axes"))
    if bad:
        free = "".join(a for a in "xyz" if a not in fixed_axes)
        return (f"{kind!r} would scale axis {''.join(sorted(bad))}, which this system keeps "
                f"fixed; use barostat {free!r} or nvt")
    return None


class SimulationConfig(StrictModel):
    """Thermodynamic state, integrator and platform.

    ``precision`` left unset means the platform's own default (mixed on GPUs; CPU has its
    fixed single/mixed model, Reference is double). ``seed`` left unset is drawn at random
    and recorded in the run directory's resolved ``config.yaml``.
    """

    platform: PlatformName = Field(
        "auto", description="OpenMM platform; 'auto' picks the fastest usable one"
    )
    precision: Literal["single", "mixed", "double"] | None = Field(
        None, description="Floating-point precision (GPU platforms); unset = platform default"
    )
    device_index: Annotated[str, Field(pattern=r"^\d+(,\d+)*$")] | None = Field(
        None, description="GPU device index, e.g. '0' or '0,1' (CUDA/OpenCL/HIP only)"
    )
    cpu_threads: Annotated[Int, Field(ge=1, le=1024)] | None = Field(
        None, description="Threads for the CPU platform (unset: OpenMM's default)"
    )
    temperature: Temperature = Field(..., description="Thermostat temperature, e.g. '300 K'")
    friction: Annotated[Any, QuantityField("/ps", gt=0)] = Field(
        "1 /ps", description="Langevin friction coefficient"
    )
    timestep: Annotated[Any, QuantityField("fs", ge=0.01, le=5)] = Field(
        ..., description="Integration time step, e.g. '2 fs' (4 fs needs hydrogen_mass)"
    )
    hydrogen_mass: Annotated[Any, QuantityField("amu", gt=1.0, le=5.0)] | None = Field(
        None, description="Hydrogen mass repartitioning target, e.g. '3 amu' (unset: off)"
    )
    pressure: Pressure = Field("1 bar", description="Barostat pressure for npt stages")
    seed: Annotated[Int, Field(ge=0, le=INT_MAX)] | None = Field(
        None, description="Random seed for velocities and the Langevin noise"
    )



class _Stage(StrictModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] | None = Field(
        None, description="Stage label used in state.csv (default: the type plus index)"
    )

    @property
    def barostat_kind(self) -> str | None:
        """The barostat this stage runs with, or None at constant volume."""
        return None


class MinimizeStage(_Stage):
    """Local energy minimisation (L-BFGS)."""

    type: Literal["minimize"]
    tolerance: Annotated[Any, QuantityField("kJ/mol/nm", gt=0)] = Field(
        "10 kJ/mol/nm", description="RMS force at which minimisation stops"
    )
    max_iterations: Annotated[Int, Field(ge=0, le=INT_MAX)] = Field(
        0, description="Iteration cap (0 = until converged)"
    )


class NVTStage(_Stage):
    """Constant-volume Langevin MD."""

    type: Literal["nvt"]
    duration: Time = Field(..., description="Simulated time, e.g. '10 ps'")


class NPTStage(_Stage):
    """Langevin MD with a Monte Carlo barostat."""

    type: Literal["npt"]
    duration: Time = Field(..., description="Simulated time, e.g. '50 ps'")
    barostat: BarostatKind = Field(
        "isotropic",
        description="isotropic (bulk only); anisotropic/x/y/z/xy scale only those axes",
    )
    pressure: Pressure | None = Field(None, description="Overrides simulation.pressure")
    frequency: Annotated[Int, Field(ge=1, le=10000)] = Field(
        25, description="Monte Carlo barostat attempt interval (steps)"
    )

    @property
    def barostat_kind(self) -> str | None:
        return self.barostat


class ProductionStage(_Stage):
    """Production MD: the only stage that writes the trajectory."""

    type: Literal["production"]
    duration: Time = Field(..., description="Simulated time, e.g. '1 ns'")
    ensemble: Literal["nvt", "npt"] = Field("nvt", description="nvt or npt")
    barostat: BarostatKind = Field("isotropic", description="Used when ensemble is npt")
    pressure: Pressure | None = Field(None, description="Overrides simulation.pressure")
    frequency: Annotated[Int, Field(ge=1, le=10000)] = Field(25, description="Barostat interval")

    @property
    def barostat_kind(self) -> str | None:
        return self.barostat if self.ensemble == "npt" else None


Stage = Annotated[
    MinimizeStage | NVTStage | NPTStage | ProductionStage, Field(discriminator="type")
]
STAGE_TYPES = ("minimize", "nvt", "npt", "production")


class TrajectoryOutput(StrictModel):
    """Trajectory file written during the production stage."""

    format: Literal["dcd", "xtc"] = Field("dcd", description="dcd (default) or xtc")
    interval: Time = Field("1 ps", description="Simulated time between frames")


class OutputConfig(StrictModel):
    """Where and how often the runner writes."""

    directory: Annotated[str, Field(min_length=1)] = Field(
        ..., description="Run directory (relative paths are relative to the working directory)"
    )
    trajectory: TrajectoryOutput = Field(default_factory=TrajectoryOutput)
    state_interval: Time = Field("1 ps", description="Simulated time between state.csv rows")
    checkpoint_interval: Time = Field("10 ps", description="Simulated time between checkpoints")
    progress: Literal["auto", "on", "off"] = Field(
        "auto", description="Progress bar on stderr; auto = only when stderr is a terminal"
    )

    @field_validator("directory")
    @classmethod
    def _usable_directory(cls, v: str) -> str:
        return usable_directory(v)


def usable_directory(text: str) -> str:
    """``text`` as an absolute folder path (``~`` expanded) a run can be written to.

    Raises
    ------
    ValueError
        A NUL byte, a name longer than the file system allows, a path under /proc, /sys or
        /dev, a parent that is a regular file, or a parent the user cannot write to.
    """
    if "\x00" in text:
        raise ValueError("contains a NUL byte")
    path = Path(os.path.expanduser(text)).absolute()
    if any(len(part.encode()) > 255 for part in path.parts):
        raise ValueError("has a path component longer than 255 bytes")
    if path.parts[1:2] and path.parts[1] in ("proc", "sys", "dev"):
        raise ValueError(f"is under /{path.parts[1]} (a kernel file system); choose a folder "
                         f"on a disk")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"cannot be created: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"cannot be written: no write permission in {probe}")
    return str(path)
