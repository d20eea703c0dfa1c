"""E3-charges: which parts of the E2/E3 verdicts depend on the electrode charge and on the
ionic charges.

Ren et al. (2026) charge their slit walls with "excess Na atoms" (a field strength they do
not give; they call the model fictitious); predesolv's default is a fixed surface charge
σ = −0.05 C/m² on the slit walls and ionic charges scaled by 0.8. This study repeats E2/E3
two-CV insertion configs with one setting changed at a time — σ (0, −0.10, −0.15 C/m²) or
the charge scaling (1.0, full ionic charges) — and puts each beside the default, read from
the E2/E3 study of the same size run in the sibling folder ``<out>/../<study>-<size>`` (as
study E6 does). Each variant is the base config with only those fields changed (the base
file is read at run time, so the variants cannot drift from it); its PMF folder keeps the
config it ran.

For every base config the study writes one sentence per part of the verdict: the seed's
outcome (reproduced or not, only from converged surfaces), the insertion free energy (a
change is reported only where it exceeds twice the combined uncertainty) and the DME kept
inside. Fewer than two converged settings: the sentence says the dependence is not known.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from openmm import unit
from pydantic import Field, model_validator

from predesolv.config.base import StrictModel
from predesolv.config.loader import parse_config, read_config_yaml
from predesolv.config.units import QuantityField
from predesolv.errors import ConfigError
from predesolv.workflows.pmfdir import PMFDir

from .common import configs, load_study_config, studies_root
from .insertion import (
    config_pmf,
    insertion_beside,
    insertion_one,
    insertion_sigma,
    write_outputs,
)
from .result import Verdict

#: Times the combined uncertainty by which two insertion free energies must differ before
#: the study says ΔF_ins depends on the setting.
DIFFERENCE_SIGMAS = 2.0


class ChargeBase(StrictModel):
    """One E2/E3 config to repeat: the study and the config's stem (same size)."""

    study: Literal["E2", "E3"]
    config: str


class ChargeVariant(StrictModel):
    """One changed setting: a surface charge density of the slit walls, a charge scaling of
    the ions, or both."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.+-]+$")
    sigma: Annotated[Any, QuantityField("C/m**2", ge=-0.5, le=0.5)] | None = None
    charge_scaling: float | None = Field(default=None, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _changes_something(self) -> ChargeVariant:
        if self.sigma is None and self.charge_scaling is None:
            raise ValueError(f"variant {self.name!r}: give sigma (C/m**2), charge_scaling, "
                             f"or both")
        return self


class ChargesConfig(StrictModel):
    """The base configs and the settings to try on each."""

    states: list[ChargeBase] = Field(..., min_length=1)
    variants: list[ChargeVariant] = Field(..., min_length=1)


def base_config_path(state: ChargeBase, size: str) -> Path:
    """``studies/<study>/<size>/<config>.yaml``.

    Raises
    ------
    ConfigError
        No such config (the message lists the study's configs of that size).
    """
    folder = studies_root() / state.study / size
    path = folder / f"{state.config}.yaml"
    if not path.is_file():
        have = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ConfigError(f"study {state.study} ({size}) has no config {state.config!r}; it "
                          f"has {have}", "states")
    return path


def variant_config(base: Path, variant: ChargeVariant) -> Any:
    """The run config of ``base`` with the variant's σ and/or charge scaling (a
    :class:`~predesolv.config.RunConfig`).

    Raises
    ------
    ConfigError
        The base has no constant-charge electrode to change, or the changed config is invalid.
    """
    data = read_config_yaml(base)
    charge = ((data.get("system") or {}).get("electrode") or {}).get("charge") or {}
    if variant.sigma is not None:
        if charge.get("mode") != "constant_charge":
            raise ConfigError(f"variant {variant.name!r} sets sigma, but {base} has no "
                              f"constant_charge electrode", "variants")
        charge.pop("total", None)
        charge["sigma"] = f"{variant.sigma.value_in_unit(unit.coulomb / unit.meter**2):g} C/m**2"
    if variant.charge_scaling is not None:
        data["system"].setdefault("forcefield", {})["charge_scaling"] = variant.charge_scaling
    cfg = parse_config(data, base_dir=base.parent, source=f"{base} (variant {variant.name})")
    if cfg.pmf is None or cfg.pmf.cv2 is None:
        raise ConfigError(f"{base} is not a two-CV insertion config (pmf.cv2): a one-CV "
                          f"window keeps the shell its pull brought, so its verdict cannot "
                          f"show a dependence; name a *_2cv config", "states")
    return cfg


def digest_charges(folder: Path, out: Path) -> None:
    """Nothing to digest before a saved state leaves the windows' trajectories out: every
    variant is a two-CV surface, whose shell comes from the surface, not from the frames."""
    del folder, out


def settings_of(cfg: Any) -> dict[str, float]:
    """σ of the slit walls (C/m², NaN when given as a total charge) and the charge scaling
    of a run config."""
    charge = cfg.system.electrode.charge
    sigma = getattr(charge, "sigma", None)
    return {"sigma_C_per_m2": (float(sigma.value_in_unit(unit.coulomb / unit.meter**2))
                               if sigma is not None else float("nan")),
            "charge_scaling": float(cfg.system.forcefield.charge_scaling)}


def default_entry(out: Path, size: str, state: ChargeBase, base: Path) -> dict[str, Any]:
    """The default setting's entry, read from the E2/E3 study in ``out/../<study>-<size>``;
    marked not run when that folder holds no such row. σ and q are those its windows ran
    with (the base file's where no window is there to say)."""
    src, rows = insertion_beside(out, state.study, size)
    windows = PMFDir(src / state.config).window_dirs() if (src / state.config).is_dir() else []
    ran = (windows[0].load_config() if windows else
           parse_config(read_config_yaml(base), base.parent, str(base)))
    entry: dict[str, Any] = {"base": state.config, "setting": "default", **settings_of(ran),
                             "source": f"../{src.name}"}
    if state.config not in rows:
        return {**entry, "status": f"not run: `predesolv study {state.study} --size {size} "
                                   f"--out {src}`", "converged": False}
    return {**entry, **_entry_numbers(rows[state.config], config_pmf(src, state.config))}


def _entry_numbers(row: dict[str, Any], pmf: pd.DataFrame) -> dict[str, Any]:
    converged = bool(row.get("surface_converged"))
    ok = row.get("reproduced")
    return {"status": "converged" if converged else "not converged", "converged": converged,
            "dF_ins_kJ_per_mol": _num(row.get("dF_inside_kJ_per_mol")),
            "sigma_dF_kJ_per_mol": insertion_sigma(pmf),
            "DME_inside": _num(row.get("DME_inside")),
            "reproduced": ok if converged else None}


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def label(entry: dict[str, Any]) -> str:
    """``σ = -0.05 C/m², q × 0.8`` (``default`` appended for the default)."""
    text = f"σ = {entry['sigma_C_per_m2']:+.2f} C/m², q × {entry['charge_scaling']:g}"
    return text + " (default)" if entry["setting"] == "default" else text


def dependence(base: str, entries: list[dict[str, Any]]) -> list[Verdict]:
    """Three sentences for one base config: the seed's outcome, ΔF_ins and the DME kept
    inside, across the settings whose surfaces converged (``entries``: one per setting)."""
    done = [e for e in entries if e["converged"]]
    missing = "; ".join(f"{label(e)}: {e['status']}" for e in entries if not e["converged"])
    if len(done) < 2:
        text = (f"{base}: which parts of the verdict depend on σ and q is not known: "
                f"{len(done)} of {len(entries)} settings have a converged surface ({missing}).")
        return [Verdict(name=f"{base}: charge dependence", sentence=text)]
    rest = f" Not converged or not run: {missing}." if missing else ""
    said = [e for e in done if e["reproduced"] is not None]
    yes = [label(e) for e in said if e["reproduced"]]
    no = [label(e) for e in said if not e["reproduced"]]
    outcome = ("no converged setting gives a verdict" if not said else
               f"the seed's outcome is {'reproduced' if yes else 'NOT reproduced'} at every "
               f"converged setting ({'; '.join(yes or no)})" if not (yes and no) else
               f"the verdict depends on them: reproduced at {'; '.join(yes)}, NOT reproduced "
               f"at {'; '.join(no)}")
    return [Verdict(name=f"{base}: charge dependence",
                    sentence=f"{base}: {outcome}.{rest}", ok=None),
            Verdict(name=f"{base}: dF_ins vs charges", sentence=f"{base}: {_df_text(done)}"),
            Verdict(name=f"{base}: DME inside vs charges",
                    sentence=f"{base}: DME kept inside " + ", ".join(
                        f"{e['DME_inside']:.1f} ({label(e)})" for e in done) + ".")]


def _df_text(done: list[dict[str, Any]]) -> str:
    """ΔF_ins per setting and the pairs that differ by more than DIFFERENCE_SIGMAS times
    their combined uncertainty."""
    values = ", ".join(f"{e['dF_ins_kJ_per_mol']:+.1f} ± {e['sigma_dF_kJ_per_mol']:.1f} "
                       f"kJ/mol ({label(e)})" for e in done)
    differ = []
    for a, b in itertools.combinations(done, 2):
        gap = abs(b["dF_ins_kJ_per_mol"] - a["dF_ins_kJ_per_mol"])
        tol = DIFFERENCE_SIGMAS * float(np.hypot(a["sigma_dF_kJ_per_mol"],
                                                 b["sigma_dF_kJ_per_mol"]))
        if not (np.isfinite(gap) and np.isfinite(tol)):
            return f"ΔF_ins {values}; an uncertainty is missing, so no difference is claimed."
        if gap > tol:
            differ.append(f"{label(a)} vs {label(b)}")
    if not differ:
        return (f"ΔF_ins {values}; no two differ by more than {DIFFERENCE_SIGMAS:g}× their "
                f"combined uncertainty: not shown to depend on these settings.")
    return (f"ΔF_ins {values}; it depends on the setting ({'; '.join(differ)} differ by more "
            f"than {DIFFERENCE_SIGMAS:g}× their combined uncertainty).")


def run_charges(folder: Path, out: Path, opts: dict[str, Any]) -> dict[str, Path]:
    """Run every variant of every base config named in ``folder``'s config into
    ``out/<config>_<variant>/`` and write the insertion outputs, ``charges.csv`` (per base config
    the default, then its variants) and the study's summary."""
    (path,) = configs(folder)
    cfg = load_study_config(path, ChargesConfig, "an E3-charges")
    size = opts["size"]
    bases = [(s, base_config_path(s, size)) for s in cfg.states]
    runs = [(s, base, v, variant_config(base, v)) for s, base in bases for v in cfg.variants]
    results, variants, table, verdicts = [], [], [], []
    for state, base, variant, run_cfg in runs:
        name = f"{state.config}_{variant.name}"
        pmf, path_df, row = insertion_one(run_cfg, name, out / name, opts, str(base))
        setting = {"base": state.config, "setting": variant.name, **settings_of(run_cfg)}
        row.update(setting)
        results.append((pmf, path_df, row))
        variants.append({**setting, "source": name, **_entry_numbers(row, pmf)})
    for state, base in bases:  # per base config: the default, then its variants
        entries = [default_entry(out, size, state, base),
                   *(v for v in variants if v["base"] == state.config)]
        verdicts += dependence(state.config, entries)
        table += entries
    pmfs, paths, rows = (list(part) for part in zip(*results, strict=True))
    files = write_outputs(folder, out, opts, pmfs, paths, rows,
                          tables={"charges.csv": pd.DataFrame(table)},
                          more_verdicts=verdicts, configs_run=[path.stem])
    return files
