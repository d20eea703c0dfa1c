"""The registry of collective-variable types (the ``cv:`` blocks of ``bias``, ``pull``,
``pmf`` and their walls), modelled on OpenMM's ``ForceField.registerGenerator``.

A CV type is a name, a pydantic spec model (the YAML block, with a ``type: Literal[name]``
field) and a resolver that turns a validated spec into a CV object on a built system::

    register_cv_type("position", PositionCVSpec, resolve_position, check_start=...)

Config parsing accepts any registered ``type`` (:data:`CVSpec`); :func:`resolve_cv` in
:mod:`predesolv.freeenergy.bias` calls the type's resolver. The built-in types are one module
each: :mod:`.cv_position`, :mod:`.cv_distance`, :mod:`.cv_coordination` (imported by
:mod:`predesolv.config.freeenergy`, so they are registered before any config is parsed).
See docs/dev/contracts.md ("Registries") for adding one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import openmm
from openmm import unit
from pydantic import Field

from predesolv.config.base import Int, StrictModel
from predesolv.config.registry import TaggedModels, check_tag_field
from predesolv.config.units import parse_quantity, parse_unit
from predesolv.errors import ConfigError

Value = float | str
#: An atom group in a spec: a group spec string (``"cation[0]"``, ``"sel:..."``) or indices.
GroupSpecField = Annotated[str, Field(min_length=1)] | Annotated[list[Int], Field(min_length=1)]


@dataclass(frozen=True)
class ResolvedCV:
    """A CV spec resolved on one system: the CV object, its unit and its table column.

    Attributes
    ----------
    cv : object
        Has ``to_force``/``cv_terms`` (OpenMM) and ``from_positions`` (NumPy; positions and
        box in nm), as the classes of :mod:`predesolv.freeenergy.cv`.
    unit : str
        Unit of the CV value (``"nm"``; ``""`` for a dimensionless CV).
    column : str
        Column name of the CV in tables (``x_nm``, ``d_nm``, ``cn``).
    atoms : tuple of int
        The atoms the CV reads.
    """

    cv: Any
    unit: str
    column: str
    atoms: tuple[int, ...]


class CVSpecBase(StrictModel):
    """Base of every CV spec model: unit handling of values, force constants and speeds.

    A subclass declares ``type: Literal["<name>"]`` plus its own fields, and overrides
    :attr:`unit` (default ``"nm"``) and :attr:`column`.
    """

    if TYPE_CHECKING:  # each subclass declares it as a Literal field
        type: str

    @property
    def unit(self) -> str:
        """Unit of the CV value: ``"nm"``, or ``""`` for a dimensionless CV."""
        return "nm"

    @property
    def column(self) -> str:
        """Column name of the CV in tables (``x_nm``, ``d_nm``, ``cn``)."""
        raise NotImplementedError

    def value(self, raw: Value, field: str) -> float:
        """``raw`` (``"0.8 nm"`` or a number for a dimensionless CV) in the CV unit."""
        return in_unit(raw, self.unit, field)

    def force_constant(self, raw: Value, field: str) -> float:
        """A force constant in kJ/mol per CV unit squared."""
        expected = f"kJ/mol/{self.unit}**2" if self.unit else "kJ/mol"
        return in_unit(raw, expected, field)

    def rate(self, raw: Value, field: str) -> float:
        """A pulling speed in CV unit per ps."""
        expected = f"{self.unit}/ps" if self.unit else "1/ps"
        return in_unit(raw, expected, field)


def in_unit(raw: Value, expected: str, field: str) -> float:
    """``raw`` (a quantity string or a number) as a float in ``expected`` units.

    Raises
    ------
    ValueError
        Not a quantity of that dimension, prefixed with ``field``.
    """
    try:
        q = parse_quantity(raw, expected)
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None
    if isinstance(q, unit.Quantity):
        return float(q.value_in_unit(parse_unit(expected)))
    return float(q)


#: ``resolver(spec, built, field, r0_nm) -> ResolvedCV``: ``built`` a BuiltSystem, ``field``
#: the YAML path for messages, ``r0_nm`` default coordination lengths by kind (nm) or None.
Resolver = Callable[[Any, Any, str, dict[str, float] | None], ResolvedCV]
#: ``check_start(spec, built, positions_nm, field)``: refuse a start structure (ConfigError).
StartCheck = Callable[[Any, Any, Any, str], None]


@dataclass(frozen=True)
class CVType:
    """One registered CV type (see :func:`register_cv_type`)."""

    name: str
    spec_model: type[CVSpecBase]
    resolver: Resolver
    check_start: StartCheck | None = None


_CV_TYPES: dict[str, CVType] = {}
_SPEC_MODELS: dict[str, type[CVSpecBase]] = {}

#: The ``cv:`` field type of config models: any registered CV type, chosen by ``type``.
CVSpec = Annotated[CVSpecBase, TaggedModels("type", "CV type", _SPEC_MODELS)]


def register_cv_type(name: str, spec_model: type[CVSpecBase], resolver: Resolver, *,
                     check_start: StartCheck | None = None) -> CVType:
    """Make ``type: <name>`` a CV type of every config ``cv:`` block.

    Parameters
    ----------
    name : str
        The YAML tag.
    spec_model : type
        A :class:`CVSpecBase` subclass with a field ``type: Literal[name]``.
    resolver : callable
        ``resolver(spec, built, field, r0_nm) -> ResolvedCV`` (see :data:`Resolver`).
    check_start : callable, optional
        ``check_start(spec, built, positions_nm, field)``: raise ConfigError for a start
        structure a bias on this CV cannot handle (see ``refuse_start_at_cut``).

    Returns
    -------
    CVType

    Raises
    ------
    ValueError
        ``name`` is registered already with another spec model, or the model is unfit.
    """
    check_tag_field(spec_model, "type", name)
    if not issubclass(spec_model, CVSpecBase):
        raise ValueError(f"{name!r}: {spec_model.__name__} must derive from CVSpecBase")
    old = _CV_TYPES.get(name)
    if old is not None and old.spec_model is not spec_model:
        raise ValueError(f"CV type {name!r} is registered already "
                         f"({old.spec_model.__name__}); unregister it first")
    entry = CVType(name, spec_model, resolver, check_start)
    _CV_TYPES[name] = entry
    _SPEC_MODELS[name] = spec_model
    return entry


def unregister_cv_type(name: str) -> None:
    """Remove a CV type (for tests and plugins that replace one); unknown names are ignored."""
    _CV_TYPES.pop(name, None)
    _SPEC_MODELS.pop(name, None)


def cv_type_names() -> list[str]:
    """The registered CV type names, in registration order."""
    return list(_CV_TYPES)


def cv_type(name: str, field: str = "cv") -> CVType:
    """The registered CV type ``name``.

    Raises
    ------
    ConfigError
        Not registered (naming the field and the registered types).
    """
    try:
        return _CV_TYPES[name]
    except KeyError:
        raise ConfigError(f"unknown CV type {name!r}; allowed: {', '.join(sorted(_CV_TYPES))}",
                          f"{field}.type") from None


def mass_weights(atoms: Sequence[int], masses: Any) -> tuple[float, ...]:
    """Centre-of-mass weights of ``atoms`` from per-atom ``masses`` (Da)."""
    return tuple(float(masses[i]) for i in atoms)


def refuse_frozen(system: openmm.System, atoms: Sequence[int], field: str) -> None:
    """A biased group must move: frozen (mass 0) atoms cannot respond to a restraint.

    Raises
    ------
    ConfigError
        Naming the first frozen atoms.
    """
    frozen = [i for i in atoms if system.getParticleMass(int(i)).value_in_unit(unit.dalton) == 0]
    if frozen:
        raise ConfigError(f"the CV acts on frozen (mass 0) atoms {frozen[:5]}; a "
                          f"restraint cannot move them: choose mobile atoms", field)
