"""CV type ``coordination``: smooth coordination number (dimensionless) of one cation with a
partner kind (:class:`predesolv.freeenergy.coordination.CoordinationCV`, summed over kinds
for ``partner: solvent``); spec and resolver, registered with
:func:`predesolv.config.cvtypes.register_cv_type`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from openmm import unit
from pydantic import Field, model_validator

from predesolv.config.base import Int
from predesolv.config.cvtypes import (
    CVSpecBase,
    GroupSpecField,
    ResolvedCV,
    refuse_frozen,
    register_cv_type,
)
from predesolv.config.units import QuantityField
from predesolv.errors import ConfigError
from predesolv.freeenergy.coordination import CoordinationCV
from predesolv.freeenergy.definitions import coordination_cvs
from predesolv.freeenergy.groups import resolve_group


class CoordinationCVSpec(CVSpecBase):
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
    d_max: Annotated[Any, QuantityField("nm", gt=0.05, le=5.0)] | None = Field(
        None, description="cutoff of the switch, stretched to 0 there (PLUMED's D_MAX; "
        "default 3 r0); must be below half the shortest box edge")

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


def resolve_coordination(spec: CoordinationCVSpec, built: Any, field: str,
                         r0_nm: dict[str, float] | None = None) -> ResolvedCV:
    """The coordination CV (dimensionless) on ``built``; column ``cn``.

    ``r0`` (nm) is the spec's, else ``r0_nm[kind]`` (the RDF-based default by kind).

    Raises
    ------
    ConfigError
        Not exactly one cation, a frozen cation, a selection partner without ``r0``, no
        ``r0`` and no default, a partner that is not a coordinating kind of the system.
    """
    md, top = built.metadata, built.topology
    cation = resolve_group(spec.cation, md, top, field=f"{field}.cation")
    if len(cation) != 1:
        raise ConfigError(f"{field}.cation: {spec.cation!r} names {len(cation)} atoms; a "
                          f"coordination CV needs one cation (e.g. 'cation[0]')")
    given = None if spec.r0 is None else float(spec.r0.value_in_unit(unit.nanometer))
    d_max = None if spec.d_max is None else float(spec.d_max.value_in_unit(unit.nanometer))
    if spec.partner.strip().startswith("sel:"):
        partners = resolve_group(spec.partner, md, top, field=f"{field}.partner")
        if given is None:
            raise ConfigError("a selection partner needs an explicit r0 (e.g. '0.32 nm')",
                              f"{field}.r0")
        cv: Any = CoordinationCV(cation[0], partners, given, n=spec.n, m=spec.m,
                                 d_max_nm=d_max)
    else:
        r0: float | dict[str, float] | None = given if given is not None else r0_nm
        if r0 is None:
            raise ConfigError(
                "not given, and no RDF to take its first minimum from; give r0 "
                "(e.g. '0.32 nm') or end the top-level stages with a production stage (its "
                "trajectory gives the RDF)", f"{field}.r0")
        cvs = coordination_cvs(cation, md, r0, top, n=spec.n, m=spec.m, d_max_nm=d_max,
                               field=field)
        if spec.partner not in cvs:
            raise ConfigError(f"{spec.partner!r} is not a coordinating kind of "
                              f"this system; choose one of {sorted(cvs)} or 'sel:<selection>'",
                              f"{field}.partner")
        cv = cvs[spec.partner]
    refuse_frozen(built.system, cation[:1], field)  # its partners may be frozen
    return ResolvedCV(cv, spec.unit, "cn", tuple(cation))


register_cv_type("coordination", CoordinationCVSpec, resolve_coordination)
