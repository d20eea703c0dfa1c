"""E7 at 0 K: the stepwise desolvation bookkeeping (eq. 1 of Tang et al.) on hand-made
minima, the Arrhenius time, and a frozen slab that stays put while the cluster relaxes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from openmm import unit

from predesolv.workflows.stepwise import (
    H_EV_S,
    K_B_EV,
    Minimum,
    arrhenius_time_s,
    build_system,
    stepwise_table,
    surface_slab,
)

EV = 96.48533212


def test_arrhenius_time_is_one_second_at_kt_ln_kt_over_h():
    kt = K_B_EV * 298.15
    assert arrhenius_time_s(kt * math.log(kt / H_EV_S)) == pytest.approx(1.0, rel=1e-12)
    assert arrhenius_time_s(0.0) == pytest.approx(H_EV_S / kt, rel=1e-12)


def test_stepwise_table_applies_eq1_to_the_lowest_bound_minima():
    # E(k) = -100 k kJ/mol (lowest bound start), E[EC] = 30: E_desolv = (100 + 30) kJ/mol
    minima = {k: [Minimum(-100.0 * k, k, 0), Minimum(-100.0 * k + 5.0, k, 1),
                  Minimum(-100.0 * k - 50.0, k - 1, 2)]  # not fully bound: ignored
              for k in range(7)}
    rows = stepwise_table(minima, 30.0, "test")
    assert [r["step"] for r in rows] == ["6->5 EC", "5->4 EC", "4->3 EC", "3->2 EC",
                                          "2->1 EC", "1->0 EC"]
    for r in rows:
        assert r["E_desolv_eV"] == pytest.approx(130.0 / EV, rel=1e-9)
        assert r["bound_starts_before"] == 2
    assert rows[0]["spread_before_eV"] == pytest.approx(5.0 / EV, rel=1e-9)


def test_slab_is_frozen_and_cluster_relaxes():
    import openmm

    from predesolv.workflows.stepwise import cluster_start

    slab = surface_slab("zigzag", "n_oxide", seed=2, reservoir_ec=60)
    system, top, n_slab = build_system(slab, 2)
    assert n_slab == len(slab.positions_nm) and n_slab > 300
    assert all(system.getParticleMass(i).value_in_unit(unit.dalton) == 0
               for i in range(n_slab))
    mols = cluster_start(slab, 2, np.random.default_rng(0))
    assert mols is not None
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("CPU"))
    start = np.vstack([slab.positions_nm, *mols])
    ctx.setPositions(start * unit.nanometer)
    openmm.LocalEnergyMinimizer.minimize(ctx, 1.0, 300)
    end = ctx.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(
        unit.nanometer)
    assert np.max(np.abs(end[:n_slab] - start[:n_slab])) == 0.0
    assert np.max(np.abs(end[n_slab:] - start[n_slab:])) > 1e-3
    # slab, one Na+, two EC (10 atoms each)
    assert top.getNumAtoms() == n_slab + 1 + 2 * 10


_TWICE = """
import json
from predesolv.workflows.global_search import AnnealProtocol, anneal_cluster
from predesolv.workflows.stepwise import gas_phase, minimise_cluster
slab = gas_phase()
runs = [[m.energy_kJ_per_mol for m in minimise_cluster(slab, 6, 3, seed=1)] for _ in range(2)]
hot = AnnealProtocol(steps=200, segments=4)
runs += [[m.energy_kJ_per_mol for m in anneal_cluster(slab, 4, 1, seed=2, protocol=hot)]
         for _ in range(2)]
print(json.dumps(runs))
"""


def test_cluster_minima_are_reproducible_on_a_multithreaded_cpu_platform():
    """The same starts give bit-identical minima twice in one process, with the CPU
    platform's default at 2 threads (set before openmm loads, in a child process). With
    OpenMM's threaded force sums the minimiser ended Na+(EC)6 start 1 at -452.19 and
    -436.87 kJ/mol in two calls; the cluster contexts now run on one thread."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "OPENMM_CPU_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", _TWICE], env=env, capture_output=True,
                         text=True, check=True, timeout=600)
    plain_1, plain_2, hot_1, hot_2 = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(plain_1) == 3 and len(hot_1) == 1
    assert plain_1 == plain_2 and hot_1 == hot_2


def test_cluster_context_runs_the_cpu_platform_on_one_thread():
    import openmm

    from predesolv.workflows.stepwise import cluster_context

    system = openmm.System()
    system.addParticle(1.0)
    ctx = cluster_context(system, openmm.VerletIntegrator(0.001), "CPU")
    assert ctx.getPlatform().getPropertyValue(ctx, "Threads") == "1"
    ref = cluster_context(system, openmm.VerletIntegrator(0.001), "Reference")
    assert ref.getPlatform().getName() == "Reference"


def test_the_suites_thread_setting_reaches_openmm():
    """conftest sets OPENMM_CPU_THREADS before openmm loads; set after, it was ignored and
    in-process contexts ran on every core."""
    import os

    import openmm

    cpu = openmm.Platform.getPlatformByName("CPU")
    assert cpu.getPropertyDefaultValue("Threads") == os.environ["OPENMM_CPU_THREADS"]
