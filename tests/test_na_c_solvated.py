"""The solvated check of the MLIP-fitted Na–C sets (scripts/na_c_solvated_check.py): its cell
puts the CV's Na+ inside the slit, and the committed adsorption free energies follow from the
committed PMFs (docs/results/na_c_mlip/solvated) and appear in docs/mlip.md."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from predesolv import load_config
from predesolv.config.loader import read_config_yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs/results/na_c_mlip/solvated"
SCRIPT = runpy.run_path(str(ROOT / "scripts" / "na_c_solvated_check.py"))
KT_298 = 0.0083144626 * 298.0  # kJ/mol


def test_example_ion_starts_inside_the_slit_and_a_reservoir_ion_is_refused(tmp_path):
    cfg = SCRIPT["case_config"]("na-c-mlip-sevennet", tmp_path)
    assert cfg.system.forcefield.parameter_sets == ["na-c-mlip-sevennet"]
    SCRIPT["check_start"](cfg)  # cation[6] sits inside the 2.0 nm slit
    data = read_config_yaml(ROOT / "examples" / "pmf_na_graphene_adsorption.yaml")
    data["pmf"]["cv"]["group"] = "cation[0]"  # packed in the reservoir
    with pytest.raises(SystemExit, match=r"cation\[0\] starts at .* not inside the slit"):
        SCRIPT["check_start"](load_config(data))


def test_wall_height_from_the_cv():
    """CV 0 is the mid-plane, the wall's carbon plane is +spacing/2 = 1.0 nm."""
    data = read_config_yaml(ROOT / "examples" / "pmf_na_graphene_adsorption.yaml")
    assert SCRIPT["half_spacing_nm"](load_config(data)) == pytest.approx(1.0)


@pytest.mark.parametrize("ff", ["default", "na-c-mlip-chgnet", "na-c-mlip-sevennet"])
def test_adsorption_free_energy_follows_from_the_committed_pmf(ff):
    """F(adsorbed) - F(bulk), recomputed by Boltzmann sums over the committed pmf.csv bins,
    matches the MBAR state difference the summary reports (equal-width bins)."""
    row = pd.read_csv(RESULTS / "summary.csv").set_index("forcefield").loc[ff]
    pmf = pd.read_csv(RESULTS / ff / "pmf.csv").dropna(subset=["F_kJ_per_mol"])
    z, F = pmf["z_nm"].to_numpy(), pmf["F_kJ_per_mol"].to_numpy()

    def state(lo: float, hi: float) -> float:
        sel = (z >= lo) & (z <= hi)
        return -KT_298 * np.log(np.sum(np.exp(-(F[sel] - F.min()) / KT_298)))

    ours = state(0.55, 0.80) - state(0.0, 0.15)
    assert ours == pytest.approx(row["dF_ads_kJ_per_mol"], abs=max(1.0, 0.05 * abs(ours)))
    # the minimum the summary names is the PMF's, against the Boltzmann mean of the bulk's
    # bins (z 0-0.15 nm: h 0.85-1.00 nm), and the bulk shell is that of the windows there
    assert 1.0 - z[np.argmin(F)] == pytest.approx(row["h_min_nm"], abs=1e-4)
    sel = (z >= 0.0) & (z <= 0.15)
    f_bulk = -KT_298 * np.log(np.mean(np.exp(-F[sel] / KT_298)))
    assert F.min() - f_bulk == pytest.approx(row["F_min_minus_bulk_kJ_per_mol"], abs=0.05)
    shells = pd.read_csv(RESULTS / ff / "shell.csv")
    bulk = shells[(shells["height_nm"] > 0.85 - 1e-6) & (shells["height_nm"] < 1.0 + 1e-6)]
    assert len(bulk) == 8  # windows at h 0.85, 0.90, 0.95, 1.00 in each of 2 replicas
    assert bulk["cn_O_DME"].mean() == pytest.approx(row["cn_O_DME_bulk"], abs=1e-3)


def test_docs_show_the_committed_summary():
    doc = (ROOT / "docs" / "mlip.md").read_text()
    assert "\n".join(SCRIPT["summary_markdown"](RESULTS)) in doc


def test_verdict_rules_on_hand_made_rows():
    verdict = SCRIPT["verdict"]
    base = {"replicas_agree": True, "h_min_nm": 0.25, "cn_O_DME_at_min": 3.0,
            "cn_O_DME_bulk": 5.5, "dF_ads_kJ_per_mol": -20.0, "sigma_kJ_per_mol": 3.0}
    assert verdict(base).startswith("over-binds")
    assert verdict({**base, "replicas_agree": False}).startswith("not converged")
    assert verdict({**base, "h_min_nm": 0.50}) == "does not over-bind: no contact minimum"
    assert verdict({**base, "cn_O_DME_at_min": 5.0}).endswith("keeps its DME oxygens")
    assert verdict({**base, "dF_ads_kJ_per_mol": -5.0}).endswith("is not favourable")


def test_two_cv_variant_and_its_summary_from_a_hand_made_surface(tmp_path):
    """--two-cv: the example on the grid height x Na-O(DME) coordination (21 x 4 windows, one
    k per CV, no 1D states); its summary reads a surface: on a hand-made one (a contact
    well at z = 0.76 nm with CN 3 favoured there, CN 6 in the bulk) the adsorption free
    energy is the difference of the two states' log-sum-exp over every bin, computed here
    by hand, the minimum sits at h = 1.0 - 0.76 nm with its CN, and an unconverged surface
    gets no verdict."""
    import json

    cfg = SCRIPT["case_config"]("na-c-mlip-chgnet", tmp_path, two_cv=True)
    assert len(cfg.pmf.centers()) == 21 and cfg.pmf.cv2.centers() == [3.0, 4.0, 5.0, 6.0]
    assert cfg.output.directory.endswith("na-c-mlip-chgnet-2cv")
    assert not cfg.pmf.estimator.states and cfg.pmf.cv2.cv.type == "coordination"
    z = np.round(np.arange(0.0, 0.81, 0.04), 2)
    cn = np.array([3.0, 4.0, 5.0, 6.0])
    Z, C = np.meshgrid(z, cn, indexing="ij")
    F = np.where(Z > 0.7, -12.0 + 4.0 * (C - 3.0), 6.0 - 2.0 * (C - 3.0)) + 0.0 * Z
    F[np.isclose(Z, 0.76) & np.isclose(C, 3.0)] = -20.0
    root = tmp_path / "surface"
    root.mkdir()
    pd.DataFrame({"z (nm)": Z.ravel(), "cn": C.ravel(), "F (kJ/mol)": F.ravel(),
                  "dF (kJ/mol)": 0.5}).to_csv(root / "fes.csv", index=False)
    (root / "fes.json").write_text(json.dumps({"temperature_kT_kJ_per_mol": KT_298,
                                               "converged": True, "warnings": []}))
    row = SCRIPT["summary_row_2d"]("na-c-mlip-chgnet", cfg, root)

    def lse(mask):
        return -KT_298 * np.log(np.exp(-F[mask] / KT_298).sum())

    bulk = (Z >= 0.0) & (Z <= 0.15)
    ads = (Z >= 0.55) & (Z <= 0.8)
    assert row["dF_ads_kJ_per_mol"] == pytest.approx(lse(ads) - lse(bulk))
    assert row["h_min_nm"] == pytest.approx(1.0 - 0.76)
    assert row["F_min_minus_bulk_kJ_per_mol"] == pytest.approx(-20.0 - lse(bulk))
    w = np.exp(-F[bulk] / KT_298)
    assert row["cn_O_DME_bulk"] == pytest.approx((w * C[bulk]).sum() / w.sum())
    assert row["cn_O_DME_at_min"] < row["cn_O_DME_bulk"] - 1.0
    row["min_effective_samples"] = 10
    assert SCRIPT["verdict"](row).startswith("over-binds")
    row["surface_converged"] = False
    assert SCRIPT["verdict"](row).startswith("not converged: the two-CV surface")


def test_committed_two_cv_summary_follows_from_its_surface():
    """The committed two-CV row, recomputed by hand from the committed ``fes.csv``: the
    adsorption free energy is the difference of the two height ranges' log-sum-exp over every
    sampled (height, CN) bin, pooled and per replica; the minimum is the surface's lowest bin;
    the verdict is the script's rules applied to the row; docs/mlip.md shows the table."""
    import json

    row = pd.read_csv(RESULTS / "summary_2cv.csv").iloc[0]
    surface = RESULTS / "na-c-mlip-chgnet-2cv"
    fes = pd.read_csv(surface / "fes.csv")
    kT = json.loads((surface / "fes.json").read_text())["temperature_kT_kJ_per_mol"]
    assert kT == pytest.approx(KT_298, rel=1e-3)
    z = fes["z (nm)"].to_numpy()
    bulk, ads = (z >= -1e-9) & (z <= 0.15 + 1e-9), (z >= 0.55 - 1e-9) & (z <= 0.8 + 1e-9)

    def lse(mask: np.ndarray, column: str) -> float:
        f = fes.loc[mask, column].to_numpy(float)
        f = f[np.isfinite(f)]
        return float(-kT * np.log(np.exp(-(f - f.min()) / kT).sum()) + f.min())

    assert lse(ads, "F (kJ/mol)") - lse(bulk, "F (kJ/mol)") == pytest.approx(
        row["dF_ads_kJ_per_mol"], abs=1e-3)
    reps = sorted(c for c in fes.columns if c.startswith("F replica"))
    assert len(reps) == 2
    ours = [lse(ads, c) - lse(bulk, c) for c in reps]
    theirs = [float(v) for v in str(row["replica_dF_ads_kJ_per_mol"]).split(";")]
    assert ours == pytest.approx(theirs, abs=0.051)
    ok = fes.dropna(subset=["F (kJ/mol)"])
    low = ok.loc[ok["F (kJ/mol)"].idxmin()]
    assert row["h_min_nm"] == pytest.approx(1.0 - low["z (nm)"], abs=1e-4)
    assert row["F_min_minus_bulk_kJ_per_mol"] == pytest.approx(
        low["F (kJ/mol)"] - lse(bulk, "F (kJ/mol)"), abs=1e-3)
    assert "\n".join(SCRIPT["summary_markdown"](RESULTS, "summary_2cv.csv")) in \
        (ROOT / "docs" / "mlip.md").read_text()
