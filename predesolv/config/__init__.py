"""Typed, validated configuration (pydantic v2) parsed from YAML.

>>> from predesolv.config import load_config
>>> cfg = load_config("examples/default.yaml")        # doctest: +SKIP

Every error is raised as :class:`predesolv.errors.ConfigError` naming the dotted YAML path
(``simulation.timestep``), the bad value and what is allowed.
"""

from __future__ import annotations

from predesolv.config.loader import load_config, parse_config, resolved_yaml
from predesolv.config.run import RunConfig

__all__ = ["RunConfig", "load_config", "parse_config", "resolved_yaml"]
