"""Safe parsing of quantity strings (``"300 K"``, ``"-0.05 C/m**2"``) into openmm Quantities.

No ``eval``: a small recursive-descent parser over a whitelist of unit symbols. Grammar::

    quantity := number [unit_expr]
    unit_expr := term (('*' | '/') term)*
    term      := atom ['**' signed_int] | '(' unit_expr ')' ['**' signed_int]
    atom      := unit symbol from ``UNIT_SYMBOLS``

A space between two unit atoms means multiplication (``"kJ mol**-1"``).

In pydantic models use the annotated types built by :func:`QuantityField`; they accept a
string (YAML) or an ``openmm.unit.Quantity`` (Python), check the dimension and an optional
bound, store an ``openmm.unit.Quantity`` and serialise back to a string.
"""

from __future__ import annotations

import math
import re
from typing import Any

from openmm import unit
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

_molar = unit.mole / unit.liter
# electron-volt per particle (multiply by N_A for kJ/mol)
_EV = unit.ScaledUnit(1.602176634e-19, unit.joule, "electronvolt", "eV")

UNIT_SYMBOLS: dict[str, unit.Unit] = {
    # length
    "nm": unit.nanometer, "nanometer": unit.nanometer, "nanometers": unit.nanometer,
    "A": unit.angstrom, "Å": unit.angstrom, "angstrom": unit.angstrom,
    "angstroms": unit.angstrom, "pm": unit.picometer, "m": unit.meter, "cm": unit.centimeter,
    "um": unit.micrometer,
    # time
    "fs": unit.femtosecond, "femtosecond": unit.femtosecond, "femtoseconds": unit.femtosecond,
    "ps": unit.picosecond, "picosecond": unit.picosecond, "picoseconds": unit.picosecond,
    "ns": unit.nanosecond, "nanosecond": unit.nanosecond, "nanoseconds": unit.nanosecond,
    "us": unit.microsecond, "s": unit.second,
    # temperature
    "K": unit.kelvin, "kelvin": unit.kelvin,
    # pressure
    "bar": unit.bar, "atm": unit.atmosphere, "Pa": unit.pascal, "kPa": unit.kilopascal,
    "MPa": unit.megapascal,
    # energy
    "kJ": unit.kilojoule, "kcal": unit.kilocalorie, "J": unit.joule,
    "eV": unit.Unit({_EV: 1.0}), "mol": unit.mole, "mmol": unit.milli * unit.mole,
    # mass / amount / concentration
    "amu": unit.dalton, "Da": unit.dalton, "dalton": unit.dalton, "g": unit.gram,
    "kg": unit.kilogram, "M": _molar, "mM": unit.milli * unit.mole / unit.liter, "L": unit.liter,
    "l": unit.liter, "mL": unit.milliliter,
    # electrostatics
    "e": unit.elementary_charge, "C": unit.coulomb, "uC": unit.micro * unit.coulomb,
    "V": unit.volt, "mV": unit.milli * unit.volt,
    # angle
    "rad": unit.radian, "deg": unit.degree, "degree": unit.degree, "degrees": unit.degree,
}

_NUMBER = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(.*?)\s*$")
_TOKEN = re.compile(r"\s*(\*\*|\*|/|\(|\)|[+-]?\d+|[A-Za-zÅµ]+)")


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens: list[str] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise ValueError(f"unexpected character {text[pos:].strip()[0]!r}")
            self.tokens.append(m.group(1))
            pos = m.end()
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise ValueError("unit expression ends too early")
        self.i += 1
        return tok

    def parse(self) -> unit.Unit:
        u = self.expr()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()!r}")
        return u

    def expr(self) -> Any:
        u = unit.dimensionless if self.peek() == "/" else self.term()  # "/ps" means 1/ps
        while True:
            tok = self.peek()
            if tok == "*":
                self.take()
                u = u * self.term()
            elif tok == "/":
                self.take()
                u = u / self.term()
            elif tok is not None and tok not in (")", "**"):
                u = u * self.term()  # juxtaposition = multiplication
            else:
                return u

    def term(self) -> Any:
        tok = self.take()
        if tok == "(":
            u = self.expr()
            if self.take() != ")":
                raise ValueError("missing ')'")
        elif tok in UNIT_SYMBOLS:
            u = UNIT_SYMBOLS[tok]
        elif tok == "1":
            u = unit.dimensionless
        else:
            raise ValueError(f"unknown unit {tok!r}")
        if self.peek() == "**":
            self.take()
            exp = self.take()
            if not re.fullmatch(r"[+-]?\d+", exp):
                raise ValueError(f"exponent must be an integer, got {exp!r}")
            u = u ** int(exp)
        return u


def parse_unit(text: str) -> Any:
    """Parse a unit expression (``"kJ/mol/nm**2"``) into an ``openmm.unit`` unit."""
    return _Parser(text).parse()


def parse_quantity(text: str | float | int | unit.Quantity, expected: str | None = None) -> Any:
    """Parse ``text`` into an ``openmm.unit.Quantity`` and check its dimension.

    Parameters
    ----------
    text : str or Quantity
        ``"300 K"``, ``"2 fs"``, ``"-0.05 C/m**2"``. A bare number is accepted only when
        ``expected`` is dimensionless (``""``).
    expected : str, optional
        A unit expression of the required dimension (``"nm"``); ``None`` skips the check.

    Returns
    -------
    openmm.unit.Quantity

    Raises
    ------
    ValueError
        Unparseable text, unknown unit, non-finite number or wrong dimension.
    """
    if isinstance(text, unit.Quantity):
        q = text
    elif isinstance(text, bool):
        raise ValueError(f"expected a quantity string like '1.0 {expected or 'nm'}', got {text!r}")
    elif isinstance(text, (int, float)):
        if expected:
            raise ValueError(
                f"a bare number {text!r} has no unit; write it with units, e.g. "
                f"'{text} {expected}'"
            )
        return float(text)
    elif isinstance(text, str):
        q = _from_string(text, expected)
        if not isinstance(q, unit.Quantity):
            return q
    else:
        raise ValueError(f"expected a quantity string, got {type(text).__name__} {text!r}")
    if not math.isfinite(float(q.value_in_unit(q.unit))):
        raise ValueError(f"{text!r} is not finite")
    if expected:
        exp_unit = parse_unit(expected)
        if not q.unit.is_compatible(exp_unit):
            raise ValueError(
                f"{text!r} has the wrong dimension: expected units compatible with {expected}"
            )
    return q


def _from_string(text: str, expected: str | None) -> Any:
    """``'<number> <unit>'`` as a Quantity (a plain float when unitless and allowed)."""
    m = _NUMBER.match(text)
    if not m:
        raise ValueError(
            f"cannot parse {text!r}: expected '<number> <unit>', e.g. '1.0 {expected or 'nm'}'"
        )
    value = float(m.group(1))
    rest = m.group(2)
    if not rest:
        if expected:
            raise ValueError(f"{text!r} has no unit; write e.g. '{value} {expected}'")
        return value
    try:
        return value * parse_unit(rest)
    except ValueError as exc:
        raise ValueError(f"cannot parse unit in {text!r}: {exc}") from None


def format_quantity(q: Any, unit_str: str | None = None) -> str:
    """Format a Quantity as a string that :func:`parse_quantity` reads back."""
    if not isinstance(q, unit.Quantity):
        return repr(q)
    if unit_str:
        return f"{q.value_in_unit(parse_unit(unit_str)):.10g} {unit_str}"
    return f"{q.value_in_unit(q.unit):.10g} {q.unit.get_symbol()}"


class QuantityField:
    """Pydantic annotation for an ``openmm.unit.Quantity`` parsed from a string.

    Use as ``Annotated[Any, QuantityField("nm", gt=0)]``. Bounds are compared in the unit
    given (``gt=0`` with ``"nm"`` means strictly positive length).

    Parameters
    ----------
    unit_str : str
        Unit expression fixing the dimension, also used to serialise.
    gt, ge, lt, le : float, optional
        Bounds in ``unit_str``.
    """

    def __init__(
        self,
        unit_str: str,
        *,
        gt: float | None = None,
        ge: float | None = None,
        lt: float | None = None,
        le: float | None = None,
    ):
        self.unit_str = unit_str
        self.unit = parse_unit(unit_str)
        self.gt, self.ge, self.lt, self.le = gt, ge, lt, le

    def _bounds_text(self) -> str:
        parts = []
        for sym, val in (("> ", self.gt), (">= ", self.ge), ("< ", self.lt), ("<= ", self.le)):
            if val is not None:
                parts.append(f"{sym}{val:g} {self.unit_str}")
        return " and ".join(parts)

    def validate(self, value: Any) -> Any:
        try:
            q = parse_quantity(value, self.unit_str)
        except ValueError as exc:
            raise PydanticCustomError("quantity", "{msg}", {"msg": str(exc)}) from None
        v = q.value_in_unit(self.unit)
        ok = (
            (self.gt is None or v > self.gt)
            and (self.ge is None or v >= self.ge)
            and (self.lt is None or v < self.lt)
            and (self.le is None or v <= self.le)
        )
        if not ok:
            raise PydanticCustomError(
                "quantity_bound",
                "'{value}' is out of range: must be {bounds}",
                {"value": value if isinstance(value, str) else format_quantity(q),
                 "bounds": self._bounds_text()},
            )
        return q

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda q: format_quantity(q, self.unit_str) if isinstance(q, unit.Quantity) else q
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        desc = f"Quantity with units compatible with '{self.unit_str}', e.g. '1.0 {self.unit_str}'"
        bounds = self._bounds_text()
        if bounds:
            desc += f"; must be {bounds}"
        return {"type": "string", "description": desc, "examples": [f"1.0 {self.unit_str}"]}


def to_nm(q: Any) -> float:
    """A length Quantity as a plain number of nm (the one nm helper of the package)."""
    return float(q.value_in_unit(unit.nanometer))
