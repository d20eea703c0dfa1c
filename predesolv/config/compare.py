"""Compare a user's config with the one a run was made with (``--resume`` safety)."""

from __future__ import annotations

from typing import Any

from predesolv.config.run import RunConfig
from predesolv.errors import ConfigError

#: Fields that choose where or how fast a run goes, not what it computes.
NOT_PHYSICS = frozenset({
    "output.directory", "output.progress", "simulation.platform", "simulation.precision",
    "simulation.device_index", "simulation.cpu_threads",
})


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(obj, list) and obj and all(isinstance(v, dict) for v in obj):
        out = {}
        for i, v in enumerate(obj):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        if not obj:
            out[prefix] = []
        return out
    return {prefix: obj}


def config_changes(stored: RunConfig, new: RunConfig, ignore: tuple[str, ...] = ()
                   ) -> list[str]:
    """Dotted YAML paths whose values differ between ``stored`` and ``new`` (physics only;
    paths starting with any of ``ignore`` are not compared either).

    Seeds a user left out are drawn at random on loading; call :func:`adopt_drawn_seeds`
    first so that they do not count as changes.
    """
    a = _flatten(stored.model_dump(mode="json"))
    b = _flatten(new.model_dump(mode="json"))
    return sorted(k for k in set(a) | set(b)
                  if k not in NOT_PHYSICS and not k.startswith(ignore)
                  and a.get(k, "<absent>") != b.get(k, "<absent>"))


def describe_changes(stored: RunConfig, new: RunConfig, changes: list[str],
                     limit: int = 6) -> str:
    """``field: old -> new`` for the first ``limit`` of ``changes`` (values cut to 40
    characters), and how many more there are."""
    a = _flatten(stored.model_dump(mode="json"))
    b = _flatten(new.model_dump(mode="json"))
    shown = "; ".join(f"{k}: {str(a.get(k, '<absent>'))[:40]} -> {str(b.get(k, '<absent>'))[:40]}"
                      for k in changes[:limit])
    return shown + (f" (+{len(changes) - limit} more)" if len(changes) > limit else "")


def adopt_drawn_seeds(new: RunConfig, stored: RunConfig) -> None:
    """Give ``new`` the stored seeds wherever its own were drawn at random on loading (the
    user's YAML did not set them): leaving a seed out is not a change."""
    if "simulation.seed" in new.drawn_seeds:
        new.simulation.seed = stored.simulation.seed
    if "system.seed" in new.drawn_seeds:
        new.system.seed = stored.system.seed


def check_resume_config(stored: RunConfig, new: RunConfig, extend: bool) -> bool:
    """Refuse a resume whose config changes the physics; allow a longer last stage with
    ``extend``.

    Returns
    -------
    bool
        True when the last stage is extended (the stored config must be rewritten).

    Raises
    ------
    ConfigError
        Any change other than (with ``extend``) a longer last stage; the message lists the
        changed fields with both values.
    """
    adopt_drawn_seeds(new, stored)
    changes = config_changes(stored, new)
    if not changes:
        return False
    last = f"stages[{len(stored.stages) - 1}].duration"
    extendable = (extend and changes == [last] and len(new.stages) == len(stored.stages)
                  and new.stage_steps(len(new.stages) - 1)
                  > stored.stage_steps(len(stored.stages) - 1))
    if extendable:
        return True
    hint = (" (--extend allows only a longer last stage)" if extend else
            f"; to run the last stage longer use --resume --extend (changing only {last})")
    raise ConfigError(
        f"the config differs from the run's config.yaml in {describe_changes(stored, new, changes)}"
        f"; a resumed run must "
        f"use the same physics: undo the change, or start a new run in another directory"
        f"{hint}", "--resume")
