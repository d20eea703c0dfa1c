"""Typed ``metadata.json``: which atoms are which, and the geometry analysis needs.

Builders create a :class:`Metadata`; the run directory stores it as ``metadata.json``
(:meth:`Metadata.to_dict`); the runner, analysis and free-energy code read it back with
:meth:`Metadata.load` / :meth:`Metadata.from_dict`. This module uses the standard library only,
so analysis can import it without pulling in OpenMM or the builders.

On disk (schema_version 1; all lengths in nm, indices 0-based into the topology)::

    {
      "schema_version": 1,
      "units": {"length": "nm", "charge": "e"},
      "species": {"cation": "Na", "anion": "PF6", "solvents": ["DME"]},
      "groups": {"cation": [...], "anion": [...], "anion_coord": [...],
                 "solvent:DME": [...], "solvent_O:DME": [...], "solvent_Oall:DME": [...],
                 "electrode": [...], "electrode:working": [...], "frozen": [...], ...},
      "geometry": {                                  # cells with an electrode only
        "kind": "slit" | "stagewise_pore" | "surface",
        "insertion": {"axis": "x", "origin_nm": 3.2, "direction": 1},
        "regions": [{"name": "inside", "bounds_nm": {"x": [3.2, 6.0], "z": [1.1, 1.7]}}],
        "fixed_axes": ["x", "y", "z"],
        ...                                          # builder-specific (spacing_nm, ...)
      },
      "charges": {"mode": "constant_charge" | "constant_potential", ...},
      "requires": {"fixed_box": true},
      "composition": {...}, "forcefield": {...}, "provenance": {...}
    }

Keys this module does not model are kept (``extra`` fields) and written back unchanged, so a
file read and written again is the same JSON (``requires`` is always written, with its
default ``{"fixed_box": false}`` when a file had none).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from predesolv.errors import InputError

SCHEMA_VERSION = 1
AXES = ("x", "y", "z")

# ---------------------------------------------------------------- group names (one place)
CATION = "cation"
ANION = "anion"
ANION_COORD = "anion_coord"
ELECTRODE = "electrode"
FROZEN = "frozen"
SOLVENT_PREFIX = "solvent:"
SOLVENT_O_PREFIX = "solvent_O:"
SOLVENT_OALL_PREFIX = "solvent_Oall:"
ELECTRODE_PREFIX = "electrode:"


def solvent_group(name: str) -> str:
    """Group of every atom of solvent ``name`` (``solvent:DME``)."""
    return f"{SOLVENT_PREFIX}{name}"


def solvent_o_group(name: str) -> str:
    """Group of the coordinating O atoms of solvent ``name`` (``solvent_O:DME``)."""
    return f"{SOLVENT_O_PREFIX}{name}"


def solvent_oall_group(name: str) -> str:
    """Group of all O atoms of solvent ``name`` (``solvent_Oall:DME``)."""
    return f"{SOLVENT_OALL_PREFIX}{name}"


def electrode_group(part: str) -> str:
    """Group of one electrode part (``electrode:working``, ``electrode:counter``, ...)."""
    return f"{ELECTRODE_PREFIX}{part}"


class MetadataError(InputError, ValueError):
    """``metadata.json`` is missing, unreadable or of the wrong shape (CLI exit status 2)."""


def _fail(source: str, where: str, what: str) -> MetadataError:
    return MetadataError(f"{source}: {where} {what}")


def _as_float(value: Any, source: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(source, where, f"must be a finite number, got {value!r:.60}")
    return float(value)


# ------------------------------------------------------------------------------ pieces
@dataclass(frozen=True)
class Species:
    """Chemical identity of the electrolyte: cation, anion and solvent names."""

    cation: str | None = None
    anion: str | None = None
    solvents: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: Any, source: str) -> Species:
        if d is None:
            return cls()
        if not isinstance(d, Mapping):
            raise _fail(source, "species", "must be a mapping")
        solvents = d.get("solvents") or []
        if not isinstance(solvents, list) or not all(isinstance(s, str) for s in solvents):
            raise _fail(source, "species.solvents", "must be a list of names")
        return cls(d.get("cation"), d.get("anion"), tuple(solvents))

    def to_dict(self) -> dict[str, Any]:
        return {"cation": self.cation, "anion": self.anion, "solvents": list(self.solvents)}


class Groups(dict[str, list[int]]):
    """Named atom groups: group name → sorted list of 0-based atom indices."""

    @classmethod
    def from_dict(cls, d: Any, source: str) -> Groups:
        if not isinstance(d, Mapping):
            raise _fail(source, "groups", "must be a mapping of name to atom indices")
        out = cls()
        for name, idx in d.items():
            if not isinstance(idx, list) or not all(
                    isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in idx):
                raise _fail(source, f"groups[{name!r}]", "must be a list of atom indices >= 0")
            out[str(name)] = list(idx)
        return out

    def solvent_names(self) -> list[str]:
        """Solvents with a coordinating-O group (``solvent_O:<NAME>``), in file order."""
        return [k[len(SOLVENT_O_PREFIX):] for k in self if k.startswith(SOLVENT_O_PREFIX)]

    def max_index(self) -> int:
        """Largest atom index in any group (-1 when every group is empty)."""
        return max((max(v) for v in self.values() if v), default=-1)

    def to_dict(self) -> dict[str, list[int]]:
        return {k: sorted(v) for k, v in self.items()}


@dataclass(frozen=True)
class Insertion:
    """The insertion coordinate: ``direction * (r[axis] - origin_nm)``, positive inside."""

    axis: str
    origin_nm: float
    direction: int = 1

    @classmethod
    def from_dict(cls, d: Any, source: str) -> Insertion:
        where = "geometry.insertion"
        if not isinstance(d, Mapping) or d.get("axis") not in AXES:
            raise _fail(source, where, "needs axis (x, y or z), origin_nm and direction")
        direction = d.get("direction", 1)
        if direction not in (1, -1) or isinstance(direction, bool):
            raise _fail(source, f"{where}.direction", f"must be 1 or -1, got {direction!r:.40}")
        return cls(str(d["axis"]), _as_float(d.get("origin_nm"), source, f"{where}.origin_nm"),
                   int(direction))

    def to_dict(self) -> dict[str, Any]:
        return {"axis": self.axis, "origin_nm": self.origin_nm, "direction": self.direction}


@dataclass(frozen=True)
class Region:
    """A named box; ``bounds_nm`` maps an axis to ``(low, high)`` in nm (absent = unbounded).

    ``extra`` keeps other keys a builder wrote (e.g. ``stage``: which pore stage a region
    belongs to)."""

    name: str
    bounds_nm: Mapping[str, tuple[float, float]]
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, source: str, where: str) -> Region:
        if not isinstance(d, Mapping) or not isinstance(d.get("name"), str) \
                or not isinstance(d.get("bounds_nm"), Mapping):
            raise _fail(source, where, "needs 'name' and 'bounds_nm' {axis: [low, high]} in nm")
        bounds: dict[str, tuple[float, float]] = {}
        for ax, v in d["bounds_nm"].items():
            if ax not in AXES or not isinstance(v, (list, tuple)) or len(v) != 2:
                raise _fail(source, f"{where}.bounds_nm.{ax}", "must be [low, high] on x, y or z")
            lo, hi = (_as_float(x, source, f"{where}.bounds_nm.{ax}") for x in v)
            bounds[ax] = (lo, hi)
        extra = {k: v for k, v in d.items() if k not in ("name", "bounds_nm")}
        return cls(d["name"], bounds, extra)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.extra,
                "bounds_nm": {k: list(v) for k, v in self.bounds_nm.items()}}


@dataclass
class Geometry:
    """Electrode geometry: kind, insertion coordinate, regions, fixed axes + builder extras."""

    kind: str
    insertion: Insertion | None = None
    regions: list[Region] = field(default_factory=list)
    fixed_axes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, source: str) -> Geometry:
        if not isinstance(d, Mapping):
            raise _fail(source, "geometry", "must be a mapping")
        regions = d.get("regions") or []
        if not isinstance(regions, list):
            raise _fail(source, "geometry.regions", "must be a list")
        fixed = d.get("fixed_axes") or []
        if not isinstance(fixed, list) or any(a not in AXES for a in fixed):
            raise _fail(source, "geometry.fixed_axes", "must be a list of x, y, z")
        ins = d.get("insertion")
        known = {"kind", "insertion", "regions", "fixed_axes"}
        return cls(
            kind=str(d.get("kind", "unknown")),
            insertion=None if not ins else Insertion.from_dict(ins, source),
            regions=[Region.from_dict(r, source, f"geometry.regions[{i}]")
                     for i, r in enumerate(regions)],
            fixed_axes=list(fixed),
            extra={k: v for k, v in d.items() if k not in known},
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.insertion is not None:
            out["insertion"] = self.insertion.to_dict()
        out["regions"] = [r.to_dict() for r in self.regions]
        out["fixed_axes"] = list(self.fixed_axes)
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class IonSlitGeometry:
    """The geometry of an ion slit (:func:`predesolv.systems.ion_slit.build_ion_slit`), typed.

    Written into ``metadata.json`` as ``geometry`` keys (kind ``ion_slit``) and read back by
    :meth:`Metadata.ion_slit`; lengths in nm.

    Attributes
    ----------
    spacing_nm : float
        Interlayer spacing d (carbon plane to carbon plane across the slit).
    midplane_z_nm : float
        z of the slit's mid-plane.
    sheet_z_nm : tuple of float
        z of every graphene sheet.
    stacking : str
        ``"AB"`` or ``"AA"``.
    edge : str
        Which lattice direction runs along x (``"zigzag"`` or ``"armchair"``).
    cell_nm : tuple of float, shape (2,)
        Lattice cell (x, y).
    n_cells : tuple of int, shape (2,)
        Cells along x and y.
    bond_nm : float
        C–C bond length.
    box_nm : tuple of float, shape (3,)
        Orthorhombic box lengths.
    electrostatics : str
        ``"PME"``, or what the lone-ion shortcut kept.
    """

    spacing_nm: float
    midplane_z_nm: float
    sheet_z_nm: tuple[float, ...]
    stacking: str
    edge: str
    cell_nm: tuple[float, float]
    n_cells: tuple[int, int]
    bond_nm: float
    box_nm: tuple[float, float, float]
    electrostatics: str

    KIND = "ion_slit"

    def to_dict(self) -> dict[str, Any]:
        """The ``geometry`` keys of ``metadata.json`` (kind and fixed axes included)."""
        return {"kind": self.KIND, "fixed_axes": list(AXES),
                "midplane_z_nm": self.midplane_z_nm, "sheet_z_nm": list(self.sheet_z_nm),
                "spacing_nm": self.spacing_nm, "stacking": self.stacking, "edge": self.edge,
                "cell_nm": list(self.cell_nm), "n_cells": list(self.n_cells),
                "bond_nm": self.bond_nm, "box_nm": list(self.box_nm),
                "electrostatics": self.electrostatics}

    @classmethod
    def from_geometry(cls, geo: Geometry, source: str) -> IonSlitGeometry:
        """Read the typed fields from a :class:`Geometry` of kind ``ion_slit``.

        Raises
        ------
        MetadataError
            Another kind, or a key missing or of the wrong type (naming it).
        """
        if geo.kind != cls.KIND:
            raise MetadataError(f"{source}: geometry kind is {geo.kind!r}, not an ion slit "
                                f"(build it with system.ion_slit)")
        ex = geo.extra
        try:
            return cls(float(ex["spacing_nm"]), float(ex["midplane_z_nm"]),
                       tuple(float(z) for z in ex["sheet_z_nm"]), str(ex["stacking"]),
                       str(ex["edge"]), (float(ex["cell_nm"][0]), float(ex["cell_nm"][1])),
                       (int(ex["n_cells"][0]), int(ex["n_cells"][1])), float(ex["bond_nm"]),
                       (float(ex["box_nm"][0]), float(ex["box_nm"][1]), float(ex["box_nm"][2])),
                       str(ex.get("electrostatics", "PME")))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise MetadataError(f"{source}: ion-slit geometry is incomplete or malformed "
                                f"({type(exc).__name__}: {exc})") from None


@dataclass
class Charges:
    """How the electrode is charged: ``mode`` plus the realised numbers of that mode."""

    mode: str
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Any, source: str) -> Charges:
        if not isinstance(d, Mapping) or not isinstance(d.get("mode"), str):
            raise _fail(source, "charges", "must be a mapping with a 'mode'")
        return cls(d["mode"], {k: v for k, v in d.items() if k != "mode"})

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, **self.values}


@dataclass(frozen=True)
class Requires:
    """What the system needs from the runner (``fixed_box``: no barostat may act)."""

    fixed_box: bool = False

    @classmethod
    def from_dict(cls, d: Any, source: str) -> Requires:
        if d is None:
            return cls()
        if not isinstance(d, Mapping) or not isinstance(d.get("fixed_box", False), bool):
            raise _fail(source, "requires", "must be a mapping like {fixed_box: true}")
        return cls(bool(d.get("fixed_box", False)))

    def to_dict(self) -> dict[str, Any]:
        return {"fixed_box": self.fixed_box}


# ------------------------------------------------------------------------------- whole
_SECTIONS = ("schema_version", "units", "species", "groups", "geometry", "charges",
             "requires", "composition", "forcefield", "provenance")


@dataclass
class Metadata:
    """Everything downstream code needs to know about the atoms of a built system.

    Attributes
    ----------
    species : Species
    groups : Groups
        Group name → atom indices (see the ``*_group`` helpers for the names).
    geometry : Geometry or None
        None for a bulk electrolyte (everything is ``bulk``).
    charges : Charges or None
        Electrode charging; None without an electrode.
    requires : Requires
    composition, forcefield, provenance : dict
        Builder records, kept as written.
    extra : dict
        Top-level keys this module does not model, written back unchanged.
    """

    species: Species = field(default_factory=Species)
    groups: Groups = field(default_factory=Groups)
    geometry: Geometry | None = None
    charges: Charges | None = None
    requires: Requires = field(default_factory=Requires)
    composition: dict[str, Any] = field(default_factory=dict)
    forcefield: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    # ---------------------------------------------------------------- reading
    @classmethod
    def from_dict(cls, d: Any, source: str = "metadata.json") -> Metadata:
        """Check and convert a parsed ``metadata.json``.

        Raises
        ------
        MetadataError
            Wrong shape; the message names the file and the key path.
        """
        if not isinstance(d, Mapping):
            raise _fail(source, "top level", "must be a JSON object")
        version = d.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise _fail(source, "schema_version", f"{version!r:.20} is not supported "
                        f"(this predesolv reads {SCHEMA_VERSION})")
        units = d.get("units") or {}
        if not isinstance(units, Mapping) or units.get("length", "nm") != "nm":
            raise _fail(source, "units.length", "must be 'nm'")
        for name in ("composition", "forcefield", "provenance"):
            if not isinstance(d.get(name) or {}, Mapping):
                raise _fail(source, name, "must be a mapping")
        geo, chg = d.get("geometry"), d.get("charges")
        return cls(
            species=Species.from_dict(d.get("species"), source),
            groups=Groups.from_dict(d.get("groups", {}), source),
            geometry=None if not geo else Geometry.from_dict(geo, source),
            charges=None if not chg else Charges.from_dict(chg, source),
            requires=Requires.from_dict(d.get("requires"), source),
            composition=dict(d.get("composition") or {}),
            forcefield=dict(d.get("forcefield") or {}),
            provenance=dict(d.get("provenance") or {}),
            extra={k: v for k, v in d.items() if k not in _SECTIONS},
            schema_version=int(version),
        )

    @classmethod
    def load(cls, path: str | Path) -> Metadata:
        """Read ``metadata.json`` from ``path``.

        Raises
        ------
        MetadataError
            Missing file, not UTF-8, not JSON, or the wrong shape.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise MetadataError(f"metadata file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise MetadataError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise MetadataError(f"{path} is not valid JSON: {exc}") from None
        return cls.from_dict(data, str(path))

    # ---------------------------------------------------------------- writing
    def to_dict(self) -> dict[str, Any]:
        """The JSON-serialisable form written to ``metadata.json``."""
        out: dict[str, Any] = {"schema_version": self.schema_version,
                               "units": {"length": "nm", "charge": "e"},
                               "species": self.species.to_dict(),
                               "groups": self.groups.to_dict()}
        if self.geometry is not None:
            out["geometry"] = self.geometry.to_dict()
        if self.charges is not None:
            out["charges"] = self.charges.to_dict()
        out["requires"] = self.requires.to_dict()
        for name in ("composition", "forcefield", "provenance"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        out.update(self.extra)
        return out

    def to_json(self) -> str:
        """Indented JSON text (strict: no NaN/inf)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    # ---------------------------------------------------------------- helpers
    def group(self, name: str) -> list[int]:
        """Atom indices of group ``name``.

        Raises
        ------
        MetadataError
            No such group; the message lists the groups that exist.
        """
        if name not in self.groups:
            raise MetadataError(f"metadata has no group {name!r}; available: "
                                f"{', '.join(sorted(self.groups))}")
        return self.groups[name]

    def frozen(self) -> list[int]:
        """The ``frozen`` group (empty when absent)."""
        return list(self.groups.get(FROZEN, []))

    def solvent_names(self) -> list[str]:
        """Solvents with a coordinating-O group, in file order."""
        return self.groups.solvent_names()

    def require_geometry(self) -> Geometry:
        """The electrode geometry of a system a builder made with one.

        Raises
        ------
        MetadataError
            The system has no geometry (bulk, or files without predesolv metadata).
        """
        if self.geometry is None:
            raise MetadataError("metadata.json: this system has no electrode geometry "
                                "(bulk, or from_files without predesolv metadata)")
        return self.geometry

    def ion_slit(self) -> IonSlitGeometry:
        """The typed geometry of an ion slit (:class:`IonSlitGeometry`).

        Raises
        ------
        MetadataError
            No geometry, or not an ion slit.
        """
        return IonSlitGeometry.from_geometry(self.require_geometry(), "metadata.json")

    def fixed_axes(self) -> list[str]:
        """Axes a barostat must not scale (empty for bulk)."""
        return [] if self.geometry is None else list(self.geometry.fixed_axes)

    def set_group(self, name: str, indices: Iterable[int]) -> None:
        """Add or replace a group (indices are sorted)."""
        self.groups[name] = sorted(int(i) for i in indices)
