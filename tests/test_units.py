"""Quantity strings: parsing, dimensions, bounds, round trip."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from openmm import unit
from pydantic import BaseModel, ValidationError

from predesolv.config.units import QuantityField, format_quantity, parse_quantity


@pytest.mark.parametrize(
    "text, expected, value, in_unit",
    [
        ("300 K", "K", 300.0, unit.kelvin),
        ("2 fs", "ps", 0.002, unit.picosecond),
        ("0.8 nm", "nm", 0.8, unit.nanometer),
        ("8 A", "nm", 0.8, unit.nanometer),
        ("1.0 M", "mol/L", 1.0, unit.molar),
        ("-0.05 C/m**2", "C/m**2", -0.05, unit.coulomb / unit.meter**2),
        ("1 /ps", "/ps", 1.0, unit.picosecond**-1),
        ("10 kJ/mol/nm", "kJ/mol/nm", 10.0, unit.kilojoule_per_mole / unit.nanometer),
        ("2.39 kcal/mol", "kJ/mol", 10.0, unit.kilojoule_per_mole),
        ("1 bar", "atm", 1 / 1.01325, unit.atmosphere),
        ("1e-3 ns", "ps", 1.0, unit.picosecond),
    ],
)
def test_parse_values(text, expected, value, in_unit):
    q = parse_quantity(text, expected)
    assert q.value_in_unit(in_unit) == pytest.approx(value, rel=2e-3)


def test_ev_is_energy_per_particle():
    q = parse_quantity("1 eV") * unit.AVOGADRO_CONSTANT_NA
    assert q.value_in_unit(unit.kilojoule_per_mole) == pytest.approx(96.485, rel=1e-4)


@pytest.mark.parametrize(
    "text, msg",
    [
        ("300", "has no unit"),
        ("300 nm", "wrong dimension"),
        ("abc", "cannot parse"),
        ("3 parsec", "unknown unit"),
        ("3 nm**x", "exponent"),
        ("nan K", "cannot parse"),
        ("1e999 K", "not finite"),
        ("__import__('os') K", "cannot parse"),
    ],
)
def test_parse_errors(text, msg):
    with pytest.raises(ValueError, match=msg):
        parse_quantity(text, "K")


class _M(BaseModel):
    d: Annotated[Any, QuantityField("nm", gt=0, le=5)]


def test_field_bounds_and_round_trip():
    m = _M(d="8 A")
    assert m.d.value_in_unit(unit.nanometer) == pytest.approx(0.8)
    assert m.model_dump() == {"d": "0.8 nm"}
    assert _M(**m.model_dump()).d == m.d
    with pytest.raises(ValidationError, match="out of range"):
        _M(d="0 nm")
    with pytest.raises(ValidationError, match="out of range"):
        _M(d="6 nm")
    assert format_quantity(parse_quantity("2 fs"), "fs") == "2 fs"
