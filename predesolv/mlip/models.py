"""Machine-learned potentials and GFN2-xTB by name, as ASE calculators; never a download.

Names (the YAML key ``model``)::

    model: chgnet-0.3.0     # CHGNet 0.3.0, PBE/PBE+U (MPtrj), weights in the chgnet wheel
    model: sevennet-0       # SevenNet-0 (11 Jul 2024), PBE/PBE+U (MPtrj), in the sevenn wheel
    model: gfn2-xtb         # GFN2-xTB through tblite (semi-empirical; total charge allowed)
    device: auto            # auto (CUDA when torch sees a GPU) | cpu | cuda
    dispersion: none        # none | d3bj | d3zero (PBE-D3 from the dftd3 wheel; MLIPs)
    charge: 0               # total charge (e); only gfn2-xtb accepts a non-zero one
    multiplicity: null      # spin multiplicity 2S+1 (gfn2-xtb; default: lowest)

Weights are read from the file inside the installed package (:func:`weights_path`), passed
to the model by path: neither CHGNet's nor SevenNet's loader is ever given a name it could
resolve by downloading. ``docs/mlip.md`` describes the models, their licences and limits;
``tests/test_mlip.py`` loads every model with network sockets blocked.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from predesolv.config.base import Int, StrictModel
from predesolv.config.loader import format_validation_error
from predesolv.errors import ConfigError
from predesolv.mlip.errors import require


@dataclass(frozen=True)
class ModelSpec:
    """One registered model.

    Attributes
    ----------
    name : str
        The name users write (``model: chgnet-0.3.0``).
    package : str
        Python package that provides it (and, for MLIPs, ships the weights).
    weights : str or None
        Weights file, relative to the package's folder in site-packages (None: no weights).
    theory : str
        Level of theory of the training data (what the model reproduces at best).
    licence : str
        Licence of the package and its weights.
    citation : str
        The paper to cite.
    charged : bool
        Whether a total charge can be set (only the electronic-structure method).
    """

    name: str
    package: str
    weights: str | None
    theory: str
    licence: str
    citation: str
    charged: bool


MODELS: dict[str, ModelSpec] = {
    "chgnet-0.3.0": ModelSpec(
        "chgnet-0.3.0", "chgnet", "pretrained/0.3.0/chgnet_0.3.0_e29f68s314m37.pth.tar",
        "PBE/PBE+U (Materials Project trajectories, MPtrj); no dispersion",
        "BSD-3-Clause (modified BSD)",
        "B. Deng et al., Nat. Mach. Intell. 5, 1031 (2023)", charged=False),
    "sevennet-0": ModelSpec(
        "sevennet-0", "sevenn",
        "pretrained_potentials/SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth",
        "PBE/PBE+U (Materials Project trajectories, MPtrj); no dispersion",
        "MIT (sevenn package, checkpoint included)",
        "Y. Park et al., J. Chem. Theory Comput. 20, 4857 (2024)", charged=False),
    "gfn2-xtb": ModelSpec(
        "gfn2-xtb", "tblite", None,
        "GFN2-xTB tight binding (parametrised on molecular DFT references; D4 built in)",
        "LGPL-3.0-or-later (tblite)",
        "C. Bannwarth, S. Ehlert, S. Grimme, J. Chem. Theory Comput. 15, 1652 (2019)",
        charged=True),
}

#: Dispersion corrections that can be added to an MLIP (dftd3 damping names).
DISPERSION = ("none", "d3bj", "d3zero")


def model_names() -> list[str]:
    """Names of the registered models, sorted."""
    return sorted(MODELS)


def model_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``.

    Raises
    ------
    ConfigError
        Unknown name (field ``model``); the message lists the known ones.
    """
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose from {', '.join(model_names())}",
                          field="model")
    return MODELS[name]


def weights_path(name: str) -> Path | None:
    """Absolute path of the weights file of model ``name`` inside its installed package.

    Parameters
    ----------
    name : str
        A registered model name.

    Returns
    -------
    Path or None
        The file (it exists); None for a model without weights (``gfn2-xtb``).

    Raises
    ------
    MissingExtraError
        The package is not installed.
    ConfigError
        The installed package lacks the file (another version, or a stripped install):
        predesolv does not download it.
    """
    spec = model_spec(name)
    if spec.weights is None:
        return None
    package = require(spec.package, f"model {name}")
    path = Path(str(package.__file__)).resolve().parent / spec.weights
    if not path.is_file():
        raise ConfigError(f"the installed {spec.package} has no weights file {path} (model "
                          f"{name}); predesolv never downloads weights: install the "
                          f"version the ml extra names", field="model")
    return path


def resolve_device(device: str = "auto") -> str:
    """``"cuda"`` or ``"cpu"`` for torch models.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        ``auto``: CUDA when ``torch.cuda.is_available()``, else the CPU.

    Raises
    ------
    ConfigError
        ``cuda`` requested but torch sees no GPU, or an unknown device (field ``device``).
    MissingExtraError
        torch is not installed.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"unknown device {device!r}; choose auto, cpu or cuda",
                          field="device")
    if device == "cpu":
        return "cpu"
    torch = require("torch", "an ML potential")
    has_gpu = bool(torch.cuda.is_available())
    if device == "cuda" and not has_gpu:
        raise ConfigError("cuda requested but torch sees no CUDA device (torch "
                          f"{torch.__version__}); use device: auto or cpu", field="device")
    return "cuda" if has_gpu else "cpu"


class MLModelConfig(StrictModel):
    """The ``model`` block of a 0 K (ASE) calculation.

    Attributes
    ----------
    model : str
        A registered name (:func:`model_names`).
    device : {"auto", "cpu", "cuda"}
        Torch device of the MLIPs (gfn2-xtb always runs on the CPU).
    dispersion : {"none", "d3bj", "d3zero"}
        Add Grimme's D3 with PBE parameters to an MLIP: Becke-Johnson (``d3bj``) or zero
        (``d3zero``) damping, three-body term on (the dftd3 defaults); pick the damping the
        reference DFT used. Refused for gfn2-xtb, which has D4 built in.
    charge : int
        Total charge (e); the MLIPs have none, so only 0 is accepted for them.
    multiplicity : int or None
        Spin multiplicity 2S+1 (gfn2-xtb); None: the lowest for the electron count.
    """

    model: str = Field(description="chgnet-0.3.0 | sevennet-0 | gfn2-xtb")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="torch device of an MLIP; auto: CUDA when present")
    dispersion: Literal["none", "d3bj", "d3zero"] = Field(
        "none", description="add PBE-D3 (BJ or zero damping) to an MLIP (they have none)")
    charge: Annotated[Int, Field(ge=-20, le=20)] = Field(
        0, description="total charge (e); gfn2-xtb only")
    multiplicity: Annotated[Int, Field(ge=1, le=20)] | None = Field(
        None, description="spin multiplicity 2S+1 (gfn2-xtb)")

    @field_validator("model")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in MODELS:
            raise ValueError(f"unknown model {value!r}; choose from {', '.join(model_names())}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MLModelConfig:
        spec = MODELS[self.model]
        if not spec.charged and (self.charge != 0 or self.multiplicity is not None):
            raise ValueError(
                f"charge/multiplicity: {self.model} has no total charge or spin (trained on "
                f"neutral periodic PBE cells); keep charge 0 and use gfn2-xtb for ions")
        if spec.charged and self.dispersion != "none":
            raise ValueError(f"dispersion: {self.model} has D4 dispersion built in; "
                             f"use dispersion: none")
        return self


def parse_model_config(data: Any, source: str = "model") -> MLModelConfig:
    """Validate a ``model`` block (a dict, or just the model name as a string).

    Raises
    ------
    ConfigError
        Any invalid value; the message names the field (``model``, ``charge``, ...).
    """
    if isinstance(data, str):
        data = {"model": data}
    try:
        return MLModelConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {format_validation_error(exc)}") from None


def load_calculator(model: str | MLModelConfig, **options: Any) -> Any:
    """An ASE calculator of a registered model, loaded from the installed package only.

    Parameters
    ----------
    model : str or MLModelConfig
        A name (``"chgnet-0.3.0"``, ``"sevennet-0"``, ``"gfn2-xtb"``) or a validated block.
    **options
        ``device``, ``dispersion``, ``charge``, ``multiplicity`` (see :class:`MLModelConfig`)
        when ``model`` is a name.

    Returns
    -------
    ase.calculators.calculator.Calculator
        Energies in eV, forces in eV/Å (ASE units); with ``dispersion: d3bj`` a
        ``SumCalculator`` of the MLIP and D3 when ``dispersion`` is not ``none``.

    Raises
    ------
    ConfigError
        Invalid options, or a missing weights file.
    MissingExtraError
        The ``ml`` extra is not installed (a ConfigError: CLI exit status 2).
    """
    cfg = model if isinstance(model, MLModelConfig) else parse_model_config(
        {"model": model, **options})
    if cfg.model == "gfn2-xtb":
        return _xtb(cfg)
    path = weights_path(cfg.model)
    assert path is not None
    device = resolve_device(cfg.device)
    calc = _chgnet(path, device) if cfg.model == "chgnet-0.3.0" else _sevennet(path, device)
    if cfg.dispersion != "none":
        mixing = require("ase.calculators.mixing", f"dispersion {cfg.dispersion}")
        d3 = require("dftd3.ase", f"dispersion {cfg.dispersion}")
        calc = mixing.SumCalculator([calc, d3.DFTD3(method="PBE", damping=cfg.dispersion)])
    return calc


def _chgnet(path: Path, device: str) -> Any:
    """CHGNet 0.3.0 from its weights file (the arguments of ``CHGNet.load("0.3.0")``)."""
    model_mod = require("chgnet.model", "model chgnet-0.3.0")
    dynamics = require("chgnet.model.dynamics", "model chgnet-0.3.0")
    with contextlib.redirect_stdout(io.StringIO()):  # "CHGNet v0.3.0 initialized ..."
        net = model_mod.CHGNet.from_file(str(path), mlp_out_bias=False, version="0.3.0")
        return dynamics.CHGNetCalculator(model=net, use_device=device, check_cuda_mem=False,
                                         on_isolated_atoms="ignore")


def _sevennet(path: Path, device: str) -> Any:
    """SevenNet-0 from its checkpoint file (a path: no name lookup, no download)."""
    calculator = require("sevenn.calculator", "model sevennet-0")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No tensor product accelerator")
        return calculator.SevenNetCalculator(model=str(path), device=device)


def _xtb(cfg: MLModelConfig) -> Any:
    """GFN2-xTB (tblite) with the configured total charge and multiplicity, CPU only."""
    if cfg.device == "cuda":
        raise ConfigError("gfn2-xtb runs on the CPU only; use device: auto or cpu",
                          field="device")
    tb = require("tblite.ase", "model gfn2-xtb")
    return tb.TBLite(method="GFN2-xTB", charge=float(cfg.charge),
                     multiplicity=cfg.multiplicity, verbosity=0)
