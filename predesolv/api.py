"""The Python API: the same verbs as the command line (``predesolv.<verb>`` re-exports them).

It sits on top of every layer (config, builders, runner, run directory, analysis) and is the
one place that brings in :mod:`predesolv.freeenergy.bias`, whose import registers the bias
as a System transform (:mod:`predesolv.transforms`) for the runner.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import predesolv.freeenergy.bias  # noqa: F401  (registers the bias transform)
from predesolv.analysis import run_analyses
from predesolv.builder import build_system
from predesolv.built import BuiltSystem
from predesolv.config import RunConfig, parse_config
from predesolv.config import load_config as _load
from predesolv.errors import ConfigError, RunDirectoryError
from predesolv.rundir import RunDir
from predesolv.runner import Runner, RunResult, preflight
from predesolv.simulation import create_simulation

__all__ = ["analyze", "build", "create_simulation", "load_config", "run"]


def load_config(source: str | Path | dict[str, Any]) -> RunConfig:
    """A validated :class:`~predesolv.config.RunConfig` from a YAML file or a dict
    (relative paths in a dict are taken from the working directory)."""
    if isinstance(source, dict):
        return parse_config(source, base_dir=Path.cwd(), source="<dict>")
    return _load(source)


def build(config: RunConfig | str | Path | dict[str, Any]) -> BuiltSystem:
    """Build (or load) the system of a config, like ``predesolv build`` (no MD)."""
    cfg = config if isinstance(config, RunConfig) else load_config(config)
    return build_system(cfg.system)


def run(config: RunConfig | str | Path | dict[str, Any], out: str | Path | None = None, *,
        resume: bool = False, overwrite: bool = False, extend: bool = False,
        platform: str | None = None, reporters: list[Any] | None = None) -> RunResult:
    """Run a config into a run directory, like ``predesolv run`` (``out`` overrides
    ``output.directory``). The run directory is locked for the whole run.

    ``reporters``: your own OpenMM reporters (``describeNextReport``/``report``), attached to
    every production stage after predesolv's own, so a managed, resumable run also feeds
    them. A resumed run (``resume=True``) feeds the reporters of *that* call from its last
    checkpoint on: frames before the checkpoint were reported to the earlier call's."""
    cfg = config if isinstance(config, RunConfig) else load_config(config)
    if extend and not resume:
        raise ConfigError("--extend only goes with --resume", "--extend")
    rd = RunDir(out or cfg.output.directory)
    with rd.locked():  # one writer for the whole life of the run (build included)
        if resume and rd.has_inputs():
            runner = Runner.resume(rd, platform=platform, config=cfg, extend=extend)
            runner.user_reporters = list(reporters or [])
            return runner.run()
        if resume and not rd.config.is_file():
            raise RunDirectoryError(
                f"output.directory: {rd.path} holds no predesolv run (no config.yaml) to "
                f"resume; run without --resume")
        if resume:
            sys.stderr.write(f"note: {rd.path} holds an incomplete run (its input files were "
                             f"never all written); starting it anew\n")
        built = build_system(cfg.system)
        preflight(cfg, built)
        runner = Runner(cfg, built, rd, platform=platform)
        runner.user_reporters = list(reporters or [])
        return runner.run(overwrite=overwrite or resume)


def analyze(run_dir: str | Path, what: Any = None, **options: Any) -> dict[str, Path]:
    """Analyse a run directory, like ``predesolv analyze`` (see
    :class:`predesolv.analysis.pipeline.AnalysisOptions` for ``options``)."""
    return run_analyses(run_dir, what, **options)
