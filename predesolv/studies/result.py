"""A study's summary file as one typed object: :class:`StudyResult`.

Every study (``predesolv study ID``) ends by writing one ``study.json`` next to its tables
and run folders, and every reader (the CLI printout, ``studies/README.md``'s status column,
``scripts/paper_comparison.py``) reads it back through :meth:`StudyResult.read`. The file
name is spelled only here (:data:`STUDY_FILE`).

Layout (``schema_version`` 1): which study and size; what was run (the configs, one record
per run with its simulated length, platform and measured speed); the paper the study
reproduces (``seed``: its source and the numbers it reports); one verdict per criterion the
study tests; the headline numbers with their uncertainties and units; the study's table rows
unchanged; the names of its other output files. Unknown keys are refused.

Files written before ``schema_version`` existed (five shapes: E1, E5, E7, E7-300K and the
insertion studies E2-E4, among them the committed ``docs/results/studies/*-paper`` files) are
read by converting them (:meth:`StudyResult.from_legacy`): every number is carried over as
it is, nothing is recomputed.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from predesolv.atomic import atomic_write_json
from predesolv.config.loader import format_validation_error
from predesolv.errors import ConfigError, MissingFileError

#: Name of a study's summary file in its output folder.
STUDY_FILE = "study.json"
#: Version of the layout written by :meth:`StudyResult.write`.
SCHEMA_VERSION: Final = 1


def plain(obj: Any) -> Any:
    """``obj`` as plain JSON values: numpy scalars and arrays become Python values, tuples
    become lists, NaN and ±inf become None (a quantity that was not measured)."""
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [plain(v) for v in (obj.tolist() if isinstance(obj, np.ndarray) else obj)]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


#: A float that may be missing: NaN/inf (not measured) are stored as None.
Num = Annotated[float | None, BeforeValidator(plain)]
#: One cell of a table row.
Cell = bool | int | float | str | None | list[float | int | None]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Quantity(_Model):
    """One named number.

    Attributes
    ----------
    name : str
        What it is, as the study's table names it (``CN_NaO``, ``dG_eV``).
    subject : str or None
        What it belongs to: a system, config, surface or step (``"pristine_zigzag 3→2"``).
    value : float or None
        The number, in ``unit``; None where the run did not measure it.
    uncertainty : float or None
        One standard error (block or bootstrap, as the study states), in ``unit``; None
        where the study gives none.
    unit : str
        ``nm``, ``ps``, ``eV``, ``kJ/mol``, ...; ``1`` for a count or a fraction.
    """

    name: str
    subject: str | None = None
    value: Num
    uncertainty: Num = None
    unit: str


class Verdict(_Model):
    """One criterion a study tests and what the run says about it.

    Attributes
    ----------
    name : str
        What it is about (a config, a force field and stacking, ``three_to_two``).
    criterion : str or None
        The paper's statement or the test, as the study has it (None where the paper says
        nothing about this case).
    sentence : str
        The verdict, generated from the numbers.
    ok : bool or None
        Reproduced / within tolerance (True), not (False), not tested or not a yes/no
        question (None).
    """

    name: str
    criterion: str | None = None
    sentence: str
    ok: bool | None = None


class Seed(_Model):
    """The paper a study reproduces.

    Attributes
    ----------
    source : str
        Citation and what in it is compared.
    numbers : list of Quantity
        The paper's values the study compares with (where it reports them outside the rows).
    """

    source: str
    numbers: list[Quantity] = []

    def number(self, name: str) -> Quantity:
        """The paper's value called ``name`` (KeyError naming the ones there are)."""
        return _find(self.numbers, name, None)


class RunRecord(_Model):
    """One unit of work of a study: an MD run, a PMF, a barrier scan, a surface.

    Attributes
    ----------
    name : str
        The config stem, system or surface.
    n_windows : int or None
        Umbrella windows (PMF studies).
    production_ps, production_ps_max : float or None
        Production simulated (ps): per run, or per window for a PMF (shortest and longest).
    wall_s : float or None
        Wall time measured (s), where the study records it.
    platform, threads : str or None
        OpenMM platform and its thread count as the run's provenance records them.
    ns_per_day : float or None
        Measured speed: the median over the run's (or its windows') reports (ns/day).
    forcefield : dict or None
        The force-field record of a barrier scan (E5), as the scan wrote it.
    """

    name: str
    n_windows: int | None = None
    production_ps: Num = None
    production_ps_max: Num = None
    wall_s: Num = None
    platform: str | None = None
    threads: str | None = None
    ns_per_day: Num = None
    forcefield: dict[str, Any] | None = None

    @field_validator("forcefield", mode="before")
    @classmethod
    def _plain_forcefield(cls, value: Any) -> Any:
        return plain(value)


class Setting(_Model):
    """One input of the study that is not in its configs' own files.

    Attributes
    ----------
    name : str
        ``n_starts``, ``path_cutoff_DME``, ...
    value : bool, int, float, str or None
    unit : str or None
        None for a count or a text.
    """

    name: str
    value: Annotated[bool | int | float | str | None, BeforeValidator(plain)]
    unit: str | None = None


class WhatWasRun(_Model):
    """What a study ran.

    Attributes
    ----------
    folder : str
        The folder of configs (``studies/<ID>/<size>``, relative to the repository).
    configs : list of str
        The config stems, in the order run.
    n_runs : int
        Number of run records (``len(runs)``).
    n_windows : int or None
        Umbrella windows over all runs (None where no run has windows).
    runs : list of RunRecord
    settings : list of Setting
    geometry : str or None
        The simulated geometry in words, where the study states it.
    """

    folder: str
    configs: list[str]
    n_runs: int = Field(ge=0)
    n_windows: int | None = None
    runs: list[RunRecord]
    settings: list[Setting] = []
    geometry: str | None = None

    @model_validator(mode="after")
    def _counts_match(self) -> WhatWasRun:
        if self.n_runs != len(self.runs):
            raise ValueError(f"n_runs: {self.n_runs} but {len(self.runs)} runs listed")
        if self.n_windows != _window_total(self.runs):
            raise ValueError(f"n_windows: {self.n_windows} but the runs list "
                             f"{_window_total(self.runs)}")
        return self

    @classmethod
    def of(cls, folder: str, configs: Sequence[str], runs: Sequence[RunRecord],
           settings: Sequence[Setting] = (), geometry: str | None = None) -> WhatWasRun:
        """The record with its counts filled in from ``runs``."""
        return cls(folder=folder, configs=list(configs), n_runs=len(runs),
                   n_windows=_window_total(runs), runs=list(runs), settings=list(settings),
                   geometry=geometry)


def _window_total(runs: Sequence[RunRecord]) -> int | None:
    counts = [r.n_windows for r in runs if r.n_windows is not None]
    return sum(counts) if counts else None


def _find(numbers: Iterable[Quantity], name: str, subject: str | None) -> Quantity:
    found = [q for q in numbers if q.name == name and (subject is None or q.subject == subject)]
    if len(found) != 1:
        have = sorted({f"{q.name} ({q.subject})" if q.subject else q.name for q in numbers})
        raise KeyError(f"{len(found)} numbers called {name!r}"
                       + (f" for {subject!r}" if subject else "") + f"; have {have}")
    return found[0]


#: The row columns a study lists as ``numbers``, by study kind: (columns that name the
#: subject, ((value column, uncertainty column or None, unit), ...)).
HEADLINES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str | None, str], ...]]] = {
    "E1": (("system",), (("CN_NaO", "CN_NaO_sem", "1"), ("DME_per_Na", "DME_per_Na_sem", "1"),
                         ("bidentate_fraction", "bidentate_fraction_sem", "1"),
                         ("PF6_per_Na", "PF6_per_Na_sem", "1"), ("NaO_peak_nm", None, "nm"))),
    "E5": (("forcefield", "stacking", "spacing_nm"), (("barrier_eV", None, "eV"),
                                                      ("residual_eV", None, "eV"))),
    "E7": (("surface", "step"), (("E_desolv_eV", None, "eV"), ("E_desolv_xTB_eV", None, "eV"),
                                 ("E_desolv_xTB_any_eV", None, "eV"))),
    "E7-300K": (("surface", "step"), (("dG_eV", "sigma_eV", "eV"),)),
    "E6": (("pair",), (("dV_V", "sigma_V", "V"),)),
    "insertion": (("config",), (("dF_inside_kJ_per_mol", None, "kJ/mol"),
                                ("F_max_connected_kJ_per_mol", None, "kJ/mol"),
                                ("DME_reservoir", None, "1"), ("DME_inside", None, "1"),
                                ("cation_bound_fraction_inside", None, "1"))),
}


def numbers_from_rows(kind: str, rows: Iterable[Mapping[str, Any]]) -> list[Quantity]:
    """The headline numbers of a study's rows (:data:`HEADLINES` ``[kind]``), copied as they
    are; a column a row does not have is left out."""
    subject_cols, specs = HEADLINES[kind]
    return [Quantity(name=col, subject=" ".join(str(r[c]) for c in subject_cols),
                     value=r[col], uncertainty=r.get(sem) if sem else None, unit=unit)
            for r in rows for col, sem, unit in specs if col in r]


class StudyResult(_Model):
    """Everything a study reports, as written to and read from its ``study.json``.

    Attributes
    ----------
    schema_version : int
        :data:`SCHEMA_VERSION`.
    study : str
        The study's identifier (``E1``, ``E7-300K``).
    size : {"smoke", "paper"}
    part : str or None
        Which part of the paper's experiment this study covers, where it covers one part.
    what_was_run : WhatWasRun
    platform : str or None
        The OpenMM platform(s) of the runs (comma-separated if several); None if unknown.
    speed_ns_per_day : float or None
        Median of the runs' measured speeds (ns/day); None for studies without MD or
        without a measurement.
    seed : Seed or None
        The paper reproduced.
    verdicts : list of Verdict
    numbers : list of Quantity
        Headline numbers (:data:`HEADLINES`) and the study's numbers outside its rows.
    rows : list of dict
        The study's table, one dict of plain values per row (None where a value is NaN).
    files : list of str
        Names of the study's other output files in the same folder.
    definition, note : str or None
        How the numbers are defined; caveats.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    study: str = Field(min_length=1)
    size: Literal["smoke", "paper"]
    part: str | None = None
    what_was_run: WhatWasRun
    platform: str | None = None
    speed_ns_per_day: Num = None
    seed: Seed | None = None
    verdicts: list[Verdict] = []
    numbers: list[Quantity] = []
    rows: list[dict[str, Cell]] = []
    files: list[str] = []
    definition: str | None = None
    note: str | None = None

    @field_validator("rows", mode="before")
    @classmethod
    def _plain_rows(cls, value: Any) -> Any:
        return plain(value)

    @classmethod
    def new(cls, study: str, size: str, what_was_run: WhatWasRun, **fields: Any) -> StudyResult:
        """A result whose ``platform`` and ``speed_ns_per_day`` summarise its runs."""
        runs = what_was_run.runs
        platforms = list(dict.fromkeys(r.platform for r in runs if r.platform))
        speeds = [r.ns_per_day for r in runs if r.ns_per_day is not None]
        return cls(study=study, size=size, what_was_run=what_was_run,
                   platform=", ".join(platforms) or None,
                   speed_ns_per_day=statistics.median(speeds) if speeds else None, **fields)

    def number(self, name: str, subject: str | None = None) -> Quantity:
        """The number called ``name`` (of ``subject``); KeyError naming the ones there are."""
        return _find(self.numbers, name, subject)

    def verdict(self, name: str) -> Verdict:
        """The verdict about ``name``; KeyError naming the ones there are."""
        found = [v for v in self.verdicts if v.name == name]
        if not found:
            raise KeyError(f"no verdict {name!r}; have {[v.name for v in self.verdicts]}")
        return found[0]

    def setting(self, name: str) -> Any:
        """The value of the setting ``name`` (None if the study does not record it)."""
        return next((s.value for s in self.what_was_run.settings if s.name == name), None)

    @staticmethod
    def file_in(folder: str | Path) -> Path:
        """Where a study's summary lies in its output folder ``folder``."""
        return Path(folder) / STUDY_FILE

    def write(self, folder: str | Path) -> Path:
        """Write ``folder/study.json`` atomically (strict JSON) and return its path."""
        path = self.file_in(folder)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, self.model_dump(mode="json"))
        return path

    @classmethod
    def read(cls, path: str | Path) -> StudyResult:
        """Read a study's summary: ``path`` is the file or its folder. A file without
        ``schema_version`` is converted (:meth:`from_legacy`).

        Raises
        ------
        MissingFileError
            No such file.
        ConfigError
            Not JSON, or a key that does not belong (named), or a missing or mistyped value.
        """
        path = Path(path)
        file = cls.file_in(path) if path.is_dir() else path
        if not file.is_file():
            raise MissingFileError(f"{file}: no study summary here (run `predesolv study`)")
        try:
            data = json.loads(file.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: the top level must be a JSON object")
        try:
            return cls.from_legacy(data) if "schema_version" not in data else \
                cls.model_validate(data)
        except ConfigError as exc:
            raise ConfigError(f"{file}: {exc}") from None
        except ValidationError as exc:
            raise ConfigError(f"{file}: {format_validation_error(exc)}") from None

    @classmethod
    def from_legacy(cls, data: Mapping[str, Any]) -> StudyResult:
        """Convert a summary written before ``schema_version`` existed (the E1, E5, E7,
        E7-300K and E2-E4 shapes), carrying every value over unchanged.

        Raises
        ------
        ConfigError
            Not one of those shapes, a key the shape does not have, or a key it needs missing.
        """
        marker = next((k for k in _LEGACY if k in data), None)
        if marker is None:
            raise ConfigError(f"not a study summary: no schema_version and none of "
                              f"{sorted(_LEGACY)} (keys: {sorted(data)})")
        convert, allowed = _LEGACY[marker]
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(f"unknown key (not in a {marker!r} study summary)", unknown[0])
        try:
            return convert(data)
        except KeyError as exc:
            raise ConfigError("required key is missing", str(exc.args[0])) from None


def _folder(data: Mapping[str, Any]) -> str:
    """Where ``predesolv study`` took the configs from (a legacy file does not record it)."""
    return f"studies/{data['study']}/{data['size']}"


def _legacy_e1(d: Mapping[str, Any]) -> StudyResult:
    rows = d["rows"]
    runs = [RunRecord(name=r["system"], production_ps=r.get("production_ps")) for r in rows]
    aimd = d["aimd"]
    seed = Seed(source=aimd["source"], numbers=[Quantity(name=k, value=v, unit="1")
                                                for k, v in aimd.items() if k != "source"])
    return StudyResult.new(d["study"], d["size"], WhatWasRun.of(
        _folder(d), [r.name for r in runs], runs), seed=seed,
        numbers=numbers_from_rows("E1", rows), rows=rows, files=["e1_table.csv"],
        note=d.get("note"))


def _legacy_e5(d: Mapping[str, Any]) -> StudyResult:
    runs = [RunRecord(name=k, forcefield=v) for k, v in d["forcefields"].items()]
    verdicts = [Verdict(name=k, criterion="all_within_0.05_eV",
                        sentence=f"{k}: {'every' if ok else 'not every'} barrier within 0.05 eV "
                                 "of the seed's DFT barrier", ok=ok)
                for k, ok in d.get("all_within_0.05_eV", {}).items()]
    return StudyResult.new(d["study"], d["size"], WhatWasRun.of(
        _folder(d), [r.name for r in runs], runs), seed=Seed(source=d["seed"]),
        verdicts=verdicts, numbers=numbers_from_rows("E5", d["rows"]), rows=d["rows"],
        files=["e5_barriers.csv", "e5_barriers.png"])


def _legacy_e7(d: Mapping[str, Any]) -> StudyResult:
    runs = [RunRecord(name=k, wall_s=v) for k, v in d.get("wall_s", {}).items()]
    settings = [Setting(name="n_starts", value=d["n_starts"])]
    settings += [Setting(name=k, value=d[k]) for k in ("charge_scaling",
                                                       "gas_phase_electrostatics") if k in d]
    numbers = [Quantity(name="E_EC_kJ_per_mol", value=d["E_EC_kJ_per_mol"], unit="kJ/mol")]
    return StudyResult.new(d["study"], d["size"], WhatWasRun.of(
        _folder(d), ["static"], runs, settings, d.get("geometry")), part=d.get("part"),
        numbers=numbers + numbers_from_rows("E7", d["rows"]), rows=d["rows"],
        files=["e7_static.csv", "e7_minima.csv", "e7_static.png"],
        definition=d.get("definition"))


def _legacy_e7_300k(d: Mapping[str, Any]) -> StudyResult:
    runs = [RunRecord(name=s["surface"], n_windows=s.get("n_windows"),
                      production_ps=s.get("production_ps_per_window"),
                      production_ps_max=s.get("production_ps_max"), platform=s.get("platform"),
                      threads=s.get("threads"), ns_per_day=s.get("ns_per_day_median"))
            for s in d.get("surfaces", [])]
    verdict = Verdict(name="three_to_two", criterion=d.get("seed"), sentence=d["three_to_two"])
    return StudyResult.new(d["study"], d["size"], WhatWasRun.of(
        _folder(d), [r.name for r in runs], runs), seed=Seed(source=d["seed"]),
        verdicts=[verdict], numbers=numbers_from_rows("E7-300K", d["rows"]), rows=d["rows"],
        files=["e7_300k_steps.csv", "e7_300k_pmf.csv", "e7_300k.png"],
        definition=d.get("definition"))


def insertion_runs(rows: Iterable[Mapping[str, Any]]) -> list[RunRecord]:
    """One run record per insertion row (the PMF's windows, length, platform, speed)."""
    return [RunRecord(name=r["config"], n_windows=r.get("n_windows"),
                      production_ps=r.get("production_ps_per_window"),
                      platform=r.get("platform"), threads=r.get("threads"),
                      ns_per_day=r.get("ns_per_day_median")) for r in rows]


def insertion_verdicts(rows: Iterable[Mapping[str, Any]]) -> list[Verdict]:
    """One verdict per insertion row: the seed's outcome, the sentence, reproduced or not."""
    return [Verdict(name=r["config"], criterion=r.get("seed"), sentence=r["sentence"],
                    ok=r.get("reproduced")) for r in rows]


def insertion_settings(cutoffs_nm: Mapping[str, float], inside_nm: float,
                       reservoir_nm: float) -> list[Setting]:
    """The path analysis' first-shell cutoffs and the depths that define inside/reservoir."""
    return [*(Setting(name=f"path_cutoff_{k}", value=v, unit="nm") for k, v in cutoffs_nm.items()),
            Setting(name="inside_from", value=inside_nm, unit="nm"),
            Setting(name="reservoir_to", value=reservoir_nm, unit="nm")]


def _legacy_insertion(d: Mapping[str, Any]) -> StudyResult:
    rows = d["rows"]
    runs = insertion_runs(rows)
    settings = insertion_settings(d["path_cutoffs_nm"], d["inside_from_nm"],
                                  d["reservoir_to_nm"])
    return StudyResult.new(d["study"], d["size"], WhatWasRun.of(
        _folder(d), [r.name for r in runs], runs, settings),
        seed=Seed(source=d["seed_source"]), verdicts=insertion_verdicts(rows),
        numbers=numbers_from_rows("insertion", rows), rows=rows,
        files=["insertion_pmf.csv", "insertion_path.csv", "insertion.png"], note=d.get("note"))


#: Legacy shapes: a key only that shape has -> (converter, every key the shape may hold).
_LEGACY: dict[str, tuple[Any, set[str]]] = {
    "aimd": (_legacy_e1, {"study", "size", "rows", "aimd", "note"}),
    "forcefields": (_legacy_e5, {"study", "size", "rows", "forcefields", "all_within_0.05_eV",
                                 "seed"}),
    "E_EC_kJ_per_mol": (_legacy_e7, {"study", "part", "size", "charge_scaling",
                                     "gas_phase_electrostatics", "n_starts", "E_EC_kJ_per_mol",
                                     "rows", "wall_s", "definition", "geometry"}),
    "three_to_two": (_legacy_e7_300k, {"study", "size", "rows", "surfaces", "three_to_two",
                                       "seed", "definition"}),
    "seed_source": (_legacy_insertion, {"study", "size", "rows", "seed_source", "path_cutoffs_nm",
                                        "inside_from_nm", "reservoir_to_nm", "note"}),
}
