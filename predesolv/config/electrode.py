"""``system.electrode`` YAML block: carbon electrode geometry, charge and dopants.

Example (a negatively charged 0.8 nm slit in NaPF6/DME)::

    electrode:
      kind: slit                 # slit | stagewise_pore | surface
      edge: zigzag               # edge shape facing the electrolyte (zigzag | armchair)
      width: "2.5 nm"            # box length along y (snapped to whole unit cells)
      length: "3.0 nm"           # electrode length along x (into the slit)
      spacing: "0.8 nm"          # slit d, carbon plane to carbon plane
      layers_per_wall: 2         # sheets on each side of the slit
      charge:
        mode: constant_charge
        sigma: "-0.05 C/m**2"
        apply_to: slit_walls
        neutralize: counter_electrode
      counter_electrode: {length: "1.0 nm"}

Geometry convention: sheets lie in xy planes stacked along z, finite along x and periodic
along y; the electrolyte reservoir lies at lower x than the electrode mouth; insertion is
along +x. The box is given by the electrode: y from ``width`` (snapped to the lattice), z
from the stack (slit spacing plus graphite-spaced wall sheets), x from electrode length plus
a reservoir whose length is set by the electrolyte volume the electrolyte block asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from predesolv.config.base import Int, StrictModel
from predesolv.config.electrode_kinds import electrode_kind, electrode_kind_names
from predesolv.config.registry import TaggedModels, check_tag_field
from predesolv.config.units import QuantityField

Length = Annotated[Any, QuantityField("nm", gt=0, le=50)]


def _kind_enum(schema: dict[str, Any]) -> None:
    """JSON schema of ``kind``: the kinds registered when the schema is written."""
    schema["enum"] = electrode_kind_names()

#: Carbon-plane to carbon-plane spacing: graphite (0.335 nm) is the physical lower bound.
Spacing = Annotated[Any, QuantityField("nm", ge=0.335, le=5.0)]



class PoreStageConfig(StrictModel):
    """One stage of a stage-wise closed pore (orifice or cavity)."""

    spacing: Spacing = Field(description="interlayer spacing d of this stage (plane to plane)")
    length: Length = Field(description="extent of this stage along x")


class CounterElectrodeConfig(StrictModel):
    """Plain edge-on graphite slab across the reservoir from the working electrode.

    With a counter electrode the electrolyte is split into two equal reservoirs, one in
    front of the working electrode's mouth and one behind it, so that both electrodes are
    immersed on both faces (no vacuum capacitor across the periodic boundary).
    """

    length: Length = Field(description="slab extent along x")


class ChargeModeConfig(StrictModel):
    """Base of the ``electrode.charge`` models, one per charge mode (see
    :func:`register_charge_mode`); a subclass declares ``mode: Literal["<name>"]``."""

    if TYPE_CHECKING:  # each subclass declares it as a Literal field
        mode: str

    #: Its charges live in an OpenMM ``ConstantPotentialForce`` (no exception may touch an
    #: electrode particle, so electrode-electrode LJ is switched off instead of excluded).
    constant_potential: ClassVar[bool] = False

    def check_electrode(self, electrode: ElectrodeConfig) -> None:
        """Cross-field checks against the whole ``electrode`` block (raise ValueError)."""


class ConstantChargeConfig(ChargeModeConfig):
    """Fixed, uniform charges on chosen electrode carbons."""

    mode: Literal["constant_charge"]
    sigma: Annotated[Any, QuantityField("C/m**2", ge=-0.5, le=0.5)] | None = Field(
        default=None, description="surface charge density of the working electrode"
    )
    total: Annotated[Any, QuantityField("e")] | None = Field(
        default=None, description="total charge of the working electrode (instead of sigma)"
    )
    apply_to: Literal["all", "slit_walls"] = Field(
        description="carbons that carry the charge: all working-electrode carbons, or only "
        "the two sheets facing the slit"
    )
    neutralize: Literal["counter_electrode", "electrolyte"] = Field(
        description="counter_electrode: the counter electrode carries the opposite charge; "
        "electrolyte: the electrolyte's ion counts must make the cell neutral"
    )

    @model_validator(mode="after")
    def _one_of(self) -> ConstantChargeConfig:
        if (self.sigma is None) == (self.total is None):
            raise ValueError("give exactly one of 'sigma' (C/m**2) or 'total' (e)")
        return self

    def check_electrode(self, electrode: ElectrodeConfig) -> None:
        """A counter electrode to neutralise with; slit walls to charge."""
        if self.neutralize == "counter_electrode" and electrode.counter_electrode is None:
            raise ValueError(
                "charge.neutralize 'counter_electrode' needs a 'counter_electrode' block")
        if self.apply_to == "slit_walls" and not electrode_kind(electrode.kind).has_slit:
            raise ValueError(f"charge.apply_to 'slit_walls' needs a slit (kind "
                             f"{electrode.kind} has none)")


class ConstantPotentialConfig(ChargeModeConfig):
    """OpenMM ConstantPotentialForce between working and counter electrode."""

    constant_potential: ClassVar[bool] = True
    mode: Literal["constant_potential"]
    delta_v: Annotated[Any, QuantityField("V", ge=-10.0, le=10.0)] = Field(
        description="potential of the working electrode minus the counter electrode"
    )
    method: Literal["cg", "matrix"] = Field(
        default="matrix",
        description="charge solver: precomputed matrix (frozen electrodes, fixed box; "
        "measured 9x faster here) or conjugate gradient",
    )
    gaussian_width: Annotated[Any, QuantityField("nm", gt=0, le=0.2)] = Field(
        default="0.0505 nm",
        description="Gaussian width of electrode charges; 1/eta with eta = 1.979 1/A "
        "(Reed et al., J. Chem. Phys. 126, 084704 (2007), graphite)",
    )
    thomas_fermi_scale: Annotated[Any, QuantityField("1/nm", ge=0)] = Field(
        default="0 1/nm", description="Thomas-Fermi l_TF^2 / V; 0 is a perfect metal"
    )
    cg_tolerance: Annotated[Any, QuantityField("kJ/mol/e", gt=0)] = Field(
        default="1e-4 kJ/mol/e", description="CG convergence tolerance"
    )
    finite_field: bool = Field(
        default=False,
        description="impose delta_v with a uniform field delta_v / L_x (both electrodes at "
        "0 V, Dufils et al. 2019) instead of electrode potentials +/- delta_v / 2",
    )

    def check_electrode(self, electrode: ElectrodeConfig) -> None:
        """A counter electrode; rigid electrodes (the matrix solver needs fixed atoms)."""
        if electrode.counter_electrode is None:
            raise ValueError("charge.mode 'constant_potential' needs a 'counter_electrode'")
        if electrode.flexible is not None:
            raise ValueError(
                "flexible electrodes with constant_potential are not supported: the matrix "
                "solver needs fixed electrode atoms; use rigid electrodes (remove 'flexible') "
                "or constant_charge"
            )


#: ``apply(cfg, electrode, layout, assembly, q_requested, q_working) -> charge result``:
#: charges the electrodes of a cell being built (:func:`predesolv.systems.cell.build_cell`).
ChargeApplier = Callable[..., Any]


@dataclass(frozen=True)
class ChargeMode:
    """One registered electrode charge mode (see :func:`register_charge_mode`)."""

    name: str
    model: type[ChargeModeConfig]
    apply: ChargeApplier | None = None


_CHARGE_MODES: dict[str, ChargeMode] = {}
_CHARGE_MODELS: dict[str, type[ChargeModeConfig]] = {}

#: The ``electrode.charge`` field type: any registered charge mode, chosen by ``mode``.
ChargeSpec = Annotated[ChargeModeConfig,
                       TaggedModels("mode", "electrode charge mode", _CHARGE_MODELS)]


def register_charge_mode(name: str, model: type[ChargeModeConfig],
                         apply: ChargeApplier | None = None) -> ChargeMode:
    """Make ``electrode.charge.mode: <name>`` a charge mode.

    Parameters
    ----------
    name : str
        The YAML tag.
    model : type
        A :class:`ChargeModeConfig` subclass with ``mode: Literal[name]``.
    apply : callable, optional
        What charges the cell's electrodes (see :data:`ChargeApplier`); the built-in modes
        register theirs from :mod:`predesolv.systems.cell`. Registering the same model again
        with an ``apply`` completes the entry.

    Returns
    -------
    ChargeMode

    Raises
    ------
    ValueError
        ``name`` is registered already with another model, or the model is unfit.
    """
    check_tag_field(model, "mode", name)
    if not issubclass(model, ChargeModeConfig):
        raise ValueError(f"{name!r}: {model.__name__} must derive from ChargeModeConfig")
    old = _CHARGE_MODES.get(name)
    if old is not None and old.model is not model:
        raise ValueError(f"charge mode {name!r} is registered already ({old.model.__name__})")
    entry = ChargeMode(name, model, apply or (old.apply if old is not None else None))
    _CHARGE_MODES[name] = entry
    _CHARGE_MODELS[name] = model
    return entry


def unregister_charge_mode(name: str) -> None:
    """Remove a charge mode (tests, plugins); unknown names are ignored."""
    _CHARGE_MODES.pop(name, None)
    _CHARGE_MODELS.pop(name, None)


def charge_mode_names() -> list[str]:
    """The registered charge modes, in registration order."""
    return list(_CHARGE_MODES)


def charge_mode(name: str) -> ChargeMode:
    """The registered charge mode ``name`` (KeyError naming the registered ones)."""
    try:
        return _CHARGE_MODES[name]
    except KeyError:
        raise KeyError(f"unknown electrode charge mode {name!r}; allowed: "
                       f"{', '.join(sorted(_CHARGE_MODES))}") from None


register_charge_mode("constant_charge", ConstantChargeConfig)
register_charge_mode("constant_potential", ConstantPotentialConfig)


class DopantConfig(StrictModel):
    """A dopant species placed on the working electrode's mouth-facing edge (or basal plane).

    ``graphitic`` substitutes a basal carbon near the mouth; ``pyridinic``, ``pyrrolic`` and
    ``n_oxide`` replace edge carbons (``pyrrolic`` uses an NH on a zigzag/armchair edge
    site, see docs/electrodes.md for the simplification).
    """

    type: Literal["graphitic", "pyridinic", "pyrrolic", "n_oxide"]
    count: Annotated[Int, Field(ge=1, le=10_000)] | None = Field(
        default=None, description="number of sites")
    fraction: float | None = Field(
        default=None, gt=0, le=1, description="fraction of the eligible sites"
    )
    sheets: Literal["slit_walls", "all"] = Field(
        default="all", description="which sheets' mouth edges are eligible"
    )

    @model_validator(mode="after")
    def _one_of(self) -> DopantConfig:
        if (self.count is None) == (self.fraction is None):
            raise ValueError("give exactly one of 'count' or 'fraction'")
        return self


class FlexibleConfig(StrictModel):
    """Restrained flexible electrode: atoms keep their masses and move, each tethered to its
    built lattice site by a harmonic restraint ``0.5 k |r - r0|^2`` (periodic distance).
    Close C-C pairs stay excluded, so the sheet has no bonded terms of its own: the
    restraint alone sets its stiffness."""

    restraint_k: Annotated[Any, QuantityField("kJ/mol/nm**2", gt=0)] = Field(
        description="force constant of the per-atom tether, e.g. '5000 kJ/mol/nm**2'"
    )


class ElectrodeConfig(StrictModel):
    """Carbon electrode description (see the module docstring for an example)."""

    kind: str = Field(description="electrode geometry kind: slit, stagewise_pore, surface or "
                      "any kind registered with register_electrode_kind",
                      json_schema_extra=_kind_enum)
    edge: Literal["zigzag", "armchair"] = Field(
        description="edge shape facing the electrolyte (the mouth)"
    )
    width: Length = Field(description="box length along y; snapped to whole unit cells")
    length: Length | None = Field(
        default=None, description="electrode extent along x (slit, surface)"
    )
    spacing: Spacing | None = Field(default=None, description="slit spacing d (kind: slit)")
    stages: list[PoreStageConfig] | None = Field(
        default=None, description="orifice then cavities, mouth first (kind: stagewise_pore)"
    )
    cap_length: Length = Field(
        default="1.0 nm", description="graphite cap closing a stage-wise pore at its back"
    )
    layers_per_wall: Int = Field(
        default=2, ge=1, le=10, description="graphene sheets on each side of the slit"
    )
    layers: Int | None = Field(
        default=None, ge=1, le=20, description="number of sheets (kind: surface)"
    )
    layer_spacing: Annotated[Any, QuantityField("nm", ge=0.3, le=0.5)] = Field(
        default="0.335 nm", description="spacing of all non-slit sheets (graphite 0.335 nm)"
    )
    stacking: Literal["AB", "AA"] = "AB"
    hydrogenate_edges: bool = Field(
        default=False, description="terminate dangling edge bonds with H (OPLS CA/HA)"
    )
    clearance: Annotated[Any, QuantityField("nm", ge=0.15, le=1.0)] = Field(
        default="0.3 nm", description="closest electrolyte-atom to electrode-atom packing"
    )
    fill_slit: bool = Field(
        default=False, description="pre-load the slit with electrolyte at bulk density"
    )
    counter_electrode: CounterElectrodeConfig | None = None
    charge: ChargeSpec | None = Field(
        default=None, description="charge mode (key 'mode'): constant_charge, "
        "constant_potential or any mode registered with register_charge_mode"
    )
    dopants: list[DopantConfig] = Field(default_factory=list)
    flexible: FlexibleConfig | None = Field(
        default=None,
        description="unset: rigid (frozen, mass 0) electrodes; set: restrained flexible atoms",
    )
    frozen_pairs: Literal["near", "all"] = Field(
        default="near", description="frozen electrode pairs taken out of every nonbonded "
        "force: 'near' (closer than 0.3 nm; fastest on the CPU platform, measured) or 'all' "
        "(every pair within the nonbonded cutoff, whose energy is a constant; 3x slower per "
        "step on the CPU platform, measured; for GPUs, measure first: docs/benchmarks.md)")

    @field_validator("kind")
    @classmethod
    def _registered_kind(cls, kind: str) -> str:
        electrode_kind(kind)  # ValueError listing the registered kinds
        return kind

    @model_validator(mode="after")
    def _kind_fields(self) -> ElectrodeConfig:
        electrode_kind(self.kind).check(self)
        return self

    @model_validator(mode="after")
    def _charge_fields(self) -> ElectrodeConfig:
        if self.charge is not None:
            self.charge.check_electrode(self)
        if self.frozen_pairs == "all" and (self.flexible is not None or (
                self.charge is not None and self.charge.constant_potential)):
            raise ValueError("frozen_pairs 'all' needs rigid electrodes at constant charge "
                             "(a flexible electrode's pairs are not constant; constant "
                             "potential allows no exclusion on electrode atoms); use 'near'")
        if not electrode_kind(self.kind).has_slit and any(
                d.sheets == "slit_walls" for d in self.dopants):
            raise ValueError(f"dopants.sheets 'slit_walls' needs a slit (kind {self.kind} "
                             f"has none)")
        return self

    def slit_spacings_nm(self) -> list[float]:
        """Slit spacings (nm) from the mouth inwards; empty for a kind without a slit."""
        return electrode_kind(self.kind).spacings_nm(self)
