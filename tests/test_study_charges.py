"""Study E3-charges: the E2/E3 two-CV configs with the wall charge or the ionic charge scaling
changed, beside the default; which parts of a verdict depend on them."""

from __future__ import annotations

import numpy as np
import openmm
import pandas as pd
import pytest
import yaml

import predesolv
from predesolv.cli import main
from predesolv.errors import ConfigError
from predesolv.studies import studies_root
from predesolv.studies.charges import (
    ChargesConfig,
    ChargeVariant,
    default_entry,
    dependence,
    variant_config,
)
from predesolv.studies.common import load_study_config
from predesolv.studies.result import StudyResult
from predesolv.workflows.pmfdir import PMFDir

E2_SMOKE_2CV = studies_root() / "E2" / "smoke" / "slit_0.6nm_2cv.yaml"


def _charges(cfg) -> dict[str, np.ndarray]:
    """Per-atom charges (e) of a built config, by residue name."""
    built = predesolv.build(cfg)
    (nb,) = [f for f in built.system.getForces() if isinstance(f, openmm.NonbondedForce)]
    out: dict[str, list[float]] = {}
    for atom in built.topology.atoms():
        q = nb.getParticleParameters(atom.index)[0]
        out.setdefault(atom.residue.name, []).append(q.value_in_unit(openmm.unit.elementary_charge))
    return {k: np.array(v) for k, v in out.items()}


def test_variants_change_only_their_field_and_the_built_charges_follow():
    """Each paper variant's config equals its base file with one field changed (the base
    re-read with plain YAML, the field set by hand); built from E2 smoke's cell, σ = -0.10
    doubles every charged wall carbon of the default (-0.05), σ = 0 leaves none charged, and
    full ionic charges give Na+ +1 and PF6- -1 (0.8 and -0.8 by default)."""
    cfg = load_study_config(studies_root() / "E3-charges" / "paper" / "charges.yaml",
                            ChargesConfig, "an E3-charges")
    assert [v.name for v in cfg.variants] == ["sigma0", "sigma-0.10", "sigma-0.15", "q1.0"]
    for state in cfg.states:
        base = studies_root() / state.study / "paper" / f"{state.config}.yaml"
        for v in cfg.variants:
            data = yaml.safe_load(base.read_text())
            if v.sigma is not None:
                data["system"]["electrode"]["charge"]["sigma"] = f"{v.name[5:] or 0} C/m**2"
            else:
                data["system"]["forcefield"]["charge_scaling"] = 1.0
            want = predesolv.load_config(data).model_dump(mode="json")
            got = variant_config(base, v).model_dump(mode="json")
            assert got == want, (state.config, v.name)
    default = _charges(predesolv.load_config(E2_SMOKE_2CV))
    double = _charges(variant_config(E2_SMOKE_2CV, ChargeVariant(name="s", sigma="-0.1 C/m**2")))
    zero = _charges(variant_config(E2_SMOKE_2CV, ChargeVariant(name="z", sigma="0 C/m**2")))
    full = _charges(variant_config(E2_SMOKE_2CV, ChargeVariant(name="q", charge_scaling=1.0)))
    charged = np.abs(default["GRA"]) > 1e-9
    assert charged.sum() > 0
    np.testing.assert_allclose(double["GRA"], 2 * default["GRA"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(zero["GRA"], 0.0, atol=1e-12)
    np.testing.assert_allclose(full["GRA"], default["GRA"], atol=1e-12)
    for name, per_ion, atoms in (("NA", 1.0, 1), ("PF6", -1.0, 7)):
        n_ions = len(default[name]) // atoms
        assert default[name].sum() == pytest.approx(0.8 * per_ion * n_ions, abs=1e-9)
        assert full[name].sum() == pytest.approx(per_ion * n_ions, abs=1e-9)


def test_bad_variants_and_bases_are_input_errors():
    with pytest.raises(Exception, match="give sigma"):
        ChargeVariant(name="nothing")
    one_cv = studies_root() / "E2" / "smoke" / "slit_0.6nm.yaml"
    with pytest.raises(ConfigError, match="not a two-CV insertion config"):
        variant_config(one_cv, ChargeVariant(name="z", sigma="0 C/m**2"))


def _entry(setting, sigma, q, dF, err, dme, ok, converged=True):
    return {"base": "b", "setting": setting, "sigma_C_per_m2": sigma, "charge_scaling": q,
            "status": "converged" if converged else "not converged", "converged": converged,
            "dF_ins_kJ_per_mol": dF, "sigma_dF_kJ_per_mol": err, "DME_inside": dme,
            "reproduced": ok if converged else None}


def test_dependence_sentences_by_hand():
    """Default and σ = 0 agree (|ΔΔF| = 1 < 2·√2), σ = -0.15 differs from both (8 and 7 >
    2·√2 kJ/mol); the seed's outcome flips at σ = -0.15; the unconverged q = 1.0 is listed,
    not used. With one converged setting the dependence is 'not known'."""
    entries = [_entry("default", -0.05, 0.8, -10.0, 1.0, 1.2, True),
               _entry("sigma0", 0.0, 0.8, -9.0, 1.0, 1.4, True),
               _entry("sigma-0.15", -0.15, 0.8, -2.0, 1.0, 2.4, False),
               _entry("q1.0", -0.05, 1.0, -30.0, 1.0, 0.0, None, converged=False)]
    outcome, df_text, dme = (v.sentence for v in dependence("b", entries))
    assert ("the verdict depends on them: reproduced at σ = -0.05 C/m², q × 0.8 (default); "
            "σ = +0.00 C/m², q × 0.8, NOT reproduced at σ = -0.15 C/m², q × 0.8") in outcome
    assert "Not converged or not run: σ = -0.05 C/m², q × 1: not converged." in outcome
    assert ("σ = -0.05 C/m², q × 0.8 (default) vs σ = -0.15 C/m², q × 0.8; "
            "σ = +0.00 C/m², q × 0.8 vs σ = -0.15 C/m², q × 0.8 differ") in df_text
    assert "(default) vs σ = +0.00" not in df_text and "-30.0" not in df_text
    assert "1.2 (σ = -0.05" in dme and "2.4 (σ = -0.15" in dme
    same = [_entry("default", -0.05, 0.8, -10.0, 1.0, 1.2, True),
            _entry("sigma0", 0.0, 0.8, -8.0, 1.0, 1.4, True)]  # 2 < 2·√2: not shown
    outcome, df_text, _ = (v.sentence for v in dependence("b", same))
    assert "reproduced at every converged setting" in outcome
    assert "not shown to depend on these settings" in df_text
    (only,) = dependence("b", [same[0], entries[3]])
    assert "is not known: 1 of 2 settings have a converged surface" in only.sentence


def test_default_entry_names_the_command_when_the_e2_study_is_missing(tmp_path):
    from predesolv.studies.charges import ChargeBase

    entry = default_entry(tmp_path / "E3-charges-smoke", "smoke",
                          ChargeBase(study="E2", config="slit_0.6nm_2cv"), E2_SMOKE_2CV)
    assert not entry["converged"] and entry["source"] == "../E2-smoke"
    assert f"predesolv study E2 --size smoke --out {tmp_path / 'E2-smoke'}" in entry["status"]
    assert (entry["sigma_C_per_m2"], entry["charge_scaling"]) == (-0.05, 0.8)


def test_charges_smoke_beside_e2_smoke(e2_smoke, tmp_path):
    """The smoke study runs σ = 0 on E2 smoke's two-CV cell; its PMF folder keeps the
    changed config; charges.csv carries the default from the sibling E2-smoke (ΔF_ins and
    its σ recomputed here from E2's insertion_pmf.csv) and the variant's own row."""
    (tmp_path / "E2-smoke").symlink_to(e2_smoke, target_is_directory=True)
    out = tmp_path / "E3-charges-smoke"
    assert main(["study", "E3-charges", "--size", "smoke", "--out", str(out)]) == 0
    table = pd.read_csv(out / "charges.csv")
    assert table["setting"].tolist() == ["default", "sigma0"]
    assert table["sigma_C_per_m2"].tolist() == [-0.05, 0.0]
    pmf = pd.read_csv(e2_smoke / "insertion_pmf.csv")
    pmf = pmf[pmf["config"] == "slit_0.6nm_2cv"]
    errs = [pmf[m]["dF_kJ_per_mol"].dropna().mean()
            for m in (pmf["x_nm"] >= 0.3, pmf["x_nm"] <= -0.6)]
    default = table.iloc[0]
    assert default["sigma_dF_kJ_per_mol"] == pytest.approx(np.hypot(*errs), rel=1e-5,
                                                           nan_ok=True)
    row = {r["config"]: r for r in StudyResult.read(e2_smoke).rows}["slit_0.6nm_2cv"]
    assert bool(default["converged"]) == bool(row["surface_converged"])
    for rd in PMFDir(out / "slit_0.6nm_2cv_sigma0").window_dirs():
        charge = rd.load_config().system.electrode.charge
        assert charge.sigma.value_in_unit(openmm.unit.coulomb / openmm.unit.meter**2) == 0.0
    study = StudyResult.read(out)
    assert study.verdict("slit_0.6nm_2cv: charge dependence").sentence.startswith(
        "slit_0.6nm_2cv: ")
    assert study.what_was_run.configs == ["charges"]


@pytest.mark.parametrize("name", ["sigma-0.15", "q1.0"])
def test_paper_variants_build_and_pass_the_pmf_checks(name):
    """The strongest wall charge and the full ionic charges build E2's paper cell and pass
    the pmf checks without MD (a variant that failed only after its start run and pull
    would cost hours)."""
    from predesolv.workflows.umbrella import check_pmf

    cfg = load_study_config(studies_root() / "E3-charges" / "paper" / "charges.yaml",
                            ChargesConfig, "an E3-charges")
    (variant,) = [v for v in cfg.variants if v.name == name]
    run_cfg = variant_config(studies_root() / "E2" / "paper" / "slit_0.6nm_2cv.yaml", variant)
    check_pmf(run_cfg, predesolv.build(run_cfg))
