"""YAML → :class:`RunConfig`, with errors that name the YAML path, the value and the fix."""

from __future__ import annotations

import reprlib
import secrets
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from predesolv.config.run import RunConfig
from predesolv.config.simulation import STAGE_TYPES
from predesolv.errors import ConfigError, MissingFileError

#: Tags pydantic puts in error locations for discriminated unions (not YAML keys).
UNION_TAGS = frozenset({"constant_charge", "constant_potential"})


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    prev_int = False
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
            prev_int = True
            continue
        if (prev_int and item in STAGE_TYPES) or item in UNION_TAGS:
            prev_int = False  # discriminated-union tag: not a YAML key
            continue
        prev_int = False
        if isinstance(item, str) and (item.startswith("function-") or "[" in item):
            continue
        parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _short(value: Any) -> str:
    """``repr`` of a value cut to 60 characters (never the repr of a huge structure)."""
    if isinstance(value, (dict, list, tuple, set)) and len(value) > 8:
        return f"<{type(value).__name__} of {len(value)} items>"
    text = reprlib.repr(value) if isinstance(value, (dict, list, tuple, set)) else repr(value)
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


#: Largest config file read (bytes); configs are a few kB.
MAX_CONFIG_BYTES = 1 << 20
#: Largest number of YAML nodes after alias expansion, and deepest nesting.
MAX_NODES = 100_000
MAX_DEPTH = 64


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML forbids them; PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                first = seen.setdefault(key, line)
            except TypeError:
                continue  # unhashable key: the base class reports it
            if first != line:
                raise ConfigError(f"{self.name}: duplicate key {_short(key)} at line {line} "
                                  f"(first at line {first}); each key may appear once")
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: yaml.Node) -> tuple[int, int]:
    """(nodes after alias expansion, nesting depth) of a composed YAML document, computed
    once per distinct node so that an alias bomb costs linear time to measure."""
    memo: dict[int, tuple[int, int]] = {}

    def visit(n: yaml.Node, depth: int) -> tuple[int, int]:
        if depth > MAX_DEPTH:
            return MAX_NODES + 1, depth
        if id(n) in memo:
            return memo[id(n)]
        children: list[yaml.Node] = []
        if isinstance(n, yaml.SequenceNode):
            children = list(n.value)
        elif isinstance(n, yaml.MappingNode):
            children = [c for pair in n.value for c in pair]
        size, deepest = 1, 0
        for c in children:
            cs, cd = visit(c, depth + 1)
            size, deepest = min(size + cs, MAX_NODES + 1), max(deepest, cd)
        memo[id(n)] = (size, deepest + 1)
        return memo[id(n)]

    return visit(node, 0)


def _read_yaml(p: Path) -> Any:
    """Parse a config file safely: bounded size, strict UTF-8, no duplicate keys, bounded
    alias expansion and nesting (one-line ConfigError for each)."""
    raw = p.read_bytes()[: MAX_CONFIG_BYTES + 1]
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{p}: larger than {MAX_CONFIG_BYTES // 1024} KiB; a config is a few "
                          f"kB of YAML (is this the right file?)")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:200]:
        raise ConfigError(f"{p}: looks like UTF-16; save the YAML as UTF-8")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text (byte {exc.start}); save the YAML as UTF-8"
                          ) from None
    loader = _StrictLoader(text)
    loader.name = str(p)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size, depth = _expanded_size(node)
        if depth > MAX_DEPTH or size > MAX_NODES:
            what = (f"nested deeper than {MAX_DEPTH} levels" if depth > MAX_DEPTH else
                    f"expands to more than {MAX_NODES:,} values (YAML aliases)")
            raise ConfigError(f"{p}: the document {what}; a config is a small mapping")
        return loader.construct_document(node)
    except RecursionError:
        raise ConfigError(f"{p}: the document is nested too deeply to read") from None
    finally:
        loader.dispose()


def read_config_yaml(path: str | Path) -> Any:
    """The parsed YAML of a config file, with every reading error as one-line ConfigError.

    Raises
    ------
    MissingFileError
        The file does not exist.
    ConfigError
        Unreadable, oversized, non-UTF-8 or malformed YAML (duplicate keys, alias bombs,
        deep nesting).
    """
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(f"config file {str(path)[:200]!r} not found")
    try:
        return _read_yaml(p)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{p}: YAML syntax error{where}: {str(problem)[:120]}") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot be read ({exc.strerror or exc}) ") from None


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML config file (errors: see :func:`read_config_yaml`, plus
    invalid content as :class:`ConfigError` naming the field)."""
    p = Path(path)
    data = read_config_yaml(p)
    return parse_config(data, base_dir=p.resolve().parent, source=str(p))


def load_model(path: str | Path, model: Any) -> Any:
    """Read a YAML file into another pydantic config ``model`` (e.g. the barrier scan's)."""
    p = Path(path)
    data = read_config_yaml(p)
    try:
        return model.model_validate(data if data is not None else {},
                                    context={"base_dir": str(p.resolve().parent)})
    except ValidationError as exc:
        raise ConfigError(f"{p}: {format_validation_error(exc)}") from None


def resolved_yaml(cfg: RunConfig) -> str:
    """The fully resolved config (defaults filled, seeds drawn, paths absolute) as YAML."""
    data = cfg.model_dump(mode="json", exclude_none=False)
    return yaml.safe_dump(data, sort_keys=False)
