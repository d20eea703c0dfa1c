"""Regions and the insertion coordinate described by the metadata geometry.

The builder states, in nm, an insertion axis with an origin (the slit mouth) and a direction,
and an ordered list of named boxes (regions). An atom belongs to the first region whose bounds
contain it; an atom in none is ``"bulk"``. Positions handed to :class:`Geometry` are in Å
(MDAnalysis); they are wrapped into the primary cell ``[0, L)`` along each axis before the
comparison, so wrapped and unwrapped trajectories give the same labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from predesolv.errors import AnalysisError
from predesolv.metadata import Metadata, MetadataError

from .units import angstrom_to_nm, nm_to_angstrom

AXES = {"x": 0, "y": 1, "z": 2}


def as_metadata(metadata: Metadata | Mapping[str, Any]) -> Metadata:
    """Typed metadata from a :class:`~predesolv.metadata.Metadata` or a ``metadata.json``
    dict (checked; a wrong shape raises :class:`AnalysisError` naming the key)."""
    if isinstance(metadata, Metadata):
        return metadata
    try:
        return Metadata.from_dict(metadata, "metadata.json")
    except MetadataError as exc:
        raise AnalysisError(str(exc)) from None
BULK = "bulk"


@dataclass(frozen=True)
class Region:
    """A named axis-aligned box.

    Attributes
    ----------
    name : str
        Region label (``"inside"``, ``"mouth"``, ...).
    bounds_nm : dict of str to (float, float)
        Axis name (``"x"``, ``"y"``, ``"z"``) to ``[low, high)`` in nm. Axes not named are
        unbounded.
    """

    name: str
    bounds_nm: Mapping[str, tuple[float, float]]

    def contains(self, pos_A: np.ndarray) -> np.ndarray:
        """Boolean mask, shape ``(n,)``, of the positions (Å, shape ``(n, 3)``) inside."""
        mask = np.ones(len(pos_A), dtype=bool)
        for ax, (lo, hi) in self.bounds_nm.items():
            c = pos_A[:, AXES[ax]]
            mask &= (c >= nm_to_angstrom(lo)) & (c < nm_to_angstrom(hi))
        return mask


@dataclass(frozen=True)
class Geometry:
    """Insertion axis and regions of an electrode cell.

    Parameters
    ----------
    regions : sequence of Region
        Ordered; first match wins. ``"bulk"`` is appended implicitly as the fallback.
    axis : {"x", "y", "z"} or None
        Insertion axis; ``None`` when the system has no mouth (bulk box).
    origin_nm : float
        Position of the mouth along ``axis`` (nm).
    direction : {+1, -1}
        Sign such that ``direction * (coord - origin)`` is positive inside the pore.
    """

    regions: Sequence[Region] = field(default_factory=tuple)
    axis: str | None = None
    origin_nm: float = 0.0
    direction: int = 1

    def __post_init__(self) -> None:
        if self.axis is not None and self.axis not in AXES:
            raise AnalysisError(f"geometry.insertion.axis must be x, y or z, got {self.axis!r}")
        if self.direction not in (1, -1):
            raise AnalysisError(
                f"geometry.insertion.direction must be +1 or -1, got {self.direction!r}"
            )
        for r in self.regions:
            if r.name == BULK:
                raise AnalysisError("region name 'bulk' is reserved for the fallback region")
            for ax, b in r.bounds_nm.items():
                if ax not in AXES or len(b) != 2 or not b[0] < b[1]:
                    raise AnalysisError(
                        f"region {r.name!r}: bounds_nm[{ax!r}] must be [low, high] with "
                        f"low < high on axis x|y|z, got {b!r}"
                    )

    @property
    def region_names(self) -> list[str]:
        """Distinct region labels in first-appearance order, then ``"bulk"``.

        Index ``i`` is the code returned by :meth:`assign`. Several boxes may share a name
        (e.g. one ``"inside"`` per segment of a stagewise pore); they get one code.
        """
        return list(dict.fromkeys(r.name for r in self.regions)) + [BULK]

    @property
    def has_insertion(self) -> bool:
        """Whether an insertion coordinate is defined."""
        return self.axis is not None

    @classmethod
    def from_metadata(cls, metadata: Metadata | Mapping[str, Any]) -> Geometry:
        """Build from typed metadata (or a ``metadata.json`` dict); no geometry means all
        bulk.

        Raises
        ------
        AnalysisError
            The geometry section has the wrong shape (the message names the key).
        """
        md = as_metadata(metadata)
        geo = md.geometry
        if geo is None:
            return cls()
        regions = tuple(Region(r.name, dict(r.bounds_nm)) for r in geo.regions)
        ins = geo.insertion
        if ins is None:
            return cls(regions=regions)
        return cls(regions=regions, axis=ins.axis, origin_nm=ins.origin_nm,
                   direction=ins.direction)

    @staticmethod
    def wrap(pos_A: np.ndarray, box: np.ndarray | None) -> np.ndarray:
        """Wrap positions (Å, ``(..., 3)``) into ``[0, L)`` of an orthorhombic box.

        ``box`` is MDAnalysis ``dimensions`` ``[lx, ly, lz, alpha, beta, gamma]`` (Å, degrees),
        or an array of them broadcastable against ``pos_A`` (e.g. ``(n_frames, 1, 6)`` for
        positions ``(n_frames, n, 3)``); ``None`` or a zero-length edge leaves that axis
        unwrapped.
        """
        out = np.array(pos_A, dtype=float, copy=True)
        if box is None:
            return out
        lengths = np.asarray(box, dtype=float)[..., :3]
        ok = lengths > 0
        safe = np.where(ok, lengths, 1.0)
        return np.where(ok, np.mod(out, safe), out)

    def assign(self, pos_A: np.ndarray, box: np.ndarray | None = None) -> np.ndarray:
        """Region code of each position.

        Parameters
        ----------
        pos_A : ndarray, shape (n, 3)
            Positions in Å.
        box : ndarray, shape (6,), optional
            MDAnalysis box used to wrap positions first.

        Returns
        -------
        ndarray of int, shape (n,)
            Index into :attr:`region_names` (the last one is bulk).
        """
        pos = self.wrap(np.asarray(pos_A, dtype=float).reshape(-1, 3), box)
        names = self.region_names
        codes = np.full(len(pos), len(names) - 1, dtype=np.int16)
        free = np.ones(len(pos), dtype=bool)
        for r in self.regions:
            hit = free & r.contains(pos)
            codes[hit] = names.index(r.name)
            free &= ~hit
        return codes

    def insertion_extent_nm(self, name: str) -> tuple[float, float] | None:
        """Range of the insertion coordinate (nm) covered by the regions called ``name``.

        None when there is no insertion axis or no such region bounded along it (e.g. the
        slit interior, ``"inside"``, gives ``(0, slit length)``).
        """
        if self.axis is None:
            return None
        ends = [self.direction * (b - self.origin_nm) for r in self.regions
                if r.name == name and self.axis in r.bounds_nm for b in r.bounds_nm[self.axis]]
        return (float(min(ends)), float(max(ends))) if ends else None

    def insertion_coordinate(self, pos_A: np.ndarray, box: np.ndarray | None = None) -> np.ndarray:
        """Signed distance from the mouth along the insertion axis, in nm (positive inside).

        Parameters
        ----------
        pos_A : ndarray, shape (n, 3)
            Positions in Å (wrapped into the box first when ``box`` is given).
        box : ndarray, shape (6,), optional

        Returns
        -------
        ndarray of float, shape (n,)
            ``direction * (coord - origin)`` in nm; NaN everywhere if no insertion axis.
        """
        pos = self.wrap(np.asarray(pos_A, dtype=float).reshape(-1, 3), box)
        if self.axis is None:
            return np.full(len(pos), np.nan)
        return self.direction * (angstrom_to_nm(pos[:, AXES[self.axis]]) - self.origin_nm)
