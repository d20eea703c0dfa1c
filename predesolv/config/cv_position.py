"""CV type ``position``: centre of mass of a group along one axis, from an origin.

Spec (YAML), resolver and start-structure check of one CV type, registered with
:func:`predesolv.config.cvtypes.register_cv_type`. The CV object is
:class:`predesolv.freeenergy.cv.PositionCV` (nm).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from openmm import unit
from pydantic import Field

from predesolv.config.cvtypes import (
    CVSpecBase,
    GroupSpecField,
    ResolvedCV,
    mass_weights,
    refuse_frozen,
    register_cv_type,
)
from predesolv.config.units import QuantityField
from predesolv.errors import ConfigError
from predesolv.freeenergy.cv import AXES, WRAP_EPS_NM
from predesolv.freeenergy.definitions import position_cv
from predesolv.freeenergy.groups import element_masses, resolve_group


class PositionCVSpec(CVSpecBase):
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


def slit_midplane_nm(metadata: Any, axis: str, field: str) -> float:
    """Mid-plane (nm) of the first slit (or orifice) segment across it (default origin of a
    position CV along the stacking axis: 0 on the mid-plane).

    Raises
    ------
    ConfigError
        No slit segment across ``axis`` (only z is a stacking axis).
    """
    segs = (metadata.geometry.extra.get("segments") if metadata.geometry else None) or []
    for seg in segs:
        z = seg.get("z_nm") if isinstance(seg, dict) else None
        if axis == "z" and z and len(z) == 2:
            return 0.5 * (float(z[0]) + float(z[1]))
    raise ConfigError(f"{field}.origin: no default origin along {axis} for this system (the "
                      f"default is the slit mid-plane, along z); give origin, e.g. '1.2 nm'",
                      f"{field}.origin")


def resolve_position(spec: PositionCVSpec, built: Any, field: str,
                     r0_nm: dict[str, float] | None = None) -> ResolvedCV:
    """A :class:`~predesolv.freeenergy.cv.PositionCV` (nm) on ``built``; column ``<axis>_nm``.

    Raises
    ------
    ConfigError
        Unknown group, frozen atoms, no axis/origin default on this system.
    """
    md, top = built.metadata, built.topology
    atoms = resolve_group(spec.group, md, top, field=f"{field}.group")
    origin = None if spec.origin is None else spec.origin.value_in_unit(unit.nanometer)
    ins = md.geometry.insertion if md.geometry is not None else None
    if origin is None and spec.axis is not None and ins is not None and spec.axis != ins.axis:
        origin = slit_midplane_nm(md, spec.axis, field)
    cv = position_cv(atoms, md, top, axis=spec.axis, direction=spec.direction,
                     origin_nm=origin, weights=mass_weights(atoms, element_masses(top)),
                     field=field)
    refuse_frozen(built.system, atoms, field)
    return ResolvedCV(cv, spec.unit, f"{cv.axis}_nm", tuple(atoms))


def refuse_start_near_cut(spec: PositionCVSpec, built: Any, positions_nm: Any,
                          field: str) -> None:
    """Refuse a start where the group sits within ``WRAP_EPS_NM`` of the periodic cut half a
    box from the CV's centre (positions in nm; see ``bias.refuse_start_at_cut``).

    Raises
    ------
    ConfigError
        Naming the field, the group's distance (nm) from the CV's centre and the cut.
    """
    cv = resolve_position(spec, built, field).cv
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


register_cv_type("position", PositionCVSpec, resolve_position, check_start=refuse_start_near_cut)
