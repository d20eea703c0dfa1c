"""Fit classical Na–C terms to MLIP interaction energies and score them on held-out data.

The data are :mod:`predesolv.workflows.na_c_mlip_data` (one Na over rigid graphene, single
sheet and slits; AB 0.40/0.50/0.60/0.70 nm and the single sheet trained on, AA and AB
0.45/0.55 nm held out). Candidate forms, energies in eV, ``r`` in nm, sums over every carbon
within :data:`CUTOFF_NM` (plain truncation, as OpenMM applies predesolv's default cutoff):

======================  ==============================================================
``lj-12-6``             ``sum (a r^-12 - b r^-6)``
``buckingham``          ``sum (A exp(-r/rho) - C6 r^-6)``
``born-mayer-c4``       ``sum (A exp(-r/rho) - C4 r^-4)``
``born-mayer-c4-c6``    ``sum (A exp(-r/rho) - C4 r^-4 - C6 r^-6)``
``embedded``            ``sum A exp(-r/rho) - D sqrt(sum exp(-r/lam))``
======================  ==============================================================

plus, in every form, a constant ``c``. Born–Mayer repulsion: Born & Mayer, *Z. Phys.* 75, 1
(1932); ``r^-4`` is the ion–induced-dipole attraction, ``r^-6`` dispersion; ``embedded`` is
the second-moment (Finnis–Sinclair) form, Finnis & Sinclair, *Philos. Mag. A* 50, 45 (1984),
whose square root makes the attraction sub-additive — as the MLIP data are: Na on the
mid-plane of a 0.60 nm slit binds far less than twice as strongly as 0.30 nm over one sheet.

Why a constant: in the MLIP the neutral Na gives its electron to the carbon; the energy of that
transfer (ionisation minus the carbon's electron affinity) does not depend on where the ion
sits once it touches carbon, and an MD Na⁺ is an ion everywhere. ``c`` absorbs it and is not
part of the MD term. Hence only *contact* configurations are fitted and scored: Na at most
:data:`CONTACT_NM` from a carbon plane and at most :data:`ENERGY_WINDOW_EV` above the lowest
energy of its group (the steep wall above that is not visited and would dominate the
least-squares fit).

Fitting: all forms are linear in their coefficients once ``rho`` (and ``lam``) are fixed; for
every point of the ``rho`` (× ``lam``) grid the coefficients are the least-squares solution on
the training configurations (a negative coefficient is dropped and the rest refitted), and the
grid point with the lowest training error is kept. The form is then *chosen* by the held-out
root-mean-square error, never the training error.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from predesolv.analysis.pmf import KJ_PER_MOL_PER_EV

from .na_c_mlip_data import NaCarbonConfig

#: Pair cutoff of the classical sums (nm): predesolv's default nonbonded cutoff.
CUTOFF_NM = 1.0
#: Contact configurations: Na within this distance of the nearest carbon plane (nm).
CONTACT_NM = 0.40
#: Configurations more than this above their group's lowest energy are not fitted or scored.
ENERGY_WINDOW_EV = 0.8
#: Born–Mayer ranges tried (nm) and the embedding ranges of ``embedded`` (nm).
RHO_GRID_NM = tuple(float(x) for x in np.round(np.arange(0.015, 0.0501, 0.0025), 5))
LAM_GRID_NM = tuple(float(x) for x in np.round(np.arange(0.04, 0.2001, 0.01), 5))
#: Coefficient names of each form (``c`` = constant, free sign; all others >= 0).
FORMS: dict[str, tuple[str, ...]] = {
    "lj-12-6": ("a", "b", "c"),
    "buckingham": ("A", "C6", "c"),
    "born-mayer-c4": ("A", "C4", "c"),
    "born-mayer-c4-c6": ("A", "C4", "C6", "c"),
    "embedded": ("A", "D", "c"),
}
#: Units of the coefficients once converted to kJ/mol.
COEFFICIENT_UNITS = {"a": "kJ/mol nm^12", "b": "kJ/mol nm^6", "A": "kJ/mol",
                     "C4": "kJ/mol nm^4", "C6": "kJ/mol nm^6", "D": "kJ/mol", "c": "kJ/mol"}
POWERS = {"a": -12.0, "b": -6.0, "C4": -4.0, "C6": -6.0}
SIGNS = {"a": 1.0, "b": -1.0, "C4": -1.0, "C6": -1.0, "A": 1.0, "D": -1.0, "c": 1.0}


def term(name: str, r_nm: np.ndarray, rho_nm: float = 0.03, lam_nm: float = 0.1) -> float:
    """One coefficient's multiplier for one configuration (signed, see :data:`FORMS`)."""
    if name == "c":
        return 1.0
    if name == "A":
        return float(np.sum(np.exp(-r_nm / rho_nm)))
    if name == "D":
        return -float(np.sqrt(np.sum(np.exp(-r_nm / lam_nm))))
    return SIGNS[name] * float(np.sum(r_nm ** POWERS[name]))


@dataclass
class FormFit:
    """One fitted form.

    Attributes
    ----------
    form : str
        A key of :data:`FORMS`.
    coef_eV : dict
        Coefficient name -> value (eV with ``r`` in nm; ``c`` is the constant).
    rho_nm, lam_nm : float or None
        Ranges of the exponential terms (None where the form has none).
    predicted_eV : numpy.ndarray
        Shape (n_configs,): the form at every configuration, constant included (eV).
    train_rmse_eV, held_out_rmse_eV, held_out_max_eV : float
        Over the fitted / held-out contact configurations (eV).
    group_rmse_eV : dict
        Group (``"AA 0.45 nm"``, ...) -> RMSE over its scored configurations (eV).
    """

    form: str
    coef_eV: dict[str, float]
    rho_nm: float | None
    lam_nm: float | None
    predicted_eV: np.ndarray
    train_rmse_eV: float
    held_out_rmse_eV: float
    held_out_max_eV: float
    group_rmse_eV: dict[str, float] = field(default_factory=dict)

    def energy_eV(self, r_nm: np.ndarray) -> float:
        """The MD part of the form (no constant) for one Na with carbons at ``r_nm`` (nm)."""
        r = np.asarray(r_nm, dtype=float)
        return sum(self.coef_eV[n] * term(n, r, self.rho_nm or 1.0, self.lam_nm or 1.0)
                   for n in FORMS[self.form] if n != "c")

    def coefficients_kJ(self) -> dict[str, float]:
        """Coefficients in kJ/mol (nm powers as in :data:`COEFFICIENT_UNITS`)."""
        return {k: v * KJ_PER_MOL_PER_EV for k, v in self.coef_eV.items()}


def scored_mask(configs: Sequence[NaCarbonConfig], energies_eV: np.ndarray) -> np.ndarray:
    """Contact configurations within :data:`ENERGY_WINDOW_EV` of their group's minimum."""
    e = np.asarray(energies_eV, dtype=float)
    groups = np.array([c.group for c in configs])
    low = {g: float(e[groups == g].min()) for g in set(groups)}
    gap = np.array([min(c.height_nm, c.spacing_nm - c.height_nm) for c in configs])
    return (gap <= CONTACT_NM + 1e-9) & (e - np.array([low[g] for g in groups])
                                         <= ENERGY_WINDOW_EV)


def _lstsq(x: np.ndarray, y: np.ndarray, free: Sequence[int]) -> np.ndarray:
    """Least squares with every column not in ``free`` >= 0 (exhaustive over active sets)."""
    n = x.shape[1]
    signed = [k for k in range(n) if k not in free]
    best, best_err = np.zeros(n), np.inf
    for k in range(len(signed) + 1):
        for keep in itertools.combinations(signed, k):
            cols = sorted([*free, *keep])
            sol, *_ = np.linalg.lstsq(x[:, cols], y, rcond=None)
            if all(s >= 0 for col, s in zip(cols, sol, strict=True) if col not in free):
                err = float(np.sum((x[:, cols] @ sol - y) ** 2))
                if err < best_err:
                    best_err, best = err, np.zeros(n)
                    best[cols] = sol
    return best


def _rmse(err: np.ndarray) -> float:
    return float(np.sqrt(np.mean(err * err))) if len(err) else float("nan")


def fit_form(form: str, configs: Sequence[NaCarbonConfig], energies_eV: np.ndarray,
             distances: Sequence[np.ndarray]) -> FormFit:
    """Fit one form (module docstring) and score it on the held-out configurations."""
    names = FORMS[form]
    e = np.asarray(energies_eV, dtype=float)
    scored = scored_mask(configs, e)
    held = np.array([c.held_out for c in configs])
    train = scored & ~held
    rhos = RHO_GRID_NM if "A" in names else (None,)
    lams = LAM_GRID_NM if "D" in names else (None,)
    free = [names.index("c")]
    best: tuple[float, np.ndarray, float | None, float | None] | None = None
    for rho, lam in itertools.product(rhos, lams):
        x = np.array([[term(n, r, rho or 1.0, lam or 1.0) for n in names]
                      for r, t in zip(distances, train, strict=True) if t])
        sol = _lstsq(x, e[train], free)
        err = _rmse(x @ sol - e[train])
        if best is None or err < best[0]:
            best = (err, sol, rho, lam)
    assert best is not None
    _err, sol, rho, lam = best
    x_all = np.array([[term(n, r, rho or 1.0, lam or 1.0) for n in names] for r in distances])
    pred = x_all @ sol
    res = pred - e
    groups = np.array([c.group for c in configs])
    per_group = {str(g): _rmse(res[scored & (groups == g)]) for g in sorted(set(groups))}
    held_res = res[scored & held]
    return FormFit(form, {n: float(v) for n, v in zip(names, sol, strict=True)}, rho, lam, pred,
                   _rmse(res[train]), _rmse(held_res),
                   float(np.max(np.abs(held_res))) if len(held_res) else float("nan"),
                   per_group)


def fit_all(configs: Sequence[NaCarbonConfig], energies_eV: np.ndarray,
            distances: Sequence[np.ndarray]) -> dict[str, FormFit]:
    """Every form of :data:`FORMS` fitted to the same data."""
    return {form: fit_form(form, configs, energies_eV, distances) for form in FORMS}


def lowest_held_out(fits: Mapping[str, FormFit], forms: Sequence[str] | None = None) -> FormFit:
    """The form (of ``forms``, default all) with the lowest held-out RMSE; a tie within
    1e-6 eV goes to the form with fewer coefficients."""
    pool = [fits[f] for f in (forms or list(fits))]
    return min(pool, key=lambda f: (round(f.held_out_rmse_eV, 6), len(FORMS[f.form])))
