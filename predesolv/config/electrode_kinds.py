"""Registry of electrode geometry kinds (``system.electrode.kind``): what each kind needs.

A kind is a name, a check of the :class:`~predesolv.config.electrode.ElectrodeConfig` fields
it uses, the slit spacings it has (mouth inwards; none for a plain surface) and whether its
slit is open at the back. The geometry itself is built by the builder registered for the
same name with :func:`predesolv.systems.slit.register_geometry_builder`. Adding a kind is one
module that calls both, plus its test (OpenMM's ``ForceField.registerGenerator`` is the
model)::

    from predesolv.config.electrode_kinds import register_electrode_kind
    from predesolv.systems.slit import register_geometry_builder

    register_electrode_kind("my_kind", check=my_check, spacings_nm=lambda cfg: [],
                            has_slit=False)
    register_geometry_builder("my_kind", build_my_geometry)   # cfg -> ElectrodeGeometry

The built-in kinds ``slit``, ``stagewise_pore`` and ``surface`` are registered here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from predesolv.config.units import to_nm


@dataclass(frozen=True)
class ElectrodeKind:
    """One registered electrode geometry kind.

    Attributes
    ----------
    name : str
        The ``kind`` value in YAML.
    check : callable
        ``check(cfg)``: raise ``ValueError`` (a config error naming the fields) when the
        ``ElectrodeConfig`` fields do not suit this kind.
    spacings_nm : callable
        ``spacings_nm(cfg) -> list[float]``: slit spacings, nm, mouth inwards (empty: none).
    has_slit : bool
        Whether the kind has slit walls (``charge.apply_to: slit_walls``, ``dopants.sheets:
        slit_walls`` and ``fill_slit`` need one).
    open_back : bool
        Whether the slit is open at the back (a ``mouth_back`` region is defined there).
    """

    name: str
    check: Callable[[Any], None]
    spacings_nm: Callable[[Any], list[float]]
    has_slit: bool
    open_back: bool = False


_KINDS: dict[str, ElectrodeKind] = {}


def register_electrode_kind(name: str, check: Callable[[Any], None],
                            spacings_nm: Callable[[Any], list[float]], has_slit: bool,
                            open_back: bool = False) -> ElectrodeKind:
    """Register an electrode geometry kind (see the module docstring).

    Raises
    ------
    ValueError
        ``name`` is registered already with other functions.
    """
    kind = ElectrodeKind(name, check, spacings_nm, has_slit, open_back)
    old = _KINDS.get(name)
    if old is not None and old != kind:
        raise ValueError(f"electrode kind {name!r} is registered already")
    _KINDS[name] = kind
    return kind


def unregister_electrode_kind(name: str) -> None:
    """Remove a registered kind (for tests of a kind defined on the fly)."""
    _KINDS.pop(name, None)


def electrode_kind_names() -> list[str]:
    """The registered kinds, sorted."""
    return sorted(_KINDS)


def electrode_kind(name: str) -> ElectrodeKind:
    """The registered kind ``name``.

    Raises
    ------
    ValueError
        Not registered (the message lists the registered kinds).
    """
    try:
        return _KINDS[name]
    except KeyError:
        raise ValueError(f"unknown electrode kind {name!r}; allowed: "
                         f"{', '.join(electrode_kind_names())}") from None


def _check_slit(cfg: Any) -> None:
    if cfg.spacing is None or cfg.length is None:
        raise ValueError("kind 'slit' needs 'spacing' and 'length'")
    if cfg.stages is not None or cfg.layers is not None:
        raise ValueError("kind 'slit' takes no 'stages' or 'layers'")


def _check_stagewise(cfg: Any) -> None:
    if not cfg.stages or len(cfg.stages) < 2:
        raise ValueError("kind 'stagewise_pore' needs 'stages' (at least 2)")
    if cfg.spacing is not None or cfg.length is not None or cfg.layers is not None:
        raise ValueError(
            "kind 'stagewise_pore' takes 'stages' instead of 'spacing'/'length'/'layers'")


def _check_surface(cfg: Any) -> None:
    if cfg.length is None or cfg.layers is None:
        raise ValueError("kind 'surface' needs 'length' and 'layers'")
    if cfg.spacing is not None or cfg.stages is not None or cfg.fill_slit:
        raise ValueError("kind 'surface' has no slit: no 'spacing'/'stages'/'fill_slit'")


register_electrode_kind("slit", _check_slit, lambda cfg: [to_nm(cfg.spacing)],
                        has_slit=True, open_back=True)
register_electrode_kind("stagewise_pore", _check_stagewise,
                        lambda cfg: [to_nm(s.spacing) for s in cfg.stages or []],
                        has_slit=True)
register_electrode_kind("surface", _check_surface, lambda cfg: [], has_slit=False)
