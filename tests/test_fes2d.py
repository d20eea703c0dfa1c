"""Two-CV free-energy surfaces: the estimator against exact surfaces and pymbar, the
"not connected" gate, the minimum free-energy path against an independent bottleneck search,
and the whole ``predesolv pmf`` path on an analytic surface (a from_files system)."""

from __future__ import annotations

import json
from collections import deque

import numpy as np
import pandas as pd
import pymbar
import pytest
import yaml

from predesolv.analysis.fes2d import Window2D, estimate_fes_2d, minimum_free_energy_path
from predesolv.cli import main
from predesolv.errors import AnalysisError
from predesolv.testing import write_surface_2d

KB = 0.00831446261815324  # kJ/mol/K (CODATA 2018, by hand, not the package's constant)
T = 300.0
KT = KB * T
H, A, KY, TILT = 6.0, 0.4, 100.0, 0.5


def _exact(s1, s2):
    return H * (s1**2 / A**2 - 1) ** 2 + 0.5 * KY * (s2 - TILT * s1) ** 2


def _bin_average(edges1, edges2, n=41):
    """-kT ln <exp(-F/kT)> over each bin (fine quadrature), minimum 0."""
    out = np.empty((edges1.size - 1, edges2.size - 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            g1, g2 = np.meshgrid(np.linspace(edges1[i], edges1[i + 1], n),
                                 np.linspace(edges2[j], edges2[j + 1], n))
            out[i, j] = -KT * np.log(np.mean(np.exp(-_exact(g1, g2) / KT)))
    return out - out.min()


def _draw(centers1, centers2, k, n, seed):
    """Independent samples of every window's biased density (grid + jitter)."""
    rng = np.random.default_rng(seed)
    g = np.linspace(-1.0, 1.0, 801)
    x, y = np.meshgrid(g, g, indexing="ij")
    series, windows = [], []
    for c1 in centers1:
        for c2 in centers2:
            u = (_exact(x, y) + 0.5 * k[0] * (x - c1) ** 2 + 0.5 * k[1] * (y - c2) ** 2) / KT
            p = np.exp(-(u - u.min())).ravel()
            idx = rng.choice(p.size, size=n, p=p / p.sum())
            pts = np.c_[x.ravel()[idx], y.ravel()[idx]] + rng.uniform(-1.25e-3, 1.25e-3,
                                                                      (n, 2))
            series.append(pts)
            windows.append(Window2D((c1, c2), k, T))
    return series, windows


def _rms_low(F, exact, limit_kT=3.0):
    ok = np.isfinite(F) & (exact < limit_kT * KT)
    d = F[ok] - exact[ok]
    return np.sqrt(np.mean((d - d.mean()) ** 2)) / KT, int(ok.sum())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_surface_matches_the_exact_one_on_independent_samples(seed):
    series, windows = _draw(np.linspace(-0.6, 0.6, 9), np.linspace(-0.45, 0.45, 4),
                            (250.0, 60.0), 300, seed)
    r = estimate_fes_2d(series, windows, (12, 12), decorrelate=False, n_bootstraps=20)
    rms, n = _rms_low(r.F_kJ_per_mol, _bin_average(*r.edges))
    assert n >= 30 and rms < 0.3
    assert r.connected.all() and r.warnings == []
    # the projection on CV 1 against the exact marginal: -kT ln ∫ exp(-F/kT) dy
    c1, _ = r.centers
    yy = np.linspace(-1.0, 1.0, 2001)
    marg = np.array([-KT * np.log(np.trapezoid(np.exp(-_exact(x, yy) / KT), yy)) for x in c1])
    ok = np.isfinite(r.projection_kJ_per_mol) & (marg - marg.min() < 3 * KT)
    d = r.projection_kJ_per_mol[ok] - marg[ok]
    assert np.sqrt(np.mean((d - d.mean()) ** 2)) < 0.3 * KT


def test_surface_agrees_with_pymbar_fes_histogram():
    """The same windows through pymbar.FES (2D histogram): identical F on populated bins."""
    series, windows = _draw([-0.3, 0.0, 0.3], [-0.2, 0.2], (250.0, 60.0), 200, 7)
    r = estimate_fes_2d(series, windows, (6, 6), decorrelate=False)
    x = np.concatenate(series)
    u_kn = np.stack([w.reduced_bias(x) for w in windows])
    fes = pymbar.FES(u_kn, np.array([len(s) for s in series]))
    e1, e2 = r.edges
    fes.generate_fes(np.zeros(len(x)), x, fes_type="histogram",
                     histogram_parameters={"bin_edges": [e1, e2]})
    c1, c2 = r.centers
    pts = np.array([(a, b) for a in c1 for b in c2])
    ok = r.counts.ravel() > 0
    ref = fes.get_fes(pts[ok], reference_point="from-lowest")["f_i"] * KT
    mine = r.F_kJ_per_mol.ravel()[ok]  # equal bin areas: density and bin F differ by a const
    assert np.allclose(mine - mine.min(), ref - ref.min(), atol=1e-6)


def test_windows_that_do_not_overlap_are_not_connected():
    """Two groups far apart (stiff windows at x = ±0.5): the smaller is dropped and named,
    and no barrier is reported across the unsampled gap."""
    left, wl = _draw([-0.55, -0.5, -0.45], [0.0], (2000.0, 60.0), 150, 3)
    right, wr = _draw([0.45, 0.5], [0.0], (2000.0, 60.0), 150, 4)
    r = estimate_fes_2d(left + right, wl + wr, (10, 6), decorrelate=False)
    assert r.connected.tolist() == [True, True, True, False, False]
    assert len(r.warnings) == 1 and "not connected: windows w003, w004" in r.warnings[0]
    c1, _ = r.centers
    assert np.isnan(r.F_kJ_per_mol[c1 > 0.3]).all()  # nothing from the dropped windows
    from predesolv.analysis.fes2d_outputs import path_summary

    _, record = path_summary(r, ("x", "y"), ("nm", "nm"))
    assert "barrier_kJ_per_mol" in record or record["barrier"] == "not connected"


def test_a_window_short_of_effective_samples_on_either_cv_is_refused():
    rng = np.random.default_rng(0)
    x1 = rng.normal(0, 0.1, 400)
    x2 = np.repeat(rng.normal(0, 0.1, 4), 100)  # 4 independent values along CV 2
    good = np.c_[rng.normal(0.2, 0.1, 400), rng.normal(0, 0.1, 400)]
    w = [Window2D((0.0, 0.0), (100.0, 100.0), T), Window2D((0.2, 0.0), (100.0, 100.0), T)]
    with pytest.raises(AnalysisError, match="w000: .* effective samples of cn"):
        estimate_fes_2d([np.c_[x1, x2], good], w, (8, 8), names=("x_nm", "cn"))


def _bottleneck(F, start, end):
    """Lowest possible maximum of F along an 8-connected path (bisection + BFS)."""
    levels = np.unique(F[np.isfinite(F)])
    lo, hi = 0, levels.size - 1
    while lo < hi:
        mid = (lo + hi) // 2
        ok = np.isfinite(F) & (F <= levels[mid])
        seen, queue = {start}, deque([start]) if ok[start] else deque()
        while queue:
            i, j = queue.popleft()
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    nb = (i + di, j + dj)
                    if 0 <= nb[0] < F.shape[0] and 0 <= nb[1] < F.shape[1] and ok[nb] \
                            and nb not in seen:
                        seen.add(nb)
                        queue.append(nb)
        lo, hi = (lo, mid) if end in seen else (mid + 1, hi)
    return levels[lo]


@pytest.mark.parametrize("seed", range(25))
def test_minimum_free_energy_path_has_the_lowest_bottleneck(seed):
    rng = np.random.default_rng(seed)
    F = rng.uniform(0, 10, (9, 11))
    F[rng.uniform(size=F.shape) < 0.15] = np.nan
    F[0, 0], F[-1, -1] = 0.0, 0.5
    path = minimum_free_energy_path(F, (0, 0), (8, 10))
    expect = None if np.isinf(_reachable(F)) else _bottleneck(F, (0, 0), (8, 10))
    if path is None:
        assert expect is None
        return
    assert path[0] == (0, 0) and path[-1] == (8, 10)
    steps = zip(path[:-1], path[1:], strict=True)
    assert all(max(abs(a[0] - b[0]), abs(a[1] - b[1])) == 1 for a, b in steps)
    assert max(F[p] for p in path) == pytest.approx(expect)


def _reachable(F):
    """0 when (8, 10) can be reached from (0, 0) over finite bins, else inf."""
    ok = np.isfinite(F)
    seen, queue = {(0, 0)}, deque([(0, 0)])
    while queue:
        i, j = queue.popleft()
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                nb = (i + di, j + dj)
                if 0 <= nb[0] < 9 and 0 <= nb[1] < 11 and ok[nb] and nb not in seen:
                    seen.add(nb)
                    queue.append(nb)
    return 0.0 if (8, 10) in seen else np.inf


def _config(tmp, k1="250 kJ/mol/nm**2"):
    s = write_surface_2d(tmp / "in", height_kj_per_mol=H, a_nm=A, k_y_kj_per_nm2=KY,
                         tilt=TILT)
    c = s.center_nm
    return {
        "system": {"from_files": {"system_xml": str(s.system_xml), "pdb": str(s.pdb)}},
        "simulation": {"platform": "Reference", "temperature": "300 K", "timestep": "2 fs",
                       "friction": "10 /ps", "seed": 5},
        "stages": [{"type": "minimize"}],
        "output": {"directory": str(tmp / "pmf"), "checkpoint_interval": "10 ps",
                   "state_interval": "0.1 ps"},
        "pmf": {"cv": {"type": "position", "group": [0], "axis": "x", "origin": f"{c} nm"},
                "windows": {"start": "-0.6 nm", "stop": "0.6 nm", "count": 9}, "k": k1,
                "cv2": {"cv": {"type": "position", "group": [0], "axis": "y",
                               "origin": f"{c} nm"},
                        "windows": {"start": "-0.45 nm", "stop": "0.45 nm", "count": 4},
                        "k": "60 kJ/mol/nm**2"},
                "stages": [{"type": "production", "duration": "40 ps"}],
                "sample_interval": "0.1 ps", "seed_from": "start",
                "estimator": {"bins": 12, "bootstraps": 4}},
    }


def test_pmf_cli_recovers_an_analytic_surface(tmp_path, capsys):
    """``predesolv pmf`` with pmf.cv2 on the tilted double well (2 replicas x 36 windows x
    40 ps, Reference): the replicas agree and the result converged; F within 0.5 kT RMS of
    the exact bin-averaged surface wherever the exact F < 3 kT; units in the CSV columns;
    each window's state.csv records both CVs and a bias energy equal to both harmonic
    terms, recomputed here from its columns."""
    cfg = _config(tmp_path)
    cfg["pmf"]["replicas"] = 2
    path = tmp_path / "pmf.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["pmf", str(path), "--serial"]) == 0
    out = capsys.readouterr().out
    assert "72 of 72 windows connected (2 replicas pooled); converged" in out
    assert "barrier along the minimum free-energy path" in out
    record = json.loads((tmp_path / "pmf" / "fes.json").read_text())
    reps = record["path"]["replica_barriers_kJ_per_mol"]
    assert record["converged"] and record["path"]["replicas_agree"] and len(reps) == 2
    assert record["path"]["barrier_sigma_kJ_per_mol"] >= abs(reps[0] - reps[1]) / 2
    df = pd.read_csv(tmp_path / "pmf" / "fes.csv")
    assert list(df.columns[:4]) == ["x (nm)", "y (nm)", "F (kJ/mol)", "dF (kJ/mol)"]
    c1, c2 = np.unique(df["x (nm)"]), np.unique(df["y (nm)"])
    e1 = np.r_[c1 - (c1[1] - c1[0]) / 2, c1[-1] + (c1[1] - c1[0]) / 2]
    e2 = np.r_[c2 - (c2[1] - c2[0]) / 2, c2[-1] + (c2[1] - c2[0]) / 2]
    F = df["F (kJ/mol)"].to_numpy().reshape(c1.size, c2.size)
    rms, n = _rms_low(F, _bin_average(e1, e2))
    assert n >= 30 and rms < 0.5
    for name in ("fes.png", "fes_path.csv", "fes_projection.csv", "fes_windows.csv"):
        assert (tmp_path / "pmf" / name).stat().st_size > 0
    w = pd.read_csv(tmp_path / "pmf" / "windows" / "w005" / "state.csv")
    row = w.iloc[-1]
    u = 0.5 * 250 * (row["cv (nm)"] - row["bias_center (nm)"]) ** 2 \
        + 0.5 * 60 * (row["cv2 (nm)"] - row["bias2_center (nm)"]) ** 2
    assert row["bias_energy (kJ/mol)"] == pytest.approx(u, rel=1e-6)  # CSV: 8 digits
    # w005 = (i, j) = (1, 1) on the grid, the second CV fastest
    assert (row["bias_center (nm)"], row["bias2_center (nm)"]) == pytest.approx((-0.45, -0.15))


def test_two_cv_config_errors_name_the_field(tmp_path, capsys):
    cfg = _config(tmp_path)
    cfg["pmf"]["k"] = ["250 kJ/mol/nm**2"] * 9
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["pmf", str(path), "--serial"]) == 2
    assert "pmf.k" in capsys.readouterr().err
    cfg = _config(tmp_path)
    cfg["pmf"]["cv2"]["windows"] = {"values": ["0.0 nm", "0.001 nm"]}
    path.write_text(yaml.safe_dump(cfg))
    assert main(["pmf", str(path), "--serial"]) == 2
    assert "pmf.cv2.windows" in capsys.readouterr().err
    assert not (tmp_path / "pmf" / "windows").exists()


def test_halves_agree_on_stationary_samples_and_not_on_drifting_ones():
    """Independent samples: the first and second halves agree (converged). The same windows
    with every window's second half drawn from a surface tilted by 4 kJ/mol per 0.1 nm along
    CV 2 (a drift the windows never equilibrated): refused as "not converged"."""
    centers = (np.linspace(-0.6, 0.6, 9), np.linspace(-0.45, 0.45, 4))
    series, windows = _draw(*centers, (250.0, 60.0), 300, 11)
    r = estimate_fes_2d(series, windows, (10, 10), decorrelate=False, n_bootstraps=20)
    assert r.halves_agree and r.converged and r.warnings == []
    rng = np.random.default_rng(12)
    drifted = []
    for s, w in zip(series, windows, strict=True):
        g = np.linspace(-1.0, 1.0, 801)
        x, y = np.meshgrid(g, g, indexing="ij")
        u = (_exact(x, y) + 40.0 * y + 0.5 * 250 * (x - w.center[0]) ** 2
             + 0.5 * 60 * (y - w.center[1]) ** 2) / KT
        p = np.exp(-(u - u.min())).ravel()
        idx = rng.choice(p.size, size=150, p=p / p.sum())
        drifted.append(np.r_[s[:150], np.c_[x.ravel()[idx], y.ravel()[idx]]])
    with pytest.raises(AnalysisError, match="effective samples"):  # the drift shows in g too
        estimate_fes_2d(drifted, windows, (10, 10), decorrelate=False)
    r = estimate_fes_2d(drifted, windows, (10, 10), decorrelate=False, n_bootstraps=20,
                        min_effective_samples=2)
    assert not r.converged and any(m.startswith("not converged") for m in r.warnings)


def test_the_documented_two_cv_block_is_a_valid_config():
    """The YAML example of docs/free_energy.md ("Two CVs") parses as it is written."""
    from pathlib import Path

    from predesolv.config.freeenergy import SecondCV

    text = (Path(__file__).resolve().parents[1] / "docs" / "free_energy.md").read_text()
    block = text.split("## Two CVs", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    pmf = yaml.safe_load(block.replace("stages: [...]", ""))["pmf"]
    second = SecondCV.model_validate(pmf["cv2"])
    assert second.centers() == [0, 1, 2, 3, 4, 5, 6] and second.k_value == 20.0
    assert second.bins == 24


def test_state_free_energies_of_a_separable_surface_by_hand():
    """F(x, y) = a(x) + b(y) on a grid: a state x in [lo, hi] has
    F = -kT ln(sum_x e^(-a/kT)) - kT ln(sum_y e^(-b/kT)) (a product of sums), so a difference
    of two states is the difference of the x sums alone and <y> is the same in both;
    replicas shifted by a constant in one state give their own differences and a spread."""
    from predesolv.analysis.fes2d_states import state_difference, state_free_energy

    kT = 2.5
    x = np.linspace(0.0, 1.0, 11)
    y = np.array([2.0, 3.0, 4.0, 5.0])
    a = 8.0 * (x - 0.7) ** 2 * 10
    b = np.array([6.0, 2.0, 0.0, 3.0])
    X, Y = np.meshgrid(x, y, indexing="ij")
    F = (a[:, None] + b[None, :]).ravel()
    fes = pd.DataFrame({"z (nm)": X.ravel(), "cn": Y.ravel(), "F (kJ/mol)": F,
                        "dF (kJ/mol)": np.full(F.size, 0.3)})
    lse = lambda v: -kT * np.log(np.sum(np.exp(-v / kT)))  # noqa: E731
    by_y = lse(b)
    f_low, s_low = state_free_energy(fes, "z (nm)", 0.0, 0.2, kT)
    assert f_low == pytest.approx(lse(a[:3]) + by_y)
    # equal weights would give 0.3 / sqrt(n); here the Boltzmann weights, by hand
    p = np.exp(-(a[:3, None] + b[None, :]).ravel() / kT)
    assert s_low == pytest.approx(0.3 * np.sqrt(np.sum((p / p.sum()) ** 2)))
    d = state_difference(fes, "z (nm)", "cn", (0.0, 0.2), (0.6, 0.8), kT)
    assert d.dF_kJ_per_mol == pytest.approx(lse(a[6:9]) - lse(a[:3]))
    want_y = np.sum(y * np.exp(-b / kT)) / np.sum(np.exp(-b / kT))
    assert d.cv2_mean_a == pytest.approx(want_y) and d.cv2_mean_b == pytest.approx(want_y)
    assert d.replica_dF_kJ_per_mol == []
    shifted = np.where(X.ravel() >= 0.6, F + 4.0, F)
    fes2 = fes.assign(**{"F replica 0 (kJ/mol)": F, "F replica 1 (kJ/mol)": shifted})
    d2 = state_difference(fes2, "z (nm)", "cn", (0.0, 0.2), (0.6, 0.8), kT)
    assert d2.replica_dF_kJ_per_mol == pytest.approx([d.dF_kJ_per_mol, d.dF_kJ_per_mol + 4])
    spread = np.var([0.0, 4.0], ddof=1) / 2
    assert d2.sigma_kJ_per_mol == pytest.approx(np.sqrt(d.sigma_kJ_per_mol ** 2 + spread))
    # a state with no sampled bin: NaN, not a number
    assert np.isnan(state_free_energy(fes.assign(**{"F (kJ/mol)": np.where(
        X.ravel() < 0.3, np.nan, F)}), "z (nm)", 0.0, 0.2, kT)[0])
