"""YAML of ``predesolv barrier-scan``: a bare ion between rigid graphene walls at 0 K.

Example (the defaults; seed comparison: Ren et al., Nano-Micro Lett. 18:382 (2026), Fig. 4e)::

    barrier_scan:
      ion: Na
      spacings: ["0.40 nm", "0.45 nm", "0.50 nm", "0.55 nm"]
      stackings: [AA, AB]
      edge: zigzag          # lattice orientation (which honeycomb direction lies along x)
      layers_per_wall: 1
      grid: "0.005 nm"      # in-plane grid over one lattice cell
    forcefield: {nonbonded_cutoff: "1.0 nm"}
    output: {directory: runs/barrier_scan}
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from predesolv.config.base import Int, StrictModel
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.config.simulation import usable_directory
from predesolv.config.units import QuantityField

Spacing = Annotated[Any, QuantityField("nm", ge=0.3, le=2.0)]
StackingName = Literal["AA", "AB"]


def _both_stackings() -> list[StackingName]:
    return ["AA", "AB"]


class ScanSettings(StrictModel):
    """What is scanned."""

    ion: Literal["Na"] = Field("Na", description="the migrating ion")
    spacings: Annotated[list[Spacing], Field(min_length=1, max_length=50)] = Field(
        default_factory=lambda: ["0.40 nm", "0.45 nm", "0.50 nm", "0.55 nm"],
        description="interlayer spacings d (carbon plane to carbon plane)")
    stackings: Annotated[list[StackingName], Field(min_length=1, max_length=2)] = Field(
        default_factory=_both_stackings, description="AA, AB or both")
    edge: Literal["zigzag", "armchair"] = Field(
        "zigzag", description="lattice orientation: the honeycomb direction along x")
    layers_per_wall: Annotated[Int, Field(ge=1, le=4)] = 1
    grid: Annotated[Any, QuantityField("nm", ge=0.001, le=0.05)] = Field(
        "0.005 nm", description="in-plane grid spacing over one lattice cell")

    @field_validator("stackings")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("list each stacking once")
        return v


class ScanOutput(StrictModel):
    """Where the table goes."""

    directory: Annotated[str, Field(min_length=1)] = "runs/barrier_scan"

    @field_validator("directory")
    @classmethod
    def _usable(cls, v: str) -> str:
        return usable_directory(v)


class BarrierScanConfig(StrictModel):
    """A ``predesolv barrier-scan`` YAML file."""

    barrier_scan: ScanSettings = Field(default_factory=ScanSettings)
    forcefield: ForceFieldConfig = Field(default_factory=ForceFieldConfig)
    output: ScanOutput = Field(default_factory=ScanOutput)
