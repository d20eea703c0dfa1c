"""Turn the ``system`` config block into a :class:`~predesolv.built.BuiltSystem`.

Dispatch only: user files are read by :mod:`predesolv.system_files`; builders live in
:mod:`predesolv.systems`.
"""

from __future__ import annotations

from openmm import unit

from predesolv.built import BuiltSystem
from predesolv.config.system import SystemConfig
from predesolv.system_files import load_files
from predesolv.systems.cell import build_cell
from predesolv.systems.electrolyte import build_electrolyte
from predesolv.systems.ion_slit import build_ion_slit


def build_system(cfg: SystemConfig) -> BuiltSystem:
    """Build (or load) the system the ``system`` block describes. Never runs MD."""
    if cfg.from_files is not None:
        f = cfg.from_files
        return load_files(f.system_xml, f.pdb, f.metadata)
    seed = int(cfg.seed if cfg.seed is not None else 0)
    if cfg.ion_slit is not None:
        s = cfg.ion_slit
        return build_ion_slit(s.spacing.value_in_unit(unit.nanometer), s.ions,
                              stacking=s.stacking, edge=s.edge,
                              layers_per_wall=s.layers_per_wall, forcefield=cfg.forcefield)
    if cfg.electrode is not None:
        return build_cell(cfg.electrolyte, cfg.electrode, cfg.forcefield, seed)
    assert cfg.electrolyte is not None  # SystemConfig requires one source of the system
    return build_electrolyte(cfg.electrolyte, cfg.forcefield, seed)


