"""predesolv: Na+ solvation and pre-desolvation at hard-carbon anodes, on OpenMM.

Verbs: validate, schema, platforms, build, export, run, analyze, pmf, barrier-scan, fit-na-c,
study (``predesolv VERB --help`` for each).

Exit status: 0 success, 2 bad input (config, files, platform, run directory), 1 runtime
failure (blow-up, interrupted), 130 interrupted by Ctrl-C. Errors are one line on stderr;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import predesolv
from predesolv import studies
from predesolv.analysis import run_analyses
from predesolv.analysis.fes2d_outputs import FES_JSON, format_fes_summary
from predesolv.analysis.pmf_outputs import BARRIERS_JSON, format_summary
from predesolv.builder import build_system
from predesolv.cli_args import build_parser
from predesolv.config import RunConfig, load_config, resolved_yaml
from predesolv.config.barrier import BarrierScanConfig
from predesolv.config.loader import load_model, read_config_yaml
from predesolv.config.simulation import usable_directory
from predesolv.errors import (
    AnalysisError,
    ConfigError,
    InputError,
    Interrupted,
    MissingFileError,
    PredesolvError,
    PredesolvRuntimeError,
    RunDirectoryError,
)
from predesolv.platforms import platform_table
from predesolv.provenance import provenance
from predesolv.quiet import QUIET_LOGGERS
from predesolv.rundir import RunDir
from predesolv.runner import preflight
from predesolv.simulation import prepare_system
from predesolv.stage_io import set_stop_after, sigterm_stops
from predesolv.studies import STUDY_FILE, StudyResult, canonical_id, format_study, run_study
from predesolv.systems.cell import reservoir_warnings
from predesolv.systems.cell_export import export_system
from predesolv.workflows.barrier_output import format_table
from predesolv.workflows.barrier_scan import run_barrier_scan
from predesolv.workflows.extension import save_pmf_state
from predesolv.workflows.na_c_fit import adsorption_check, fit_na_c, verify, write_fit
from predesolv.workflows.pmfdir import PMFDir
from predesolv.workflows.umbrella import check_pmf, estimate, run_pmf

EXIT_OK, EXIT_RUNTIME, EXIT_INPUT, EXIT_INTERRUPT = 0, 1, 2, 130


def _parse_cutoffs(text: str) -> dict[str, float]:

    out: dict[str, float] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip() or out.get(name.strip(), 0) <= 0:
            raise AnalysisError(
                f"--cutoffs: {item!r} is not NAME=NM with a positive number of nm "
                f"(e.g. 'DME=0.30,PF6=0.31')"
            )
    return out


def _parse_partners(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        kind, sep, sel = item.partition("=")
        if not sep or not kind.strip() or not sel.strip():
            raise ConfigError(f"--partner: {item!r} must be KIND=SELECTION, e.g. "
                              f"'DME=resname DME and name O*'", "--partner")
        out[kind.strip()] = sel.strip()
    return out


def _cmd_validate(args: argparse.Namespace) -> int:
    """Validate every config given; each bad one is named, the others still checked."""
    if len(args.config) == 1:
        return _validate_one(args.config[0], args.build)
    status = EXIT_OK
    for path in args.config:
        try:
            _validate_one(path, args.build)
        except InputError as exc:
            if args.debug:
                raise
            sys.stderr.write(f"predesolv: error: {path}: {exc}\n")
            status = EXIT_INPUT
    return status


def _validate_one(path: str, build: bool) -> int:

    data = read_config_yaml(path)
    if isinstance(data, dict) and "barrier_scan" in data:

        scan = load_model(path, BarrierScanConfig).barrier_scan
        print(f"{path}: OK (barrier scan, {len(scan.spacings)} spacings x "
              f"{len(scan.stackings)} stackings)")
        return EXIT_OK
    cfg = load_config(path)
    if build:

        built = build_system(cfg.system)
        preflight(cfg, built)
        if cfg.pmf is not None:

            check_pmf(cfg, built)
        for line in reservoir_warnings(built.metadata):
            sys.stderr.write(f"predesolv: warning: {line}\n")
    print(f"{path}: OK ({len(cfg.stages)} stages)")
    return EXIT_OK


def _cmd_schema(args: argparse.Namespace) -> int:

    model = BarrierScanConfig if args.kind == "barrier-scan" else RunConfig
    try:
        print(json.dumps(model.model_json_schema(), indent=2))
        sys.stdout.flush()
    except BrokenPipeError:  # `predesolv schema | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


def _cmd_platforms(args: argparse.Namespace) -> int:

    print(platform_table())
    return EXIT_OK


def _cmd_build(args: argparse.Namespace) -> int:
    from openmm import unit


    cfg = load_config(args.config)
    out = RunDir(args.out)
    with out.locked():
        built = build_system(cfg.system)
        out.clear_for_new_run(args.overwrite, "--out", "use --overwrite to replace it")
        system = prepare_system(built, cfg.simulation)  # the System the run will integrate
        out.write_inputs(resolved_yaml(cfg), system, built.topology, built.positions,
                         built.metadata, provenance=provenance({
                             "kind": "build", "system_seed": cfg.system.seed,
                             "n_atoms": system.getNumParticles(),
                             "hydrogen_mass_amu": None if cfg.simulation.hydrogen_mass is None
                             else cfg.simulation.hydrogen_mass.value_in_unit(unit.dalton)}))
    hmr = ("" if cfg.simulation.hydrogen_mass is None else
           f"; hydrogen masses repartitioned to {cfg.simulation.hydrogen_mass}")
    print(f"built {built.n_atoms} atoms ({len(built.frozen_indices())} frozen) into "
          f"{out.path}{hmr}")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:

    cfg = load_config(args.config)
    if cfg.system.from_files is not None:
        raise ConfigError(
            "export writes GROMACS/AMBER files for systems predesolv builds; a from_files "
            "system is already yours (convert it with parmed.openmm.load_topology directly)",
            "system.from_files")
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    out = RunDir(args.out)
    if out.has_any_run_file():
        raise RunDirectoryError(f"--out: {out.path} is a predesolv run or build folder; "
                                f"export into a folder of its own")
    if out.exists() and any(out.path.iterdir()) and not args.overwrite:
        raise RunDirectoryError(f"--out: {out.path} is not empty; use --overwrite to replace "
                                f"the exported files, or choose another folder")
    built = build_system(cfg.system)
    written = export_system(built, out.path, formats=formats, check=not args.no_check)
    for fmt, paths in written.items():
        print(f"{fmt}: {', '.join(str(p) for p in paths)}")
    if "check" in written:
        for fmt, r in json.loads(Path(written["check"][0]).read_text()).items():
            print(f"check {fmt}: export - OpenMM = {r['offset_kJ_per_mol']:.3f} kJ/mol "
                  f"(changes by {r['offset_change_kJ_per_mol']:.2g} when the electrolyte "
                  f"moves), max force difference {r['max_force_diff_kJ_per_mol_nm']:.2g} "
                  f"kJ/mol/nm")
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:

    t0 = time.perf_counter()
    result = predesolv.run(args.config, out=args.out, resume=args.resume,
                           overwrite=args.overwrite, extend=args.extend, platform=args.platform)
    dt = time.perf_counter() - t0
    print(f"run complete: {result.run_dir} ({result.steps} steps, {result.frames} frames, "
          f"platform {result.platform}, {dt:.1f} s)")
    return EXIT_OK


def _cmd_pmf(args: argparse.Namespace) -> int:

    cfg = load_config(args.config)
    t0 = time.perf_counter()
    if args.save_state:
        pdir, archive = PMFDir(Path(args.out or cfg.output.directory)), Path(args.save_state)
        print(studies.describe(save_pmf_state(cfg, pdir, archive, args.only_short), archive))
        return EXIT_OK
    if args.estimate_only:
        if cfg.pmf is None:
            raise ConfigError("pmf: the config has no 'pmf' block", "pmf")

        pdir = PMFDir(Path(args.out or cfg.output.directory))
        if not pdir.windows.is_dir():
            raise RunDirectoryError(f"pmf: {pdir.root} holds no windows to estimate from; run "
                                    f"predesolv pmf without --estimate-only first")
        with pdir.locked():
            pdir.claim(cfg, overwrite=False)  # the estimate uses these windows' physics
            _, files = estimate(pdir.root, cfg)
    else:
        files = run_pmf(cfg, out=args.out, serial=args.serial, platform=args.platform,
                        overwrite=args.overwrite, extend=args.extend,
                        only_short=args.only_short, continue_from=args.continue_from).files
    _print_pmf_summary(files)
    for name, path in files.items():
        print(f"{name}: {path}")
    print(f"pmf complete ({time.perf_counter() - t0:.1f} s)")
    return EXIT_OK


def _print_pmf_summary(files: dict[str, Path]) -> None:
    """The numbers a user came for (ΔF and barriers ± σ), read back from barriers.json."""

    path = files.get(BARRIERS_JSON)
    if path is not None and path.is_file():
        print(format_summary(json.loads(path.read_text())))
    surface = files.get(FES_JSON)  # a two-CV surface
    if surface is not None and surface.is_file():
        print(format_fes_summary(json.loads(surface.read_text())))


def _cmd_barrier_scan(args: argparse.Namespace) -> int:

    cfg = load_model(args.config, BarrierScanConfig)
    out = None
    if args.out:
        try:
            out = usable_directory(args.out)
        except ValueError as exc:
            raise ConfigError(f"--out: {args.out!r} {exc}", "--out") from None
    t0 = time.perf_counter()
    table = run_barrier_scan(cfg, out=out, overwrite=args.overwrite)
    print(format_table(table))
    for name, path in table.files.items():
        print(f"{name}: {path}")
    print(f"barrier scan complete ({time.perf_counter() - t0:.1f} s)")
    return EXIT_OK


def _refuse_live_run(args: argparse.Namespace, options: dict[str, object]) -> None:
    """A run still being written is analysed only with ``--live``, and then outside it."""

    holder = RunDir(args.run_dir).live_holder()
    if holder is None:
        return
    if not args.live:
        raise RunDirectoryError(
            f"{args.run_dir} is being written by a live predesolv process ({holder}); wait "
            f"for it to finish, or add --live to analyse the frames written so far into "
            f"another folder")
    run = Path(args.run_dir).resolve()
    out = Path(str(options.get("out_dir") or f"{run}_live_analysis")).resolve()
    if out == run or run in out.parents:
        raise ConfigError(f"--out: {out} lies inside the live run {run}; choose a folder "
                          f"outside it", "--out")
    options["out_dir"] = str(out)
    sys.stderr.write(f"predesolv: warning: {args.run_dir} is live ({holder}): analysing the "
                     f"frames written so far into {out}; the numbers will change\n")


def _cmd_analyze(args: argparse.Namespace) -> int:
    what = [w.strip() for w in args.what.split(",")] if args.what else None
    options: dict[str, object] = {
        k: getattr(args, k) for k in ("start", "stop", "step", "ion")
        if getattr(args, k) is not None
    }
    if args.cutoffs:
        options["cutoffs_nm"] = _parse_cutoffs(args.cutoffs)
    if args.cation:
        options["cation_selection"] = args.cation
    if args.partner:
        options["partner_selections"] = _parse_partners(args.partner)
    if args.profile_regions:
        options["profile_regions"] = [r.strip() for r in args.profile_regions.split(",")]
    if args.out:
        options["out_dir"] = args.out
    if args.verbose:
        options["verbose"] = True
    if not Path(args.run_dir).is_dir():

        raise MissingFileError(f"run directory {args.run_dir!r} not found")
    _refuse_live_run(args, options)
    written = run_analyses(args.run_dir, what=what, **options)
    for name, path in written.items():
        print(f"{name}: {path}")
    if "report.html" in written:
        print(f"open {written['report.html']} first: every figure with its table")
    return EXIT_OK


def _cmd_fit_na_c(args: argparse.Namespace) -> int:
    out = Path(args.out).absolute()
    set_out = Path(args.set_out).absolute() if args.set_out else out / "na-c-fit.yaml"
    if (out / "fit.json").exists() and not args.overwrite:
        raise RunDirectoryError(f"--out: {out} already holds a fit; use --overwrite to "
                                f"replace it or choose another --out")
    t0 = time.perf_counter()
    fit = fit_na_c(args.stacking)
    rows = verify(fit)
    ads = adsorption_check(fit)
    files = write_fit(fit, rows, ads, out, set_out, "predesolv fit-na-c " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in (("stacking", args.stacking),
                                                    ("set_out", args.set_out)) if v))
    b = fit.best
    print(f"fitted NA_Na–CAR_C ({fit.stacking}): sigma {b.sigma_nm:.4f} nm, "
          f"epsilon {b.epsilon_kJ_per_mol:.4f} kJ/mol; height {b.height_nm:.4f} nm "
          f"(target {fit.target_height_nm})")
    print("forcefield stacking d(nm)  barrier(eV)  DFT(eV)  residual(eV)")
    for r in rows:
        print(f"{r['forcefield']:>10} {r['stacking']:>8} {r['spacing_nm']:5.2f} "
              f"{r['barrier_eV']:12.4f} {r['seed_barrier_eV']:8.2f} {r['residual_eV']:+12.4f}")
    for name, path in files.items():
        print(f"{name}: {path}")
    print(f"fit complete ({time.perf_counter() - t0:.1f} s)")
    return EXIT_OK


def _cmd_study(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    if args.save_state:
        if args.configs is not None:
            raise ConfigError("--configs with --save-state: a packed state holds the whole "
                              "study folder; leave out --configs", "--configs")
        archive = Path(args.save_state)
        print(studies.describe(studies.save_study_state(args.study, args.size, args.out,
                                                       archive), archive))
        return EXIT_OK
    files = run_study(args.study, args.size, args.out, overwrite=args.overwrite,
                      resume=args.resume, platform=args.platform,
                      continue_from=args.continue_from, only=args.configs)
    summary = files.get(STUDY_FILE)
    if summary is not None and summary.is_file():
        print(format_study(StudyResult.read(summary)))
    for name, path in files.items():
        print(f"{name}: {path}")
    print(f"study {canonical_id(args.study)} ({args.size}) complete "
          f"({time.perf_counter() - t0:.1f} s)")
    return EXIT_OK


COMMANDS = {
    "validate": _cmd_validate,
    "schema": _cmd_schema,
    "platforms": _cmd_platforms,
    "build": _cmd_build,
    "export": _cmd_export,
    "run": _cmd_run,
    "analyze": _cmd_analyze,
    "pmf": _cmd_pmf,
    "barrier-scan": _cmd_barrier_scan,
    "fit-na-c": _cmd_fit_na_c,
    "study": _cmd_study,
}


class _CurrentStderr(logging.StreamHandler):
    """A stderr handler that writes to whatever ``sys.stderr`` is at emit time (notebooks and
    test capture replace it after the handler was made)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``predesolv`` command; returns the exit status."""
    args = build_parser(__doc__.splitlines()[0]).parse_args(argv)
    if not logging.getLogger("predesolv").handlers:
        handler = _CurrentStderr()
        handler.setLevel(logging.WARNING)  # run events go to log.txt, not the terminal
        handler.setFormatter(logging.Formatter("predesolv: %(levelname)s: %(message)s"))
        logging.getLogger("predesolv").addHandler(handler)
    if getattr(args, "debug", False):
        for name in QUIET_LOGGERS:  # third-party warnings, shown only when debugging
            noisy = _CurrentStderr()
            noisy.setFormatter(logging.Formatter(f"{name}: %(levelname)s: %(message)s"))
            logging.getLogger(name).addHandler(noisy)
    # the runner installs its own handler once MD starts
    with sigterm_stops("SIGTERM received outside a running MD stage (before one started, or "
                       "while Dask workers ran the tasks): what was saved stays (checkpoints "
                       "written so far; E7-search's minima so far); go on with --resume"):
        return _dispatch(args)


def _dispatch(args: argparse.Namespace) -> int:
    try:
        if getattr(args, "stop_after", None):
            set_stop_after(args.stop_after)  # read by every runner, here and in workers
        return COMMANDS[args.command](args)
    except InputError as exc:
        if args.debug:
            raise
        sys.stderr.write(f"predesolv: error: {exc}\n")
        return EXIT_INPUT
    except PredesolvRuntimeError as exc:
        if args.debug:
            raise
        stopped = isinstance(exc, Interrupted)
        sys.stderr.write(f"predesolv: {'stopped' if stopped else 'failed'}: {exc}\n")
        return EXIT_INTERRUPT if stopped else EXIT_RUNTIME
    except KeyboardInterrupt:
        sys.stderr.write("predesolv: aborted\n")
        return EXIT_INTERRUPT
    except (PredesolvError, OSError, MemoryError, RecursionError) as exc:
        if args.debug:
            raise
        sys.stderr.write(f"predesolv: failed: {type(exc).__name__}: {str(exc)[:200]}\n")
        return EXIT_RUNTIME


if __name__ == "__main__":
    raise SystemExit(main())
