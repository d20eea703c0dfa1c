"""Named alternative parameter sets: explicit pair terms with their provenance.

A parameter set is a small YAML file (shipped ones in ``forcefields/sets/``) holding
``pair_overrides`` plus where they come from::

    name: na-c-ren2026
    description: Na+-graphene carbon LJ fitted to DFT migration barriers ...
    provenance: {method: ..., targets: ..., residuals: ..., command: ..., created: ...}
    pair_overrides:
      - {type1: NA_Na, type2: CAR_C, sigma: "0.24 nm", epsilon: "8.9 kJ/mol"}

A run selects one in its YAML (``system.forcefield.parameter_sets: [na-c-ren2026]``, or a
path to such a file); the config layer copies its pair overrides into
``forcefield.pair_overrides``, so the resolved ``config.yaml`` of every run records the
numbers actually used, not only the name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from predesolv.errors import ConfigError
from predesolv.forcefields.data import get_data_dir

SETS_DIR = "sets"
"""Folder of the shipped sets inside the force-field data directory."""


def sets_dir() -> Path:
    """Absolute path of the shipped parameter sets."""
    return Path(get_data_dir()) / SETS_DIR


def available_sets() -> list[str]:
    """Names of the shipped parameter sets (file stems in :func:`sets_dir`)."""
    return sorted(p.stem for p in sets_dir().glob("*.yaml"))


def set_path(name_or_path: str) -> Path:
    """File of a shipped set (by name) or of a set given by path.

    Raises
    ------
    ConfigError
        Neither a shipped set nor an existing file (the message lists the shipped ones).
    """
    p = Path(name_or_path).expanduser()
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p.resolve()
    shipped = sets_dir() / f"{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    raise ConfigError(
        f"forcefield.parameter_sets: {name_or_path!r} is neither a shipped parameter set "
        f"({', '.join(available_sets()) or 'none shipped'}) nor a .yaml file",
        "forcefield.parameter_sets")


def load_set(name_or_path: str) -> dict[str, Any]:
    """The parsed set: ``name``, ``description``, ``provenance``, ``pair_overrides`` and/or
    ``pair_potentials``.

    Raises
    ------
    ConfigError
        Unknown set, unreadable YAML, or a file with neither list.
    """
    path = set_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"forcefield.parameter_sets: cannot read {path}: {exc}",
                          "forcefield.parameter_sets") from exc
    if not isinstance(data, dict) or not any(
            isinstance(data.get(k), list) for k in ("pair_overrides", "pair_potentials")):
        raise ConfigError(f"forcefield.parameter_sets: {path} has neither a 'pair_overrides' "
                          "nor a 'pair_potentials' list", "forcefield.parameter_sets")
    data.setdefault("name", path.stem)
    return data


def write_set(path: str | Path, name: str, description: str, provenance: dict[str, Any],
              pair_overrides: list[dict[str, str]] | None = None,
              pair_potentials: list[dict[str, str]] | None = None) -> Path:
    """Write a parameter set file (the output of a fit) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {"name": name, "description": description, "provenance": provenance}
    if pair_overrides is not None:
        doc["pair_overrides"] = pair_overrides
    if pair_potentials is not None:
        doc["pair_potentials"] = pair_potentials
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
