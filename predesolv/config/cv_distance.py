"""CV type ``distance``: minimum-image distance (nm) between the centres of mass of two
groups (:class:`predesolv.freeenergy.cv.DistanceCV`); spec and resolver, registered with
:func:`predesolv.config.cvtypes.register_cv_type`."""

from __future__ import annotations

from typing import Any, Literal

from predesolv.config.cvtypes import (
    CVSpecBase,
    GroupSpecField,
    ResolvedCV,
    mass_weights,
    register_cv_type,
)
from predesolv.freeenergy.cv import DistanceCV, check_distance_groups
from predesolv.freeenergy.groups import element_masses, resolve_group


class DistanceCVSpec(CVSpecBase):
    """Minimum-image distance between the centres of mass of two groups."""

    type: Literal["distance"]
    group_a: GroupSpecField
    group_b: GroupSpecField

    @property
    def column(self) -> str:
        return "d_nm"


def resolve_distance(spec: DistanceCVSpec, built: Any, field: str,
                     r0_nm: dict[str, float] | None = None) -> ResolvedCV:
    """A :class:`~predesolv.freeenergy.cv.DistanceCV` (nm) on ``built``; column ``d_nm``.

    Raises
    ------
    ConfigError
        Unknown group, or groups :func:`~predesolv.freeenergy.cv.check_distance_groups`
        refuses (overlapping, wholly frozen on both sides).
    """
    md, top = built.metadata, built.topology
    masses = element_masses(top)
    a = resolve_group(spec.group_a, md, top, field=f"{field}.group_a")
    b = resolve_group(spec.group_b, md, top, field=f"{field}.group_b")
    cv = DistanceCV(a, b, mass_weights(a, masses), mass_weights(b, masses))
    check_distance_groups(built.system, a, b, field)
    return ResolvedCV(cv, spec.unit, "d_nm", tuple(a) + tuple(b))


register_cv_type("distance", DistanceCVSpec, resolve_distance)
