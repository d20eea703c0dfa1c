"""YAML → :class:`RunConfig`, with errors that name the YAML path, the value and the fix."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from predesolv.config.run import RunConfig
from predesolv.config.simulation import STAGE_TYPES
from predesolv.errors import ConfigError, MissingFileError


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    prev_int = False
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
            prev_int = True
            continue
        if prev_int and item in STAGE_TYPES:  # discriminated-union tag: not a YAML key
            prev_int = False
            continue
        prev_int = False
        if isinstance(item, str) and (item.startswith("function-") or "[" in item):
            continue
        parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``path: message (got VALUE)``, joined by ``; ``."""
    msgs = []
    for err in exc.errors(include_url=False):
        path = _loc_to_path(tuple(err.get("loc", ())))
        msg = err.get("msg", "")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if err.get("type") == "extra_forbidden":
            msg = "unknown key (not allowed here; check spelling, see `predesolv schema`)"
        elif err.get("type") == "missing":
            msg = "required field is missing"
        elif err.get("type") == "config":
            msgs.append(msg)  # cross-field message already names its path
            continue
        got = err.get("input")
        got_text = "" if err.get("type") in ("missing",) else f" (got {_short(got)})"
        if isinstance(got, dict):
            got_text = ""
        msgs.append(f"{path}: {msg}{got_text}" if path else f"{msg}{got_text}")
    return "; ".join(msgs)


def parse_config(data: Any, base_dir: str | Path = ".", source: str = "<dict>") -> RunConfig:
    """Validate a mapping (parsed YAML) into a :class:`RunConfig`.

    Parameters
    ----------
    data : dict
        The parsed YAML document.
    base_dir : path
        Directory against which relative input file paths are resolved.
    source : str
        Name used in error messages (the YAML file).

    Raises
    ------
    ConfigError
        Any invalid or missing value, naming the dotted path.
    """
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping with keys system, simulation, stages, "
            f"output (got {type(data).__name__})"
        )
    try:
        cfg = RunConfig.model_validate(data, context={"base_dir": str(base_dir)})
    except ValidationError as exc:
        raise ConfigError(f"{source}: {format_validation_error(exc)}") from None
    if cfg.simulation.seed is None:
        cfg.simulation.seed = secrets.randbelow(2**31 - 1)
        cfg._drawn_seeds.add("simulation.seed")
    if cfg.system.seed is None:
        cfg.system.seed = secrets.randbelow(2**31 - 1)
        cfg._drawn_seeds.add("system.seed")
    return cfg


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML config file.

    Raises
    ------
    MissingFileError
        The file does not exist.
    ConfigError
        YAML syntax error or invalid content.
    """
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"config file {str(path)!r} not found")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{p}: YAML syntax error{where}: {problem}") from None
    return parse_config(data, base_dir=p.resolve().parent, source=str(p))


def resolved_yaml(cfg: RunConfig) -> str:
    """The fully resolved config (defaults filled, seeds drawn, paths absolute) as YAML."""
    data = cfg.model_dump(mode="json", exclude_none=False)
    return yaml.safe_dump(data, sort_keys=False)
