"""Force-field options of the ``system.forcefield`` YAML block.

Example::

    forcefield:
      files: []                      # extra OpenMM XML files (electrode types, ...)
      combining_rule: geometric      # OPLS-AA / CL&P; "lorentz-berthelot" for testing only
      charge_scaling: 0.8            # ionic charges x 0.8 (CL&P il-0.8.ff convention)
      nonbonded_cutoff: "1.0 nm"
      switch_distance: null          # e.g. "0.9 nm"; null = plain cutoff (OPLS practice)
      dispersion_correction: true
      constraints: hbonds            # none | hbonds
      ewald_error_tolerance: 0.0005
      pair_overrides:                # explicit LJ for a pair of atom types
        - {type1: NA_Na, type2: DME_O, sigma: "0.31 nm", epsilon: "0.08 kJ/mol"}
      pair_potentials:               # a Born-Mayer pair in place of LJ for a pair of types
        - {type1: NA_Na, type2: CAR_C, A: "6.5e5 kJ/mol", rho: "0.0225 nm",
           C4: "0.035 kJ/mol*nm**4"}
      parameter_sets: [na-c-ren2026] # named sets of pair terms (forcefields/sets/*.yaml)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from openmm import unit
from pydantic import Field, model_validator

from predesolv.config.base import StrictModel
from predesolv.config.units import QuantityField
from predesolv.forcefields.parameter_sets import load_set

DEFAULT_CHARGE_SCALING = 0.8
"""Default factor on ionic charges; see :class:`ForceFieldConfig`."""


class PairOverride(StrictModel):
    """Explicit LJ parameters for one pair of atom types (both orders).

    Attributes
    ----------
    type1, type2 : str
        Atom type names as in the ForceField XML (``NA_Na``, ``DME_O``, ...).
    sigma : Quantity
        Length, > 0.
    epsilon : Quantity
        Molar energy, >= 0.
    """

    type1: str
    type2: str
    sigma: Annotated[Any, QuantityField("nm", gt=0)]
    epsilon: Annotated[Any, QuantityField("kJ/mol", ge=0)]


class PairPotential(StrictModel):
    """A Born–Mayer pair term that replaces the LJ of one pair of atom types (both orders):

        E(r) = A exp(-r / rho) - C4 / r^4 - C6 / r^6

    Born–Mayer repulsion (Born & Mayer, *Z. Phys.* 75, 1 (1932)); ``C4`` an ion–induced-dipole
    attraction, ``C6`` dispersion (``C4 = 0``: Buckingham). Applied with the System's cutoff
    (no long-range correction); not allowed for pairs that have 1-4 exceptions.

    Attributes
    ----------
    type1, type2 : str
        Atom type names as in the ForceField XML.
    form : {"born-mayer"}
        The functional form (the only one so far).
    A : Quantity
        Molar energy, >= 0.
    rho : Quantity
        Length, > 0.
    C4 : Quantity
        Molar energy × length⁴, >= 0.
    C6 : Quantity
        Molar energy × length⁶, >= 0.
    """

    type1: str
    type2: str
    form: Literal["born-mayer"] = "born-mayer"
    A: Annotated[Any, QuantityField("kJ/mol", ge=0)]
    rho: Annotated[Any, QuantityField("nm", gt=0)]
    C4: Annotated[Any, QuantityField("kJ/mol*nm**4", ge=0)] = "0 kJ/mol*nm**4"
    C6: Annotated[Any, QuantityField("kJ/mol*nm**6", ge=0)] = "0 kJ/mol*nm**6"

    def parameters(self) -> tuple[float, float, float, float]:
        """``(A kJ/mol, rho nm, C4 kJ/mol nm^4, C6 kJ/mol nm^6)`` as plain numbers."""
        kj, nm = unit.kilojoule_per_mole, unit.nanometer
        return (self.A.value_in_unit(kj), self.rho.value_in_unit(nm),
                self.C4.value_in_unit(kj * nm**4), self.C6.value_in_unit(kj * nm**6))


class ForceFieldConfig(StrictModel):
    """How the System is parameterised.

    Attributes
    ----------
    files : list of str
        Extra OpenMM ForceField XML files loaded after ``predesolv-electrolytes.xml``.
    combining_rule : {"geometric", "lorentz-berthelot"}
        LJ mixing rule; OPLS-AA and CL&P are parameterised with ``geometric``.
    charge_scaling : float
        Factor applied to the charges of the ions only (residues NA, PF6, CLO), 0 < s <= 1;
        solvent charges are never scaled. Default 0.8, the factor of CL&P's scaled ionic set
        (``il-0.8.ff`` beside the full-charge ``il.ff``): non-polarisable full-charge ions
        over-bind ion pairs and slow transport, and scaling the ionic charges is a mean-field
        account of electronic polarisation. Use 1.0 for the unscaled OPLS/CL&P model.
    nonbonded_cutoff : Quantity
        Real-space cutoff (length); the box must be at least twice as long.
    switch_distance : Quantity or None
        Start of the LJ switching function; ``None`` = plain cutoff.
    dispersion_correction : bool
        Long-range LJ tail correction (needed for NPT densities).
    constraints : {"none", "hbonds"}
        Bond constraints.
    ewald_error_tolerance : float
        PME accuracy.
    pair_overrides : list of PairOverride
        Explicit LJ per pair of atom types.
    pair_potentials : list of PairPotential
        Born–Mayer pair terms replacing the LJ of a pair of atom types (a pair may not also
        have an override).
    parameter_sets : list of str
        Named parameter sets (shipped in ``forcefields/sets/``, e.g. ``na-c-ren2026``, or a
        path to a set file): their pair terms are copied into ``pair_overrides`` /
        ``pair_potentials`` at load time; an explicit term for the same pair takes
        precedence.
    """

    files: list[str] = Field(default_factory=list)
    combining_rule: Literal["geometric", "lorentz-berthelot"] = "geometric"
    charge_scaling: float = Field(DEFAULT_CHARGE_SCALING, gt=0.0, le=1.0)
    nonbonded_cutoff: Annotated[Any, QuantityField("nm", gt=0)] = "1.0 nm"
    switch_distance: Annotated[Any, QuantityField("nm", gt=0)] | None = None
    dispersion_correction: bool = True
    constraints: Literal["none", "hbonds"] = "hbonds"
    ewald_error_tolerance: float = Field(5e-4, gt=0.0, lt=0.1)
    pair_overrides: list[PairOverride] = Field(default_factory=list)
    pair_potentials: list[PairPotential] = Field(default_factory=list)
    parameter_sets: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _expand_parameter_sets(cls, data: Any) -> Any:
        """Copy the pair terms of every named set into ``pair_overrides`` and
        ``pair_potentials`` (an explicit term for the same pair wins), so the resolved config
        records the numbers."""
        if not isinstance(data, dict) or not data.get("parameter_sets"):
            return data

        names = data["parameter_sets"]
        if not isinstance(names, list):
            raise ValueError(f"parameter_sets: {names!r} must be a list of set names or paths")
        terms = {k: list(data.get(k) or []) for k in ("pair_overrides", "pair_potentials")}
        present = {_pair_key(o) for k in terms for o in terms[k]}
        for name in names:
            loaded = load_set(str(name))
            for k, have in terms.items():
                for o in loaded.get(k) or []:
                    if _pair_key(o) not in present:
                        have.append(dict(o))
                        present.add(_pair_key(o))
        return {**data, **terms}

    @model_validator(mode="after")
    def _one_term_per_pair(self) -> ForceFieldConfig:
        """A pair of types has either an LJ override or a pair potential, not both."""
        both = ({_pair_key(o) for o in self.pair_overrides}
                & {_pair_key(o) for o in self.pair_potentials})
        if both:
            raise ValueError("pair_overrides and pair_potentials both name the pair(s) "
                             f"{sorted(sorted(p) for p in both)}; keep one term per pair")
        return self


def _pair_key(o: Any) -> frozenset[str]:
    """The unordered pair of type names of a pair term (dict or model)."""
    d = o if isinstance(o, dict) else o.model_dump()
    return frozenset((str(d.get("type1")), str(d.get("type2"))))
