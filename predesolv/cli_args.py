"""The ``predesolv`` command line's argument parser (every verb and option); the verbs'
actions are in :mod:`predesolv.cli`."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from predesolv.config.simulation import PLATFORM_NAMES
from predesolv.version import __version__

#: Exit status of bad input (argparse's own).
EXIT_INPUT = 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2 already; keep one line
        self.print_usage(sys.stderr)
        sys.stderr.write(f"predesolv: error: {message}\n")
        raise SystemExit(EXIT_INPUT)


def build_parser(description: str) -> argparse.ArgumentParser:
    """The ``predesolv`` argument parser: every verb and its options."""
    p = Parser(prog="predesolv", description=description)
    p.add_argument("--version", action="version", version=f"predesolv {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    common = Parser(add_help=False)  # so `predesolv VERB ... --debug` works
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks")
    common.add_argument("--stop-after", metavar="DURATION", help="MD runs write a checkpoint "
                        "(0 K searches: their minima so far) and stop (exit 130) after this "
                        "wall time ('3.5 h', 'HH:MM:SS')")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    v = sub.add_parser("validate", parents=[common],
                       help="check a config without running anything")
    v.add_argument("config", nargs="+", help="one or more configs (e.g. examples/*.yaml)")
    v.add_argument("--build", action="store_true",
                   help="also build the system and run the checks that need it")

    sc = sub.add_parser("schema", parents=[common],
                        help="print the JSON Schema of the YAML config")
    sc.add_argument("--kind", choices=("run", "barrier-scan"), default="run",
                    help="run configs (run, pmf) or barrier-scan configs")
    sub.add_parser("platforms", parents=[common],
                   help="list OpenMM platforms, devices and load failures")

    b = sub.add_parser("build", parents=[common],
                       help="build the system files without running MD")
    b.add_argument("config")
    b.add_argument("--out", required=True, help="folder for system.xml, topology.pdb, ...")
    b.add_argument("--overwrite", action="store_true")

    e = sub.add_parser("export", parents=[common],
                       help="build and write GROMACS/AMBER files (constant charge)")
    e.add_argument("config")
    e.add_argument("--out", required=True, help="folder for the exported files")
    e.add_argument("--formats", default="gromacs,amber", help="gromacs, amber or both")
    e.add_argument("--overwrite", action="store_true", help="replace files in a non-empty --out")
    e.add_argument("--no-check", action="store_true",
                   help="skip reading the files back and comparing energies with OpenMM")

    r = sub.add_parser("run", parents=[common],
                       help="build and run the protocol of a config")
    r.add_argument("config")
    r.add_argument("--platform", type=platform_name, metavar="{" + ",".join(PLATFORM_NAMES) + "}",
                   help="override simulation.platform (any letter case)")
    r.add_argument("--out", help="override output.directory")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue an interrupted run")
    g.add_argument("--overwrite", action="store_true", help="replace an existing run")
    r.add_argument("--extend", action="store_true",
                   help="with --resume: allow a longer last stage (nothing else may change)")

    _add_free_energy_verbs(sub, common)

    _add_analyze_verb(sub, common)
    return p


def _add_free_energy_verbs(sub: Any, common: argparse.ArgumentParser
                           ) -> None:
    """The ``pmf`` and ``barrier-scan`` verbs."""
    pm = sub.add_parser("pmf", parents=[common],
                        help="umbrella sampling + MBAR along a CV (start run, pull, windows)")
    pm.add_argument("config")
    pm.add_argument("--out", help="override output.directory (the PMF folder)")
    pm.add_argument("--platform", type=platform_name,
                    metavar="{" + ",".join(PLATFORM_NAMES) + "}",
                    help="override simulation.platform for every run")
    pm.add_argument("--serial", action="store_true",
                    help="run the windows one after another in this process (no Dask)")
    pm.add_argument("--estimate-only", action="store_true",
                    help="only redo the MBAR estimate from the finished windows")
    pm.add_argument("--overwrite", action="store_true",
                    help="replace a PMF folder that was made with other physics")
    pm.add_argument("--extend", action="store_true",
                    help="sample longer: allow only a longer last window stage "
                         "(pmf.stages[-1].duration); finished windows run the extra steps")
    pm.add_argument("--only-short", action="store_true",
                    help="with --extend: extend only the finished windows with fewer "
                         "effective samples than pmf.estimator.min_effective_samples "
                         "(any CV); the others keep their length. With --save-state: only "
                         "those windows stay extendable (a smaller archive)")
    pm.add_argument("--save-state", metavar="FILE.tar.xz", help="run nothing: pack the PMF "
                    "folder small into FILE (docs/free_energy.md) for --continue")
    pm.add_argument("--continue", dest="continue_from", metavar="FILE.tar.xz", help="unpack "
                    "a --save-state FILE into the empty --out folder and go on there")

    bs = sub.add_parser("barrier-scan", parents=[common],
                        help="0 K migration barrier of a bare Na+ between graphene walls")
    bs.add_argument("config")
    bs.add_argument("--out", help="override output.directory")
    bs.add_argument("--overwrite", action="store_true", help="replace an existing scan")

    fn = sub.add_parser("fit-na-c", parents=[common],
                        help="fit the Na–C pair term to the DFT barriers and Na+ height; "
                             "writes a parameter set a YAML can select")
    fn.add_argument("--stacking", choices=("AB", "AA"), default="AB",
                    help="stacking of the fitted slits (default AB, graphite's)")
    fn.add_argument("--out", default="runs/fit_na_c", help="folder for fit.json, barriers.csv")
    fn.add_argument("--set-out", help="parameter-set file to write (default OUT/na-c-fit.yaml)")
    fn.add_argument("--overwrite", action="store_true", help="replace an existing fit")

    st = sub.add_parser("study", parents=[common],
                        help="run one of the papers' experiments (studies/<ID>) at a size")
    st.add_argument("study", help="study identifier: E0-E6, E3-charges, E5-MLIP, E7, E7-xTB, "
                                  "E7-search, E7-300K")
    st.add_argument("--size", choices=("smoke", "paper"), default="smoke",
                    help="smoke: mechanics, < 2 min on 2 cores; paper: the reported numbers")
    st.add_argument("--out", help="output folder (default runs/studies/<ID>-<size>)")
    st.add_argument("--platform", type=platform_name,
                    metavar="{" + ",".join(PLATFORM_NAMES) + "}",
                    help="override simulation.platform of the MD runs")
    st.add_argument("--configs", metavar="NAME[,NAME...]", type=config_names,
                    help="run only these configs of the size (file stems, comma-separated; "
                    "the summary lists only them)")
    sg = st.add_mutually_exclusive_group()
    sg.add_argument("--resume", action="store_true", help="continue an unfinished study")
    sg.add_argument("--overwrite", action="store_true", help="replace an existing study")
    sg.add_argument("--save-state", metavar="FILE.tar.xz", help="run nothing: pack the "
                    "study folder small into FILE (see studies/README.md) for --continue")
    sg.add_argument("--continue", dest="continue_from", metavar="FILE.tar.xz", help="unpack "
                    "a --save-state FILE into the empty --out folder and continue there")


def config_names(text: str) -> list[str]:
    """``--configs`` value: comma-separated config stems (``.yaml`` dropped), at least one."""
    names = [n.strip().removesuffix(".yaml") for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"{text!r}: give one or more config names, "
                                         "comma-separated (e.g. lone_dme_0.8nm)")
    return names


def platform_name(text: str) -> str:
    """``--platform`` value, matched case-insensitively against the known names."""
    for name in PLATFORM_NAMES:
        if text.lower() == name.lower():
            return name
    raise argparse.ArgumentTypeError(
        f"{text[:40]!r} is not a platform; choose from {', '.join(PLATFORM_NAMES)}")


def _add_analyze_verb(sub: Any, common: argparse.ArgumentParser) -> None:
    """The ``analyze`` verb."""
    a = sub.add_parser("analyze", parents=[common],
                       help="analyse a run directory (CSV + PNG into RUN_DIR/analysis)")
    a.add_argument("run_dir")
    a.add_argument("--what", default=None,
                   help="comma-separated analyses: rdf, coordination, speciation, profile, "
                        "tracked, residence, density, msd (default: all that apply)")
    a.add_argument("--start", type=int, help="first frame analysed")
    a.add_argument("--stop", type=int, help="frame after the last one analysed")
    a.add_argument("--step", type=int, help="analyse every STEP-th frame")
    a.add_argument("--cutoffs", help="first-shell cutoffs in nm per partner kind, e.g. "
                                     "'DME=0.30,PF6=0.31' (default: first RDF minimum)")
    a.add_argument("--ion", type=int, help="tracked ion (index within the cation group)")
    a.add_argument("--cation", help="MDAnalysis selection of the cations (systems without "
                                    "predesolv metadata), e.g. 'resname NA'")
    a.add_argument("--partner", action="append", metavar="KIND=SELECTION",
                   help="coordinating atoms of one partner kind, e.g. "
                        "'DME=resname DME and name O*' (repeatable)")
    a.add_argument("--profile-regions", help="regions used for the CN profile, e.g. "
                                             "'mouth,inside' (default: mouth and inside "
                                             "where the run has them, else all)")
    a.add_argument("--out", help="output folder (default RUN_DIR/analysis)")
    a.add_argument("--live", action="store_true",
                   help="analyse a run that is still being written (frames so far), into "
                        "--out (default RUN_DIR_live_analysis), never into the run")
    a.add_argument("--verbose", "-v", action="store_true",
                   help="progress bars for every pass over the trajectory")
