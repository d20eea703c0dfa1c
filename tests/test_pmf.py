"""Umbrella-sampling PMF estimator (predesolv.analysis.pmf) against analytic results.

Samples are drawn exactly and independently from the biased Boltzmann distribution of an
analytic 1-D potential (inverse CDF on a fine grid), so every expected value below is
computed from the potential (numerical quadrature) or by hand, never by the estimator.
"""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from predesolv.analysis.pmf import (
    PMFResult,
    UmbrellaWindow,
    barriers,
    estimate_pmf,
    free_energy_difference,
    min_to_max,
)
from predesolv.analysis.pmf_checks import slow_window_warnings
from predesolv.analysis.pmf_outputs import strict_json, write_outputs
from predesolv.errors import AnalysisError

T = 300.0
KB = 0.0083144626181532  # kJ/mol/K (CODATA 2018 R), written out independently of the code
KT = KB * T
EV = 96.485332  # kJ/mol per eV


def sample_biased(U, window: UmbrellaWindow, n: int, rng, lo=-3.0, hi=3.0) -> np.ndarray:
    """``n`` independent draws from exp(-(U + bias)/kT) by inverse CDF on a fine grid."""
    x = np.linspace(lo, hi, 300_001)
    logp = -(U(x) + 0.5 * window.k * (x - window.center) ** 2) / KT
    p = np.exp(logp - logp.max())
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (p[1:] + p[:-1]) * np.diff(x))])
    return np.interp(rng.random(n), cdf / cdf[-1], x)


def exact_bin_pmf(U, edges: np.ndarray) -> np.ndarray:
    """-kT ln( mean of exp(-U/kT) over each bin ) - min, by fine quadrature (kJ/mol)."""
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        x = np.linspace(a, b, 2001)
        out.append(-KT * math.log(np.mean(np.exp(-U(x) / KT))))
    out = np.array(out)
    return out - out.min()


def exact_state_dF(U, from_range, to_range) -> float:
    """-kT ln(Z_to / Z_from) with Z = integral of exp(-U/kT) over the range."""
    def Z(r):
        x = np.linspace(r[0], r[1], 200_001)
        y = np.exp(-U(x) / KT)
        return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))  # trapezoidal rule
    return -KT * math.log(Z(to_range) / Z(from_range))


def double_well(x):
    """Tilted double well, kJ/mol with x in nm: barrier ~10 kJ/mol, wells ~4 kJ/mol apart."""
    return 10.0 * (x**2 - 1.0) ** 2 + 2.0 * x


def flat(x):
    return np.zeros_like(x)


def umbrella_data(U, centers, k, n, seed):
    rng = np.random.default_rng(seed)
    windows = [UmbrellaWindow(float(c), k, T) for c in centers]
    return [sample_biased(U, w, n, rng) for w in windows], windows


# --------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize("seed", [1, 2])
def test_double_well_pmf_barrier_and_state_difference(seed):
    # non-uniform bins (finer over the barrier): checks the bin-width (density) correction
    edges = np.unique(np.concatenate([np.linspace(-1.4, -0.3, 12), np.linspace(-0.3, 0.3, 13),
                                      np.linspace(0.3, 1.4, 12)]))
    series, windows = umbrella_data(double_well, np.linspace(-1.4, 1.4, 13), 300.0, 4000, seed)
    # the draws are independent by construction: keep them all; bootstraps are checked below
    res = estimate_pmf(series, windows, edges, temperature_K=T, n_bootstraps=0, seed=seed,
                       cv_unit="nm", decorrelate=False, half_split=False)
    exact = exact_bin_pmf(double_well, edges)
    ok = np.isfinite(res.F_kJ_per_mol)
    assert ok.all()
    rms_kT = np.sqrt(np.mean((res.F_kJ_per_mol - exact) ** 2)) / KT
    assert rms_kT < 0.3, rms_kT
    assert np.nanmin(res.F_kJ_per_mol) == 0.0
    # forward barrier: left-well minimum -> barrier top, exact from the quadrature PMF
    left = res.bin_centers <= 0.3
    exact_barrier = exact[left].max() - exact[left].min()
    assert exact_barrier == pytest.approx(12.0, abs=0.5)  # ~ U(0) - U(-1) = 10 + 2
    mm = min_to_max(res, (-1.4, 0.3))
    assert abs(mm["dF_kJ_per_mol"] - exact_barrier) < 0.3 * KT, (mm, exact_barrier)
    assert abs(mm["cv_max"]) < 0.2 and abs(mm["cv_min"] + 1.0) < 0.15
    # left well -> right well (Boltzmann-weighted states), exact by quadrature
    dF, _ = free_energy_difference(res, (-1.4, 0.0), (0.0, 1.4))
    expected = exact_state_dF(double_well, (-1.4, 0.0), (0.0, 1.4))
    assert expected == pytest.approx(4.0, abs=0.5)  # the 2 kJ/mol/nm tilt over ~2 nm
    assert abs(dF - expected) < 0.3 * KT, (dF, expected)
    assert not any("overlap" in w for w in res.warnings), res.warnings


def test_bootstrap_band_and_half_split_on_double_well():
    edges = np.linspace(-1.4, 1.4, 29)
    series, windows = umbrella_data(double_well, np.linspace(-1.4, 1.4, 13), 300.0, 600, 9)
    res = estimate_pmf(series, windows, edges, temperature_K=T, n_bootstraps=6, seed=9,
                       cv_unit="nm")
    exact = exact_bin_pmf(double_well, edges)
    i_min = int(np.nanargmin(res.F_kJ_per_mol))
    assert res.dF_kJ_per_mol[i_min] == 0.0  # uncertainties are relative to the minimum
    others = np.delete(res.dF_kJ_per_mol, i_min)
    assert np.all(others > 0.0) and np.all(others < 1.0 * KT)
    # the error is of the size the bootstrap says (generous: 6 replicates, 28 bins)
    z = np.delete(res.F_kJ_per_mol - exact, i_min) / others
    assert np.sqrt(np.mean(z**2)) < 3.0, z
    mm = min_to_max(res, (-1.4, 0.3))
    assert 0.0 < mm["sigma_kJ_per_mol"] < 1.0 * KT
    # stationary data: both halves agree with the exact PMF within noise; no drift warning
    for half in (res.F_first_half_kJ_per_mol, res.F_second_half_kJ_per_mol):
        assert np.sqrt(np.nanmean((half - exact) ** 2)) < 0.6 * KT
    assert not any("differ" in w for w in res.warnings), res.warnings
    assert 1.0 <= res.statistical_inefficiency.max() < 2.0  # iid draws: g ~ 1


@pytest.mark.parametrize("seed", range(4))
def test_two_harmonic_states_free_energy_difference(seed):
    # F(k) = -kT ln sqrt(2 pi kT / k)  =>  F2 - F1 = 1/2 kT ln(k2 / k1)  (by hand)
    k1, k2 = 100.0, 400.0
    expected = 0.5 * KT * math.log(k2 / k1)
    rng = np.random.default_rng(seed)
    series = [rng.normal(0.3, math.sqrt(KT / k), 3000) for k in (k1, k2)]
    windows = [UmbrellaWindow(0.3, k1, T), UmbrellaWindow(0.3, k2, T)]
    res = estimate_pmf(series, windows, 20, temperature_K=T, n_bootstraps=0, seed=seed)
    dF, err = res.window_f_kJ_per_mol[1], res.window_df_kJ_per_mol[1]
    assert res.window_f_kJ_per_mol[0] == 0.0
    assert 0.0 < err < 0.05 * KT
    assert abs(dF - expected) < 4.0 * err, (dF, expected, err)


def test_reduced_bias_by_hand():
    w = UmbrellaWindow(center=1.0, k=100.0, temperature_K=300.0)
    # 0.5 * 100 * 0.2^2 / (0.0083144626 * 300) = 2 / 2.49433878 = 0.80181578
    assert w.reduced_bias(np.array([1.2, 0.8, 1.0])) == pytest.approx(
        [0.80181578, 0.80181578, 0.0], rel=1e-7)


# --------------------------------------------------------------------------- decorrelation
def ar1(phi, sigma, center, n, rng):
    """Stationary AR(1): variance sigma^2, autocorrelation phi^t => g = (1 + phi)/(1 - phi)."""
    x = np.empty(n)
    x[0] = center + sigma * rng.normal()
    noise = sigma * math.sqrt(1.0 - phi**2) * rng.normal(size=n)
    for t in range(1, n):
        x[t] = center + phi * (x[t - 1] - center) + noise[t]
    return x


@pytest.mark.parametrize(("phi", "seed"), [(0.5, 0), (0.8, 1), (0.8, 2)])
def test_statistical_inefficiency_of_ar1(phi, seed):
    rng = np.random.default_rng(seed)
    k = 500.0
    windows = [UmbrellaWindow(c, k, T) for c in (0.0, 0.08)]
    series = [ar1(phi, math.sqrt(KT / k), w.center, 20_000, rng) for w in windows]
    g_exact = (1 + phi) / (1 - phi)
    res = estimate_pmf(series, windows, 20, temperature_K=T, n_bootstraps=0)
    assert res.statistical_inefficiency == pytest.approx([g_exact] * 2, rel=0.2)
    assert res.n_used == pytest.approx(20_000 / res.statistical_inefficiency, rel=0.01, abs=2)
    assert res.n_effective == pytest.approx(20_000 / res.statistical_inefficiency)
    short = [s[:2000] for s in series]
    kept = estimate_pmf(short, windows, 20, temperature_K=T, n_bootstraps=0, decorrelate=False,
                        half_split=False)
    assert list(kept.n_used) == [2000, 2000]


# --------------------------------------------------------------------------- warnings, errors
def test_overlap_warning_names_the_pair_and_the_gap():
    centers = [0.8, 0.0, 0.2, 0.9, 0.1]  # input order shuffled; the gap is 0.2 -> 0.8
    series, windows = umbrella_data(flat, centers, 1000.0, 300, seed=3)  # sigma = 0.05 nm
    res = estimate_pmf(series, windows, 40, temperature_K=T, n_bootstraps=0, cv_unit="nm")
    overlap = [w for w in res.warnings if "overlap" in w]
    assert len(overlap) == 1, res.warnings
    assert "windows 2 (centre 0.2 nm) and 0 (centre 0.8 nm)" in overlap[0]
    assert "add a window between 0.2 and 0.8 nm" in overlap[0]
    o = res.overlap_matrix
    assert o.shape == (5, 5) and min(o[2, 0], o[0, 2]) < 0.03
    assert np.allclose(o.sum(axis=1), 1.0)  # rows of the MBAR overlap matrix sum to 1
    assert any("no samples for the CV" in w for w in res.warnings)  # hole in the histogram
    # the same windows with the gap filled: no overlap warning
    series2, windows2 = umbrella_data(flat, np.arange(0.0, 0.95, 0.1), 1000.0, 300, seed=3)
    res2 = estimate_pmf(series2, windows2, 40, temperature_K=T, n_bootstraps=0, cv_unit="nm")
    assert not [w for w in res2.warnings if "overlap" in w], res2.warnings


def test_slow_window_warning_flags_a_hidden_barrier():
    """One window hops slowly between two basins (a telegraph signal, dwell ~300 frames)
    while its neighbours decorrelate at once: only that window is named. Uniformly slow
    windows, or a g below 50 frames, are not flagged."""
    rng = np.random.default_rng(7)
    k = 2000.0
    sd = math.sqrt(KT / k)
    windows = [UmbrellaWindow(c, k, T) for c in (0.0, 0.03, 0.06, 0.09, 0.12)]
    series = [w.center + sd * rng.standard_normal(6000) for w in windows]
    flips = np.cumsum(rng.random(6000) < 1 / 300) % 2  # two states, mean dwell 300 frames
    series[2] = windows[2].center + 0.01 * (2 * flips - 1) + 0.3 * sd * rng.standard_normal(6000)
    res = estimate_pmf(series, windows, 30, temperature_K=T, n_bootstraps=0, cv_unit="nm",
                       min_effective_samples=3)
    assert res.statistical_inefficiency[2] > 50 * np.median(res.statistical_inefficiency)
    slow = [w for w in res.warnings if "decorrelates slowly" in w]
    assert len(slow) == 1 and slow[0].startswith("umbrella window 2 (centre 0.06 nm)"), slow
    uniform = slow_window_warnings([60.0, 70.0, 80.0, 65.0], windows[:4], "nm")
    small = slow_window_warnings([1.0, 1.0, 45.0, 1.0], windows[:4], "nm")
    assert uniform == [] and small == []


def test_too_few_samples_names_the_window():
    series, windows = umbrella_data(flat, [0.0, 0.1, 0.2], 1000.0, 200, seed=4)
    series[1] = series[1][:8]
    with pytest.raises(AnalysisError, match=r"umbrella window 1 \(centre 0.1 nm\)"):
        estimate_pmf(series, windows, 20, temperature_K=T, cv_unit="nm")
    # 150 frames of a strongly correlated series: g ~ 39, N_eff ~ 4 < 10
    series[1] = ar1(0.95, 0.05, 0.1, 150, np.random.default_rng(0))
    with pytest.raises(AnalysisError, match=r"umbrella window 1 .*effectively uncorrelated"):
        estimate_pmf(series, windows, 20, temperature_K=T, cv_unit="nm")


def test_input_errors():
    series, windows = umbrella_data(flat, [0.0, 0.1], 1000.0, 200, seed=5)
    with pytest.raises(AnalysisError, match="holds none of the CV samples"):
        estimate_pmf(series, windows, np.linspace(5.0, 6.0, 11), temperature_K=T)
    with pytest.raises(AnalysisError, match="window 1 is at 310"):
        estimate_pmf(series, [windows[0], UmbrellaWindow(0.1, 1000.0, 310.0)], 10,
                     temperature_K=T)
    with pytest.raises(AnalysisError, match="one CV series per window"):
        estimate_pmf(series[:1], windows, 10, temperature_K=T)
    with pytest.raises(AnalysisError, match="n_bootstraps"):
        estimate_pmf(series, windows, 10, temperature_K=T, n_bootstraps=1)
    with pytest.raises(AnalysisError, match="k must be > 0"):
        UmbrellaWindow(0.0, 0.0, T)


def test_half_split_detects_drift():
    # second half of every window sampled from a tilted potential (2.4 kT across the range)
    rng = np.random.default_rng(6)
    windows = [UmbrellaWindow(c, 500.0, T) for c in (0.0, 0.1, 0.2, 0.3, 0.4)]
    def tilted(x):
        return 15.0 * x
    series = [np.concatenate([sample_biased(flat, w, 400, rng), sample_biased(tilted, w, 400, rng)])
              for w in windows]
    # (decorrelation would see the drift as a huge g and refuse the windows: keep every frame)
    res = estimate_pmf(series, windows, np.linspace(0.0, 0.4, 17), temperature_K=T,
                       n_bootstraps=0, cv_unit="nm", decorrelate=False)
    assert any("first- and second-half PMFs differ" in w for w in res.warnings), res.warnings
    drift = res.F_second_half_kJ_per_mol - res.F_first_half_kJ_per_mol
    ok = np.isfinite(drift)
    slope = np.polyfit(res.bin_centers[ok], drift[ok], 1)[0]
    assert slope == pytest.approx(15.0, rel=0.25)  # the tilt added in the second half


# --------------------------------------------------------------------------- barriers by hand
def hand_result(F_kT, boot_kT) -> PMFResult:
    n = len(F_kT)
    K = 1
    return PMFResult(
        bin_edges=np.linspace(0.0, 0.1 * n, n + 1), F_kJ_per_mol=np.array(F_kT) * KT,
        dF_kJ_per_mol=np.zeros(n), temperature_K=T, windows=(UmbrellaWindow(0.0, 1.0, T),),
        statistical_inefficiency=np.ones(K), n_frames=np.ones(K), n_used=np.ones(K),
        n_effective=np.ones(K), equilibration_start=np.zeros(K),
        window_f_kJ_per_mol=np.zeros(K), window_df_kJ_per_mol=np.zeros(K),
        overlap_matrix=np.ones((K, K)), counts=np.ones((K, n)),
        bootstrap_F_kJ_per_mol=np.array(boot_kT, dtype=float) * KT,
        F_first_half_kJ_per_mol=np.full(n, np.nan), F_second_half_kJ_per_mol=np.full(n, np.nan),
        cv_unit="nm")


def test_state_difference_and_barrier_by_hand():
    F = [0.0, math.log(2.0), 0.0]  # kT; bins of 0.1 nm centred at 0.05, 0.15, 0.25
    a = 0.3
    res = hand_result(F, [F, [a, math.log(2.0), 0.0]])
    # G_A = -kT ln(0.1), G_B = -kT ln(0.1 (1/2 + 1)) => dF = -kT ln 1.5
    dF, sigma = free_energy_difference(res, (0.0, 0.1), (0.1, 0.3))
    assert dF == pytest.approx(-KT * math.log(1.5), rel=1e-12)
    # replicates give dF and dF - a kT  => sample std (ddof=1) = a kT / sqrt(2)
    assert sigma == pytest.approx(a * KT / math.sqrt(2.0), rel=1e-12)
    mm = min_to_max(res, (0.0, 0.2))
    assert mm["dF_kJ_per_mol"] == pytest.approx(math.log(2.0) * KT, rel=1e-12)
    assert (mm["cv_min"], mm["cv_max"]) == pytest.approx((0.05, 0.15))
    # replicate maxima-minima: ln2 and ln2 - a  => std a kT / sqrt(2)
    assert mm["sigma_kJ_per_mol"] == pytest.approx(a * KT / math.sqrt(2.0), rel=1e-12)
    with pytest.raises(AnalysisError, match="no PMF bin"):
        min_to_max(res, (2.0, 3.0))
    summary = barriers(res, states={"A": (0.0, 0.1), "B": (0.1, 0.3)}, ranges={"b": (0.0, 0.2)})
    d = summary["state_differences"][0]
    assert (d["from"], d["to"]) == ("A", "B")
    assert d["dF_eV"] == pytest.approx(-KT * math.log(1.5) / EV, rel=1e-8)
    assert d["dF_kT"] == pytest.approx(-math.log(1.5), rel=1e-9)


# --------------------------------------------------------------------------- output files
def reject_nan(token):
    raise ValueError(f"non-strict JSON constant {token}")


def test_outputs_and_default_bootstraps(tmp_path):
    assert inspect.signature(estimate_pmf).parameters["n_bootstraps"].default >= 50
    series, windows = umbrella_data(flat, [0.0, 0.1, 0.2], 1000.0, 120, seed=7)
    res = estimate_pmf(series, windows, 12, temperature_K=T, cv_unit="nm")
    assert res.n_bootstraps == 50 and res.bootstrap_F_kJ_per_mol.shape == (50, 12)
    paths = write_outputs(res, tmp_path / "pmf", "x", "nm", states={"a": (0.0, 0.1),
                                                                    "b": (0.1, 0.2)})
    names = {p.name for p in (tmp_path / "pmf").iterdir()}
    assert {"pmf.csv", "pmf.png", "overlap.png", "histograms.png", "barriers.json"} <= names
    assert not [n for n in names if n.startswith(".")]  # no temporary files left
    for png in ("pmf.png", "overlap.png", "histograms.png"):
        assert paths[png].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(paths["pmf.csv"])
    assert list(table.columns) == ["x_nm", "F_kJ_per_mol", "dF_kJ_per_mol", "F_kT", "F_eV"]
    F = table["F_kJ_per_mol"].to_numpy()
    assert np.allclose(table["F_eV"], F / EV, rtol=1e-8, atol=1e-12, equal_nan=True)
    assert np.allclose(table["F_kT"], F / KT, rtol=1e-8, atol=1e-12, equal_nan=True)
    assert np.allclose(table["x_nm"], res.bin_centers, rtol=1e-9)
    summary = json.loads(paths["barriers.json"].read_text(), parse_constant=reject_nan)
    assert summary["n_bootstraps"] == 50 and summary["cv"] == "x_nm"
    assert summary["state_differences"][0]["sigma_kJ_per_mol"] > 0.0
    # without bootstraps the uncertainties are NaN in memory and null in the file
    res0 = replace(res, bootstrap_F_kJ_per_mol=np.empty((0, 12)))
    paths0 = write_outputs(res0, tmp_path / "cn", "cn", "", ranges={"all": (0.0, 0.2)})
    assert list(pd.read_csv(paths0["pmf.csv"]).columns)[0] == "cn"
    summary0 = json.loads(paths0["barriers.json"].read_text(), parse_constant=reject_nan)
    assert summary0["barriers"][0]["sigma_kJ_per_mol"] is None
    assert strict_json({"a": [float("nan"), 1.0, np.float64("inf")]}) == {"a": [None, 1.0, None]}
    with pytest.raises(AnalysisError, match="CV name"):
        write_outputs(res, tmp_path / "bad", "x nm", "nm")
    assert not (tmp_path / "bad").exists()
