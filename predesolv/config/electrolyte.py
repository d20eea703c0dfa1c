"""``system.electrolyte`` YAML block (bulk electrolyte composition and packing).

Example (1 M NaPF6 in EC:DMC 1:1 by volume, 5.0 nm box)::

    electrolyte:
      salt: NaPF6                  # NaPF6 | NaClO4
      solvents: {EC: 0.5, DMC: 0.5}
      fraction_basis: volume       # volume | mole
      concentration: "1.0 M"       # OR n_salt: 20
      box_length: "5.0 nm"         # OR n_solvent: 300 (box from experimental density)
      temperature: "298 K"         # temperature of the experimental densities used
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from predesolv.config.base import Int, StrictModel
from predesolv.config.units import QuantityField

SALTS = ("NaPF6", "NaClO4")
SOLVENTS = ("DME", "EC", "DMC", "EMC")


class ElectrolyteConfig(StrictModel):
    """Bulk electrolyte: salt, solvent mixture, concentration and system size.

    Attributes
    ----------
    salt : str
        ``NaPF6`` or ``NaClO4``.
    solvents : dict of str to float
        Solvent name (``DME``, ``EC``, ``DMC``, ``EMC``) to fraction; fractions sum to 1.
    fraction_basis : {"volume", "mole"}
        Whether ``solvents`` gives volume fractions of the pure solvents or mole fractions.
    concentration : Quantity, optional
        Salt molarity (``"1.0 M"``) relative to the solution volume. Exclusive with
        ``n_salt``.
    n_salt : int, optional
        Number of ion pairs. Exclusive with ``concentration``.
    box_length : Quantity, optional
        Edge of the cubic box. Exclusive with ``n_solvent``.
    n_solvent : int, optional
        Total number of solvent molecules; the box follows from experimental densities.
    temperature : Quantity
        Temperature at which the experimental solvent densities are evaluated.
    packing_tolerance : Quantity
        Minimum distance between atoms of different molecules asked of the packer.
    anion_free : bool
        Pack the cations of ``n_salt`` / ``concentration`` without their anions (bulk boxes
        only): the box then carries a net charge, which PME offsets with a uniform
        neutralising background, as a periodic DFT cell with net charge does. For
        like-for-like comparisons with anion-free AIMD boxes (Na+ in DME).
    """

    salt: str = "NaPF6"
    solvents: dict[str, float] = Field(default_factory=lambda: {"DME": 1.0})
    fraction_basis: Literal["volume", "mole"] = "volume"
    concentration: Annotated[Any, QuantityField("M", ge=0)] | None = None
    n_salt: Annotated[Int, Field(ge=0, le=100_000)] | None = None
    box_length: Annotated[Any, QuantityField("nm", gt=0, le=100)] | None = None
    n_solvent: Annotated[Int, Field(ge=1, le=1_000_000)] | None = None
    temperature: Annotated[Any, QuantityField("K", gt=0)] = "298 K"
    packing_tolerance: Annotated[Any, QuantityField("nm", gt=0, le=0.3)] = "0.2 nm"
    anion_free: bool = False

    @field_validator("salt")
    @classmethod
    def _check_salt(cls, v: str) -> str:
        if v not in SALTS:
            raise ValueError(f"unknown salt {v!r}; allowed: {', '.join(SALTS)}")
        return v

    @field_validator("solvents")
    @classmethod
    def _check_solvents(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise ValueError(f"give at least one solvent, e.g. {{DME: 1.0}}; allowed: "
                             f"{', '.join(SOLVENTS)}")
        for name, frac in v.items():
            if name not in SOLVENTS:
                raise ValueError(f"unknown solvent {name!r}; allowed: {', '.join(SOLVENTS)}")
            if not frac >= 0:
                raise ValueError(f"fraction of {name} must be >= 0, got {frac}")
        total = sum(v.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"solvent fractions must sum to 1, got {total:g} ({v})")
        return v

    @model_validator(mode="after")
    def _check_exclusive(self) -> ElectrolyteConfig:
        if (self.concentration is None) == (self.n_salt is None):
            raise ValueError("give exactly one of 'concentration' (e.g. '1.0 M') or 'n_salt'")
        if (self.box_length is None) == (self.n_solvent is None):
            raise ValueError("give exactly one of 'box_length' (e.g. '5.0 nm') or "
                             "'n_solvent'")
        return self
