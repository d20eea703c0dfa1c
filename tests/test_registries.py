"""Registries of CV types and electrode charge modes: a new type is one module (here: this
test file) that registers a spec/config model plus the function that applies it; the YAML
parser, the error messages and the JSON schema pick it up with no other edit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import openmm
import pytest
from conftest import base_config
from openmm import unit

import predesolv
from predesolv.config import RunConfig, parse_config
from predesolv.config.cvtypes import (
    CVSpecBase,
    ResolvedCV,
    cv_type_names,
    register_cv_type,
    unregister_cv_type,
)
from predesolv.config.electrode import (
    ChargeModeConfig,
    ElectrodeConfig,
    charge_mode_names,
    register_charge_mode,
    unregister_charge_mode,
)
from predesolv.config.electrode_kinds import register_electrode_kind, unregister_electrode_kind
from predesolv.config.electrolyte import ElectrolyteConfig
from predesolv.config.forcefield import ForceFieldConfig
from predesolv.errors import ConfigError
from predesolv.freeenergy.bias import BIAS_FORCE_GROUP, Bias, refuse_start_at_cut, resolve_cv
from predesolv.systems.cell import build_cell, conductor_atoms
from predesolv.systems.charges import nonbonded_force, spread_charge
from predesolv.systems.slit import (
    build_electrode_geometry,
    register_geometry_builder,
    unregister_geometry_builder,
)


# ----------------------------------------------------------------- a toy CV type
@dataclass(frozen=True)
class AtomX:
    """The raw x coordinate (nm) of one atom: U = x in OpenMM, pos[atom, 0] in NumPy."""

    atom: int

    def cv_terms(self, system: openmm.System, name: str = "cv", periodic: bool | None = None
                 ) -> tuple[str, list[tuple[str, openmm.Force]]]:
        force = openmm.CustomExternalForce("x")
        force.addParticle(self.atom, [])
        return name, [(name, force)]

    def from_positions(self, positions_nm: Any, box_nm: Any = None, masses: Any = None) -> Any:
        return float(np.asarray(positions_nm)[self.atom, 0])


class AtomXSpec(CVSpecBase):
    """``{type: atom_x, atom: 3}``."""

    type: Literal["atom_x"]
    atom: int

    @property
    def column(self) -> str:
        return "x_nm"


def resolve_atom_x(spec: AtomXSpec, built: Any, field: str, r0_nm: Any = None) -> ResolvedCV:
    if not 0 <= spec.atom < built.system.getNumParticles():
        raise ConfigError(f"atom {spec.atom} is not in the system", f"{field}.atom")
    return ResolvedCV(AtomX(spec.atom), spec.unit, spec.column, (spec.atom,))


@pytest.fixture
def atom_x():
    register_cv_type("atom_x", AtomXSpec, resolve_atom_x)
    yield
    unregister_cv_type("atom_x")


def _bias_cfg(tmp_path, cv: dict) -> dict:
    return base_config(tmp_path / "run", bias={"cv": cv, "center": "1.2 nm",
                                               "k": "300 kJ/mol/nm**2"})


def test_a_registered_cv_type_biases_the_system_like_numpy(tmp_path, atom_x):
    cfg = parse_config(_bias_cfg(tmp_path, {"type": "atom_x", "atom": 5}))
    assert isinstance(cfg.bias.cv, AtomXSpec) and cfg.bias.k_value == 300.0
    built = predesolv.build(cfg)
    bias = Bias(cfg.bias, built)
    assert bias.cv.column == "x_nm" and bias.cv.atoms == (5,)
    pos = np.array(built.positions.value_in_unit(unit.nanometer))
    assert bias.values(pos, None) == pos[5, 0]
    system = openmm.XmlSerializer.clone(built.system)
    bias.add_to(system)
    ctx = openmm.Context(system, openmm.VerletIntegrator(0.001),
                         openmm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(pos)
    e = ctx.getState(getEnergy=True, groups={BIAS_FORCE_GROUP}).getPotentialEnergy()
    expect = 0.5 * 300.0 * (pos[5, 0] - 1.2) ** 2
    assert e.value_in_unit(unit.kilojoule_per_mole) == pytest.approx(expect, rel=1e-9)
    refuse_start_at_cut(cfg.bias.cv, built, pos, "bias.cv")  # no start check: accepted
    with pytest.raises(ConfigError, match=r"bias.cv.atom: atom 100000 is not in the system"):
        resolve_cv(AtomXSpec(type="atom_x", atom=100000), built, "bias.cv")


def test_unknown_cv_type_names_the_registered_ones(tmp_path, atom_x):
    with pytest.raises(ConfigError) as err:
        parse_config(_bias_cfg(tmp_path, {"type": "angle", "atom": 1}))
    msg = str(err.value)
    assert "bias.cv.type: unknown CV type; allowed: " in msg and "(got 'angle')" in msg
    for name in ("atom_x", "coordination", "distance", "position"):
        assert name in msg
    with pytest.raises(ConfigError, match=r"bias.cv.atom: .*(integer|int)"):
        parse_config(_bias_cfg(tmp_path, {"type": "atom_x", "atom": "five"}))
    with pytest.raises(ConfigError, match=r"bias.cv.type: required field is missing: the "
                                          r"CV type, one of atom_x, coordination"):
        parse_config(_bias_cfg(tmp_path, {"atom": 1}))


def test_registry_lifecycle_and_schema(atom_x):
    assert {"position", "distance", "coordination", "atom_x"} <= set(cv_type_names())
    schema = json.dumps(RunConfig.model_json_schema())
    assert '"atom_x"' in schema and '"coordination"' in schema
    with pytest.raises(ValueError, match="registered already"):
        register_cv_type("position", AtomXSpec, resolve_atom_x)
    register_cv_type("atom_x", AtomXSpec, resolve_atom_x)  # the same model again: no-op
    unregister_cv_type("atom_x")
    assert "atom_x" not in cv_type_names()
    assert '"atom_x"' not in json.dumps(RunConfig.model_json_schema())
    with pytest.raises(ValueError, match="needs a field type"):
        register_cv_type("bad", CVSpecBase, resolve_atom_x)


# ------------------------------------------------------- a toy electrode charge mode
class FixedTotalConfig(ChargeModeConfig):
    """``{mode: fixed_total, total_e: -0.5}``: +/- total_e on working/counter conductors."""

    mode: Literal["fixed_total"]
    total_e: float

    def check_electrode(self, electrode: ElectrodeConfig) -> None:
        if electrode.counter_electrode is None:
            raise ValueError("charge.mode 'fixed_total' needs a 'counter_electrode'")


def apply_fixed_total(cfg: FixedTotalConfig, layout: Any, assembly: Any, q_req: Any,
                      q_work: Any, out: Any) -> Any:
    w = conductor_atoms(assembly.system, assembly.top, assembly.w_idx)
    c = conductor_atoms(assembly.system, assembly.top, assembly.c_idx)
    spread_charge(assembly.system, w, cfg.total_e)
    spread_charge(assembly.system, c, -cfg.total_e)
    out.charges = {"mode": "fixed_total", "total_e": cfg.total_e}
    out.groups = {"conductor:working": w}
    return out


@pytest.fixture
def fixed_total():
    register_charge_mode("fixed_total", FixedTotalConfig, apply_fixed_total)
    yield
    unregister_charge_mode("fixed_total")


SLIT = dict(kind="slit", edge="zigzag", width="1.5 nm", length="1.3 nm", spacing="0.8 nm")


def test_a_registered_charge_mode_charges_the_cell(fixed_total):
    ec = ElectrodeConfig(**SLIT, counter_electrode={"length": "0.5 nm"},
                         charge={"mode": "fixed_total", "total_e": -0.5})
    built = build_cell(ElectrolyteConfig(salt="NaPF6", solvents={"DME": 1.0}, n_salt=4,
                                         n_solvent=24),
                       ec, ForceFieldConfig(nonbonded_cutoff="0.7 nm"), seed=3)
    assert built.metadata.charges.mode == "fixed_total"
    nb = nonbonded_force(built.system)
    q = np.array([nb.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
                  for i in range(built.system.getNumParticles())])
    assert q.sum() == pytest.approx(0.0, abs=1e-6)
    w = built.metadata.groups["conductor:working"]
    assert q[w].sum() == pytest.approx(-0.5, abs=1e-6)
    assert np.allclose(q[w], -0.5 / len(w))


def test_charge_mode_errors_name_the_registered_modes(fixed_total):
    with pytest.raises(ValueError, match="fixed_total' needs a 'counter_electrode'"):
        ElectrodeConfig(**SLIT, charge={"mode": "fixed_total", "total_e": 1.0})
    cfg = base_config("unused")
    cfg["system"] = {"electrolyte": {"salt": "NaPF6", "solvents": {"DME": 1.0}, "n_salt": 4,
                                     "n_solvent": 24},
                     "electrode": {**SLIT, "charge": {"mode": "constant_voltage"}}}
    with pytest.raises(ConfigError) as err:
        parse_config(cfg)
    msg = str(err.value)
    assert "system.electrode.charge.mode: unknown electrode charge mode; allowed: " in msg
    assert "constant_charge, constant_potential, fixed_total" in msg
    assert "(got 'constant_voltage')" in msg
    assert set(charge_mode_names()) >= {"constant_charge", "constant_potential", "fixed_total"}
    with pytest.raises(ValueError, match="registered already"):
        register_charge_mode("constant_charge", FixedTotalConfig)


# --------------------------------------------------------------- electrode geometry kinds
def _check_block(cfg: Any) -> None:
    if cfg.length is None or cfg.layers is not None:
        raise ValueError("kind 'block' needs 'length' and takes no 'layers' (always 5)")


def _block(cfg: Any) -> Any:
    """A graphite block: always 5 edge-on sheets (made by the surface builder)."""
    return build_electrode_geometry(cfg.model_copy(update={"kind": "surface", "layers": 5}))


@pytest.fixture
def block():
    register_electrode_kind("block", _check_block, lambda cfg: [], has_slit=False)
    register_geometry_builder("block", _block)
    yield
    unregister_geometry_builder("block")
    unregister_electrode_kind("block")


def test_a_registered_electrode_kind_builds_a_cell(block):
    """A kind added by one module (here: this test's two registrations) builds a whole cell;
    its carbons are 5 sheets 0.335 nm apart, each with as many atoms as a one-layer surface
    of the same length and width."""
    ec = ElectrodeConfig(kind="block", edge="zigzag", width="1.5 nm", length="1.3 nm")
    assert ec.slit_spacings_nm() == []
    built = build_cell(ElectrolyteConfig(salt="NaPF6", solvents={"DME": 1.0}, n_salt=2,
                                         n_solvent=16),
                       ec, ForceFieldConfig(nonbonded_cutoff="0.7 nm"), seed=3)
    carbons = np.asarray(built.positions.value_in_unit(unit.nanometer))[
        built.metadata.groups["electrode"]]
    z = np.unique(np.round(carbons[:, 2], 6))
    assert np.allclose(np.diff(z), 0.335, atol=1e-6) and len(z) == 5
    one_layer = ElectrodeConfig(kind="surface", edge="zigzag", width="1.5 nm",
                                length="1.3 nm", layers=1)
    assert len(carbons) == 5 * build_electrode_geometry(one_layer).sheet.n_atoms
    assert built.metadata.geometry.kind == "block"
    with pytest.raises(ValueError, match="'slit_walls' needs a slit \\(kind block"):
        ElectrodeConfig(kind="block", edge="zigzag", width="1.5 nm", length="1.3 nm",
                        charge={"mode": "constant_charge", "sigma": "-0.05 C/m**2",
                                "apply_to": "slit_walls", "neutralize": "electrolyte"})


def test_unknown_electrode_kind_names_the_registered_ones(block):
    cfg = base_config("unused")
    cfg["system"] = {"electrolyte": {"salt": "NaPF6", "solvents": {"DME": 1.0}, "n_salt": 4,
                                     "n_solvent": 24},
                     "electrode": {**SLIT, "kind": "pillar"}}
    with pytest.raises(ConfigError) as err:
        parse_config(cfg)
    msg = str(err.value)
    assert "system.electrode.kind" in msg and "'pillar'" in msg
    assert "block, slit, stagewise_pore, surface" in msg
