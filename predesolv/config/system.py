"""``system`` YAML block: where the System comes from (user files or predesolv builders)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from predesolv.config.base import INT_MAX, Int, StrictModel
from predesolv.config.electrode import ElectrodeConfig
from predesolv.config.electrolyte import ElectrolyteConfig
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.config.units import QuantityField


def _resolve_existing(value: str, info: ValidationInfo, what: str) -> str:
    base = Path((info.context or {}).get("base_dir", "."))
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise ValueError(f"{what} file {value!r} not found (looked for {path.resolve()})")
    return str(path.resolve())


class FilesSystem(StrictModel):
    """A user's own system: a serialized OpenMM System XML plus a PDB with the topology.

    Relative paths are relative to the directory of the YAML file.
    """

    system_xml: Annotated[str, Field(min_length=1)] = Field(
        ..., description="OpenMM System XML (XmlSerializer.serialize(system))"
    )
    pdb: Annotated[str, Field(min_length=1)] = Field(
        ..., description="PDB with topology, positions and CRYST1 box"
    )
    metadata: str | None = Field(
        None, description="Optional metadata.json (atom groups, geometry) for analysis"
    )

    @field_validator("system_xml", "pdb", "metadata")
    @classmethod
    def _exists(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        return _resolve_existing(v, info, info.field_name or "input")


def _one_sodium() -> list[Literal["Na"]]:
    return ["Na"]


class IonSlitConfig(StrictModel):
    """Rigid graphene walls (periodic in x and y) with only the named ions in the slit: no
    solvent, no counter-ions (bare-ion migration, 0 K scans). See ``systems/ion_slit.py``."""

    spacing: Annotated[Any, QuantityField("nm", ge=0.3, le=2.0)] = Field(
        ..., description="carbon plane to carbon plane across the slit")
    ions: Annotated[list[Literal["Na"]], Field(min_length=1, max_length=16)] = Field(
        default_factory=_one_sodium, description="ions on the mid-plane")
    stacking: Literal["AB", "AA"] = "AB"
    edge: Literal["zigzag", "armchair"] = Field(
        "zigzag", description="lattice orientation: the honeycomb direction along x")
    layers_per_wall: Annotated[Int, Field(ge=1, le=4)] = 1


class SystemConfig(StrictModel):
    """Exactly one source: ``from_files`` or ``electrolyte`` (optionally with ``electrode``)."""

    seed: Annotated[Int, Field(ge=0, le=INT_MAX)] | None = Field(
        None, description="Builder seed (packing, dopant placement); unset = random, recorded"
    )
    from_files: FilesSystem | None = None
    forcefield: ForceFieldConfig = Field(default_factory=ForceFieldConfig)
    electrolyte: ElectrolyteConfig | None = None
    electrode: ElectrodeConfig | None = None
    ion_slit: IonSlitConfig | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SystemConfig:
        if self.from_files is not None and (
            self.electrolyte is not None or self.electrode is not None
        ):
            raise ValueError(
                "give either from_files or electrolyte/electrode, not both"
            )
        if self.from_files is not None and self.forcefield != ForceFieldConfig():
            raise ValueError(
                "forcefield options apply to predesolv builders only; a from_files system "
                "is used as serialized (remove the forcefield block)"
            )
        if self.ion_slit is not None and (self.from_files is not None
                                          or self.electrolyte is not None):
            raise ValueError("ion_slit builds its own system: give it alone (no from_files, "
                             "electrolyte or electrode)")
        if self.from_files is None and self.electrolyte is None and self.ion_slit is None:
            raise ValueError(
                "no system given: add from_files {system_xml, pdb}, an electrolyte block or "
                "ion_slit"
            )
        if self.electrode is not None and self.electrolyte is None:
            raise ValueError("an electrode needs an electrolyte block to fill the cell")
        return self

    @property
    def has_electrode(self) -> bool:
        """True when the system contains a (rigid) carbon electrode."""
        return self.electrode is not None or self.ion_slit is not None
