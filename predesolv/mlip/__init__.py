"""Machine-learned interatomic potentials and GFN2-xTB for 0 K work (the ``ml`` extra).

Without ``pip install "predesolv[ml]"`` this package still imports; asking for a model
raises :class:`predesolv.errors.ConfigError` (CLI exit status 2) naming the extra.
"""

from predesolv.mlip.errors import INSTALL_HINT, MissingExtraError
from predesolv.mlip.models import (
    MODELS,
    MLModelConfig,
    ModelSpec,
    load_calculator,
    model_names,
    parse_model_config,
    resolve_device,
    weights_path,
)
from predesolv.mlip.structures import (
    ANGSTROM_PER_NM,
    add_atoms,
    built_to_atoms,
    cell_nm,
    molecule_atoms,
    positions_nm,
    to_atoms,
)

__all__ = [
    "ANGSTROM_PER_NM", "INSTALL_HINT", "MODELS", "MLModelConfig", "MissingExtraError",
    "ModelSpec", "add_atoms", "built_to_atoms", "cell_nm", "load_calculator", "model_names",
    "molecule_atoms", "parse_model_config", "positions_nm", "resolve_device", "to_atoms",
    "weights_path",
]
