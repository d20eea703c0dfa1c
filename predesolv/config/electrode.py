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

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from predesolv.config.base import Int, StrictModel
from predesolv.config.units import QuantityField, to_nm

Length = Annotated[Any, QuantityField("nm", gt=0, le=50)]
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


class ConstantChargeConfig(StrictModel):
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


class ConstantPotentialConfig(StrictModel):
    """OpenMM ConstantPotentialForce between working and counter electrode."""

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

    kind: Literal["slit", "stagewise_pore", "surface"]
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
    charge: ConstantChargeConfig | ConstantPotentialConfig | None = Field(
        default=None, discriminator="mode"
    )
    dopants: list[DopantConfig] = Field(default_factory=list)
    flexible: FlexibleConfig | None = Field(
        default=None,
        description="unset: rigid (frozen, mass 0) electrodes; set: restrained flexible atoms",
    )

    @model_validator(mode="after")
    def _kind_fields(self) -> ElectrodeConfig:
        if self.kind == "slit":
            if self.spacing is None or self.length is None:
                raise ValueError("kind 'slit' needs 'spacing' and 'length'")
            if self.stages is not None or self.layers is not None:
                raise ValueError("kind 'slit' takes no 'stages' or 'layers'")
        elif self.kind == "stagewise_pore":
            if not self.stages or len(self.stages) < 2:
                raise ValueError("kind 'stagewise_pore' needs 'stages' (at least 2)")
            if self.spacing is not None or self.length is not None or self.layers is not None:
                raise ValueError(
                    "kind 'stagewise_pore' takes 'stages' instead of 'spacing'/'length'/'layers'"
                )
        else:  # surface
            if self.length is None or self.layers is None:
                raise ValueError("kind 'surface' needs 'length' and 'layers'")
            if self.spacing is not None or self.stages is not None or self.fill_slit:
                raise ValueError("kind 'surface' has no slit: no 'spacing'/'stages'/'fill_slit'")
        return self

    @model_validator(mode="after")
    def _charge_fields(self) -> ElectrodeConfig:
        ch = self.charge
        if isinstance(ch, ConstantPotentialConfig) and self.counter_electrode is None:
            raise ValueError("charge.mode 'constant_potential' needs a 'counter_electrode'")
        if isinstance(ch, ConstantChargeConfig):
            if ch.neutralize == "counter_electrode" and self.counter_electrode is None:
                raise ValueError(
                    "charge.neutralize 'counter_electrode' needs a 'counter_electrode' block"
                )
            if ch.apply_to == "slit_walls" and self.kind == "surface":
                raise ValueError(
                    "charge.apply_to 'slit_walls' needs a slit (kind surface has none)")
        if self.kind == "surface" and any(d.sheets == "slit_walls" for d in self.dopants):
            raise ValueError("dopants.sheets 'slit_walls' needs a slit (kind surface has none)")
        if self.flexible is not None and isinstance(ch, ConstantPotentialConfig):
            raise ValueError(
                "flexible electrodes with constant_potential are not supported: the matrix "
                "solver needs fixed electrode atoms; use rigid electrodes (remove 'flexible') "
                "or constant_charge"
            )
        return self

    def slit_spacings_nm(self) -> list[float]:
        """Slit spacings (nm) from the mouth inwards; empty for a surface."""
        if self.kind == "slit":
            return [to_nm(self.spacing)]
        if self.kind == "stagewise_pore":
            return [to_nm(s.spacing) for s in self.stages or []]
        return []
