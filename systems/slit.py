"""Edge-on carbon electrodes: slits, stage-wise closed pores, flat (prismatic) surfaces.

All electrodes are stacks of graphene ribbons (:mod:`predesolv.systems.graphene`) lying in
xy planes, stacked along z, finite along x and periodic along y. The stack is periodic
along z too (the box z length is chosen so the sheets next to the periodic boundary are
``layer_spacing`` apart), so the electrolyte touches the carbon only at the edges facing x.

Electrode frame (returned by :func:`build_electrode_geometry`): the mouth (first carbon
column of the slit walls) is at x = 0 and the electrode extends to +x; z runs from 0 to
``box_z`` with the slit (or stage) mid-plane at ``box_z / 2``.

A *segment* is an x-interval with one slit spacing (``None``: plain graphite). Within a
segment the slit walls sit at ``z_c +/- d/2`` and further sheets are added at
``layer_spacing`` outwards while the gap left across the periodic boundary stays at least
``layer_spacing``. Segments of different spacing are separated along x by one C–C bond.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from predesolv.config.units import to_nm
from predesolv.errors import BuildError
from predesolv.systems.graphene import (
    CC_BOND_NM,
    Sheet,
    cell_dimensions,
    concatenate,
    n_cells_for_width,
    ribbon,
    stacking_shift,
)

_TOL = 1e-9


@dataclass
class Segment:
    """x-interval of an electrode with one slit spacing.

    Attributes
    ----------
    length : float
        Requested extent along x, nm.
    spacing : float or None
        Slit spacing d (nm); ``None`` for plain graphite (no slit).
    name : str
        Part name used in atom groups (``"slit"``, ``"stage1"``, ``"cap"``, ...).
    """

    length: float
    spacing: float | None
    name: str


@dataclass
class ElectrodeGeometry:
    """Atoms and geometry of one electrode in its own frame (see module docstring).

    Attributes
    ----------
    sheet : Sheet
        Atom positions (nm, shape (n, 3)), labels, bonds and sheet ids.
    part : list of str
        Per-atom part name: ``"slit_walls"`` (the two sheets bounding the slit of a stage),
        ``"walls"`` (other sheets), ``"cap"``, ``"counter"``.
    box_y, box_z : float
        Periodic lengths (nm) along y and z.
    x_extent : float
        Largest atom x (nm) in the electrode frame.
    segments : list of dict
        Per segment: ``name``, ``spacing_nm`` (realised, or None), ``x_nm`` [start, end],
        ``z_nm`` [lower wall plane, upper wall plane] (slit segments only), ``n_cells_x``.
    info : dict
        Extra numbers for metadata (edge, stacking, n_cells_y, layer spacing...).
    """

    sheet: Sheet
    part: list[str]
    box_y: float
    box_z: float
    x_extent: float
    segments: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def plane_heights(spacing: float | None, box_z: float, layer: float) -> tuple[list[float], int]:
    """Sheet heights (nm) of one segment filling a periodic box of height ``box_z``.

    The slit walls sit at ``box_z/2 ± d/2``; the rest of the box height, ``box_z - d``, is
    divided into ``m = ceil((box_z - d) / layer)`` equal gaps (the one across the periodic
    boundary included), so every other gap is at most ``layer`` (graphite spacing, or slightly
    compressed where ``box_z - d`` is not a whole number of layers, e.g. in the narrower
    stages of a stage-wise pore). No gap but the slit can admit electrolyte: a closed pore
    is entered only through its orifice.

    Parameters
    ----------
    spacing : float or None
        Slit spacing d (nm); ``None`` means graphite throughout (d = ``layer``).
    box_z : float
        Periodic length along z, nm.
    layer : float
        Largest spacing of the non-slit sheets, nm.

    Returns
    -------
    (list of float, int)
        Sorted heights, and the index of the lower slit wall in that list (the upper wall
        is the next one).
    """
    d = layer if spacing is None else spacing
    zc = 0.5 * box_z
    if d + layer > box_z + _TOL:
        raise BuildError(f"slit spacing {d:.4f} nm does not fit in a box of z = {box_z:.4f} nm")
    rest = box_z - d
    m = max(1, int(np.ceil(rest / layer - 1e-6)))
    gap = rest / m
    lower, upper = [zc - d / 2], [zc + d / 2]
    for k in range(m - 1):  # m gaps need m - 1 sheets besides the two walls
        if k % 2 == 0:
            upper.append(upper[-1] + gap)
        else:
            lower.append(lower[-1] - gap)
    heights = sorted(lower + upper)
    return heights, len(lower) - 1


def _segment_ribbons(
    seg: Segment, x0: float, n_y: int, edge: str, stacking: str, box_z: float, layer: float,
    hydrogenate: bool,
) -> tuple[list[Sheet], list[str], dict[str, Any]]:
    lx, _ = cell_dimensions(edge)
    n_x = max(1, int(round(seg.length / lx)))
    heights, i_wall = plane_heights(seg.spacing, box_z, layer)
    sheets, parts = [], []
    for k, z in enumerate(heights):
        # stacking parity counted from the lower slit wall so both walls' registry is fixed
        shift = stacking_shift(edge, stacking, k - i_wall)
        sh = ribbon(n_x, n_y, edge, z=z, x0=x0, shift=shift, hydrogenate=hydrogenate)
        sheets.append(sh)
        is_wall = seg.spacing is not None and k in (i_wall, i_wall + 1)
        parts.append("slit_walls" if is_wall else ("cap" if seg.name == "cap" else "walls"))
    xs = np.concatenate([s.positions[:, 0] for s in sheets])
    info = {
        "name": seg.name,
        "spacing_nm": None if seg.spacing is None else heights[i_wall + 1] - heights[i_wall],
        "x_nm": [float(x0), float(xs.max())],
        "n_cells_x": n_x,
        "length_nm": n_x * lx,
        "sheet_z_nm": [float(z) for z in heights],
    }
    if seg.spacing is not None:
        info["z_nm"] = [float(heights[i_wall]), float(heights[i_wall + 1])]
    return sheets, parts, info


def stack_segments(
    segments: list[Segment],
    *,
    width: float,
    edge: str,
    stacking: str,
    box_z: float,
    layer: float,
    hydrogenate: bool = False,
    part_override: str | None = None,
) -> ElectrodeGeometry:
    """Build an electrode from consecutive x-segments.

    Parameters
    ----------
    segments : list of Segment
        Mouth first.
    width : float
        Requested y length (nm); snapped to whole unit cells.
    edge, stacking : str
        See :mod:`predesolv.systems.graphene`.
    box_z, layer : float
        Periodic z length and non-slit sheet spacing, nm.
    hydrogenate : bool
        H-terminate every open edge.
    part_override : str, optional
        Give every atom this part name (used for the counter electrode).

    Returns
    -------
    ElectrodeGeometry
    """
    lx, ly = cell_dimensions(edge)
    n_y = n_cells_for_width(width, edge)
    x0 = 0.0
    sheets: list[Sheet] = []
    parts_per_sheet: list[str] = []
    seg_info = []
    for seg in segments:
        s_list, p_list, info = _segment_ribbons(
            seg, x0, n_y, edge, stacking, box_z, layer, hydrogenate
        )
        sheets.extend(s_list)
        parts_per_sheet.extend(p_list)
        seg_info.append(info)
        x0 = info["x_nm"][1] + CC_BOND_NM  # next segment one bond further along x
    sheet = concatenate(sheets)
    part = [part_override or parts_per_sheet[k] for k in sheet.sheet_id]
    return ElectrodeGeometry(
        sheet=sheet,
        part=part,
        box_y=n_y * ly,
        box_z=box_z,
        x_extent=float(sheet.positions[:, 0].max()),
        segments=seg_info,
        info={"edge": edge, "stacking": stacking, "n_cells_y": n_y, "layer_spacing_nm": layer,
              "cell_nm": [lx, ly], "hydrogenated": hydrogenate},
    )



def _slit_segments(cfg: Any) -> tuple[list[Segment], float]:
    """Segments and box z (nm) of a slit or a stage-wise pore."""
    layer = to_nm(cfg.layer_spacing)
    n = cfg.layers_per_wall
    if cfg.kind == "slit":
        d = to_nm(cfg.spacing)
        return [Segment(to_nm(cfg.length), d, "slit")], d + (2 * n - 1) * layer
    segs = [Segment(to_nm(s.length), to_nm(s.spacing), f"stage{i + 1}")
            for i, s in enumerate(cfg.stages)]
    d_max = max(to_nm(s.spacing) for s in cfg.stages)
    segs.append(Segment(to_nm(cfg.cap_length), None, "cap"))
    return segs, d_max + (2 * n - 1) * layer


def _stacked_geometry(cfg: Any) -> ElectrodeGeometry:
    """A slit or a stage-wise pore: segments stacked along x (:func:`stack_segments`)."""
    segs, box_z = _slit_segments(cfg)
    return stack_segments(
        segs, width=to_nm(cfg.width), edge=cfg.edge, stacking=cfg.stacking, box_z=box_z,
        layer=to_nm(cfg.layer_spacing), hydrogenate=cfg.hydrogenate_edges,
    )


def _surface_geometry(cfg: Any) -> ElectrodeGeometry:
    """``layers`` graphite-spaced sheets, edge-on to the electrolyte (no slit)."""
    layer = to_nm(cfg.layer_spacing)
    n = cfg.layers
    heights = [(k + 0.5) * layer for k in range(n)]
    lx, ly = cell_dimensions(cfg.edge)
    n_y = n_cells_for_width(to_nm(cfg.width), cfg.edge)
    n_x = max(1, int(round(to_nm(cfg.length) / lx)))
    sheets = [
        ribbon(n_x, n_y, cfg.edge, z=z, shift=stacking_shift(cfg.edge, cfg.stacking, k),
               hydrogenate=cfg.hydrogenate_edges)
        for k, z in enumerate(heights)
    ]
    sheet = concatenate(sheets)
    return ElectrodeGeometry(
        sheet=sheet, part=["walls"] * sheet.n_atoms, box_y=n_y * ly, box_z=n * layer,
        x_extent=float(sheet.positions[:, 0].max()),
        segments=[{"name": "surface", "spacing_nm": None, "n_cells_x": n_x,
                   "length_nm": n_x * lx,
                   "x_nm": [0.0, float(sheet.positions[:, 0].max())],
                   "sheet_z_nm": heights}],
        info={"edge": cfg.edge, "stacking": cfg.stacking, "n_cells_y": n_y,
              "layer_spacing_nm": layer, "cell_nm": [lx, ly],
              "hydrogenated": cfg.hydrogenate_edges},
    )


GeometryBuilder = Callable[[Any], ElectrodeGeometry]
_BUILDERS: dict[str, GeometryBuilder] = {}


def register_geometry_builder(kind: str, build: GeometryBuilder) -> None:
    """Make ``build(cfg) -> ElectrodeGeometry`` the builder of electrode ``kind`` (register
    the kind's config side with
    :func:`predesolv.config.electrode_kinds.register_electrode_kind`).

    Raises
    ------
    ValueError
        ``kind`` has another builder already.
    """
    old = _BUILDERS.get(kind)
    if old is not None and old is not build:
        raise ValueError(f"electrode kind {kind!r} has a geometry builder already")
    _BUILDERS[kind] = build


def unregister_geometry_builder(kind: str) -> None:
    """Remove a kind's builder (for tests of a kind defined on the fly)."""
    _BUILDERS.pop(kind, None)


def build_electrode_geometry(cfg: Any) -> ElectrodeGeometry:
    """Working electrode for an ``ElectrodeConfig`` (electrode frame, mouth at x = 0), made
    by the builder registered for ``cfg.kind``.

    Parameters
    ----------
    cfg : predesolv.config.electrode.ElectrodeConfig

    Returns
    -------
    ElectrodeGeometry

    Raises
    ------
    BuildError
        No builder is registered for ``cfg.kind``.
    """
    build = _BUILDERS.get(cfg.kind)
    if build is None:
        raise BuildError(f"electrode kind {cfg.kind!r} has no geometry builder; register "
                         f"one with predesolv.systems.slit.register_geometry_builder "
                         f"(registered: {', '.join(sorted(_BUILDERS))})")
    return build(cfg)


register_geometry_builder("slit", _stacked_geometry)
register_geometry_builder("stagewise_pore", _stacked_geometry)
register_geometry_builder("surface", _surface_geometry)


def build_counter_geometry(cfg: Any, box_y: float, box_z: float) -> ElectrodeGeometry:
    """Counter electrode: plain graphite slab filling ``box_z`` with near-graphite spacing.

    The number of sheets is ``round(box_z / layer_spacing)``; the realised spacing
    ``box_z / n`` is recorded in ``info["layer_spacing_nm"]``.
    """
    layer = to_nm(cfg.layer_spacing)
    n = max(1, int(round(box_z / layer)))
    s = box_z / n
    lx, ly = cell_dimensions(cfg.edge)
    n_y = int(round(box_y / ly))
    n_x = max(1, int(round(to_nm(cfg.counter_electrode.length) / lx)))
    sheets = [
        ribbon(n_x, n_y, cfg.edge, z=(k + 0.5) * s,
               shift=stacking_shift(cfg.edge, cfg.stacking, k))
        for k in range(n)
    ]
    sheet = concatenate(sheets)
    return ElectrodeGeometry(
        sheet=sheet, part=["counter"] * sheet.n_atoms, box_y=box_y, box_z=box_z,
        x_extent=float(sheet.positions[:, 0].max()),
        segments=[{"name": "counter", "spacing_nm": None, "n_cells_x": n_x,
                   "length_nm": n_x * lx,
                   "x_nm": [0.0, float(sheet.positions[:, 0].max())]}],
        info={"layer_spacing_nm": s, "n_sheets": n},
    )


def measured_slit_spacing(geom: ElectrodeGeometry, segment: int = 0) -> float:
    """Plane-to-plane spacing (nm) of a slit segment measured from the atom coordinates.

    Takes the two carbon planes of the ``"slit_walls"`` atoms inside the segment's x range
    and returns the difference of their mean z.
    """
    info = geom.segments[segment]
    if info.get("z_nm") is None:
        raise BuildError(f"segment {info['name']!r} has no slit")
    x0, x1 = info["x_nm"]
    pos = geom.sheet.positions
    sel = np.array([
        p == "slit_walls" and lab != "HE" and x0 - 1e-6 <= x <= x1 + 1e-6
        for p, lab, x in zip(geom.part, geom.sheet.labels, pos[:, 0], strict=True)
    ])
    z = pos[sel, 2]
    zc = 0.5 * geom.box_z
    lo = z[z < zc]
    hi = z[z > zc]
    return float(hi.mean() - lo.mean())
