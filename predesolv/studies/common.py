"""What every study runner shares: where the studies live, the configs of one size, running one
MD config, and the measured speed of finished runs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pydantic
import yaml

import predesolv
from predesolv.errors import ConfigError
from predesolv.workflows.pmfdir import PMFDir

SIZES = ("smoke", "paper")


def studies_root() -> Path:
    """The ``studies/`` folder of the repository this package was installed from.

    Raises
    ------
    ConfigError
        Not found (a non-editable install without the repository).
    """
    root = Path(__file__).resolve().parents[2] / "studies"
    if not root.is_dir():
        raise ConfigError(f"the studies folder was not found at {root}; run studies from a "
                          f"clone of the repository (pip install -e .)", "study")
    return root


def results_root() -> Path:
    """``docs/results/studies/`` of the repository: the committed outputs of paper runs."""
    return studies_root().parent / "docs" / "results" / "studies"


def config_folder(folder: Path) -> str:
    """``folder`` relative to the repository (``studies/E1/paper``), else as given."""
    try:
        return Path(folder).resolve().relative_to(studies_root().parent).as_posix()
    except (ValueError, ConfigError):
        return str(folder)


def configs(folder: Path, only: Sequence[str] | None = None) -> list[Path]:
    """The YAML configs of one study size, sorted by name; with ``only`` (config stems, e.g.
    ``["lone_dme_0.8nm"]``) just those, still in name order.

    Raises
    ------
    ConfigError
        The folder holds no configs, or a name in ``only`` is not one of them (the message
        lists those there are).
    """
    found = sorted(folder.glob("*.yaml"))
    if not found:
        raise ConfigError(f"study folder {folder} holds no .yaml configs", "study")
    if only is None:
        return found
    stems = [p.stem for p in found]
    unknown = [name for name in only if name not in stems]
    if unknown or not only:
        raise ConfigError(f"--configs: {', '.join(unknown) or '(empty)'} is not a config of "
                          f"{config_folder(folder)}; choose from {', '.join(stems)}",
                          "--configs")
    wanted = set(only)
    return [p for p in found if p.stem in wanted]


_M = TypeVar("_M", bound=pydantic.BaseModel)


def load_study_config(path: Path, model: type[_M], what: str) -> _M:
    """A study's YAML config validated as ``model``; every invalid field named.

    Raises
    ------
    ConfigError
        Invalid values (``field.sub: message; ...``) or a file that is not a mapping
        (``not a <what> config``), with the file as the source.
    """
    try:
        return model(**(yaml.safe_load(path.read_text()) or {}))
    except pydantic.ValidationError as exc:
        found = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(found, str(path)) from None
    except (TypeError, yaml.YAMLError) as exc:
        raise ConfigError(f"not {what} config ({exc})", str(path)) from None


def run_config(path: Path, out: Path, opts: dict[str, Any]) -> Path:
    """Run one MD config of a study into ``out`` (resuming or replacing as asked)."""
    cfg = predesolv.load_config(path)
    resume = bool(opts.get("resume")) and (out / "config.yaml").is_file()
    predesolv.run(cfg, out=out, resume=resume, overwrite=bool(opts.get("overwrite")),
                  platform=opts.get("platform"))
    return out


def run_speed(run_dirs: Iterable[Path]) -> dict[str, Any]:
    """Median ns/day over the speed reports of ``run_dirs`` (their ``state.csv`` speed
    column), with the platform and thread count from the first run's provenance.

    Returns
    -------
    dict
        ``ns_per_day`` (float, NaN without a report), ``platform`` and ``threads`` (str or
        None).
    """
    speeds: list[float] = []
    platform, threads = None, None
    for run in run_dirs:
        if (run / "state.csv").is_file():
            df = pd.read_csv(run / "state.csv")
            col = next((c for c in df.columns if c.startswith("speed")), None)
            if col is not None:
                speeds += [float(v) for v in df[col].dropna() if v > 0]
        if platform is None and (run / "provenance.json").is_file():
            prov = json.loads((run / "provenance.json").read_text())
            platform = prov.get("platform")
            threads = (prov.get("platform_properties_used") or {}).get("Threads")
    return {"ns_per_day": float(np.median(speeds)) if speeds else float("nan"),
            "platform": platform, "threads": threads}


def measured_speed(root: Path) -> dict[str, Any]:
    """Median ns/day of the windows of the PMF ``root``, with the platform and thread count
    of its first window: the cost as measured (the keys of a PMF study's rows:
    ``ns_per_day_median``, ``platform``, ``threads``)."""
    speed = run_speed(d.path for d in PMFDir(root).window_dirs())
    return {"ns_per_day_median": speed["ns_per_day"], "platform": speed["platform"],
            "threads": speed["threads"]}
