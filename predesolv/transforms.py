"""System transforms: how the runner applies extra forces without knowing what they are.

A config block that adds forces to a run (today: ``bias``, the umbrella/steered restraint
and its walls) is turned into a :class:`SystemTransform` by the factory registered for its
config type — the runner never imports the free-energy code that implements it (openmmtools'
``apply_to_context`` and OpenMM's ``ForceField.registerGenerator`` are the models).
:mod:`predesolv.freeenergy.bias` registers :class:`~predesolv.freeenergy.bias.Bias` for
:class:`~predesolv.config.freeenergy.BiasConfig`.

A transform:

* ``check_start(built)`` refuses a start structure it cannot work from (before anything is
  written);
* ``add_to(system)`` adds its forces to the System the run integrates (saved in
  ``system.xml``);
* ``columns`` / ``row(simulation, state)`` add its values to each ``state.csv`` row;
* ``match_state_header(path)`` adapts ``columns`` to the header of a resumed run's
  ``state.csv``;
* ``stage_reporters(stage_index, n_stages, first_step, dt_ps)`` gives the OpenMM reporters
  it needs during a stage (e.g. the mover of a steered centre).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import openmm

from predesolv.built import BuiltSystem
from predesolv.errors import ConfigError


@runtime_checkable
class SystemTransform(Protocol):
    """What the runner asks of the object behind a force-adding config block."""

    #: Extra ``state.csv`` column names (with units in parentheses).
    columns: list[str]

    def check_start(self, built: BuiltSystem) -> None:
        """Raise :class:`~predesolv.errors.ConfigError` if ``built.positions`` cannot start."""

    def add_to(self, system: openmm.System) -> None:
        """Add the transform's forces to ``system`` (in place)."""

    def row(self, simulation: Any, state: openmm.State) -> list[float]:
        """Values for :attr:`columns` at a reported state (positions included)."""
        ...

    def match_state_header(self, state_csv: Path) -> None:
        """Drop columns the header of a resumed run's ``state.csv`` does not have."""

    def stage_reporters(self, stage_index: int, n_stages: int, first_step: int,
                        dt_ps: float) -> list[Any]:
        """OpenMM reporters this transform needs while stage ``stage_index`` runs."""
        ...


Factory = Callable[[Any, BuiltSystem], SystemTransform]
_FACTORIES: dict[type, Factory] = {}


def register_transform(config_type: type, factory: Factory) -> None:
    """Make ``factory(block, built)`` the transform of config blocks of ``config_type``.

    Parameters
    ----------
    config_type : type
        The pydantic model of the config block (e.g. ``BiasConfig``).
    factory : callable
        ``factory(block, built) -> SystemTransform``.

    Raises
    ------
    ValueError
        ``config_type`` already has a different factory.
    """
    old = _FACTORIES.get(config_type)
    if old is not None and old is not factory:
        raise ValueError(f"{config_type.__name__} already has a transform factory ({old!r})")
    _FACTORIES[config_type] = factory


def make_transform(block: Any, built: BuiltSystem, field: str) -> SystemTransform:
    """The transform of config block ``block`` on ``built``.

    Raises
    ------
    ConfigError
        No factory is registered for the block's type (exit 2, naming ``field``).
    """
    factory = _FACTORIES.get(type(block))
    if factory is None:
        known = ", ".join(sorted(t.__name__ for t in _FACTORIES)) or "none"
        raise ConfigError(f"no System transform is registered for a {type(block).__name__} "
                          f"(registered: {known}); import the module that registers it "
                          f"(predesolv.freeenergy.bias registers BiasConfig)", field)
    return factory(block, built)


def registered_transforms() -> dict[str, str]:
    """Config type name -> factory name, for ``predesolv --version``-style reports."""
    return {t.__name__: getattr(f, "__qualname__", repr(f)) for t, f in _FACTORIES.items()}
