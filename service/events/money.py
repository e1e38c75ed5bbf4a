"""Money: a non-negative decimal amount and the ISO 4217 code of a currency."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

import pycountry
from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema

# ISO 4217's X codes are mostly not currencies: precious metals (XAU, XAG, XPD, XPT), units of
# account (XDR, XAD, XUA, XSU, the bond-market units XBA-XBD), the testing code XTS and "no
# currency" XXX. No contract is signed in them. These five X codes are circulating currencies.
_CURRENCIES_IN_X = frozenset({"XAF", "XCD", "XCG", "XOF", "XPF"})
_CURRENCY_CODES = frozenset(
    code
    for code in (currency.alpha_3 for currency in pycountry.currencies)
    if not code.startswith("X") or code in _CURRENCIES_IN_X
)
# A decimal string as people and CRMs write money: ASCII digits, one optional fraction, no
# sign, exponent, grouping or surrounding space (Decimal itself would take " 10", "1_0", "1e3"
# and Arabic-Indic digits). The length bound keeps the conversion cheap.
_DECIMAL_TEXT = re.compile(r"[0-9]{1,40}(?:\.[0-9]{1,40})?")


def _check_currency(code: str) -> str:
    if code not in _CURRENCY_CODES:
        raise ValueError(f"{code!r} is not the ISO 4217 code of a currency")
    return code


def _plain_amount(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("an amount is a decimal string or a number")  # noqa: TRY004
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        raise ValueError(
            "an amount is written with ASCII digits and an optional fraction, such as "
            "'125000.00': no sign, exponent, grouping or spaces"
        )
    return value


def _check_finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("an amount must be a finite number")
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_plain_amount),
    Field(ge=0, max_digits=20, decimal_places=6),
    AfterValidator(_check_finite),
    PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json"),
    # What clients are told to send: a decimal string, never a binary float. The server also
    # takes a JSON number, and up to 20 digits however they are split.
    WithJsonSchema(
        {
            "type": "string",
            "format": "decimal",
            "pattern": r"^[0-9]{1,14}(\.[0-9]{1,6})?$",
            "examples": ["125000.00"],
        },
        mode="validation",
    ),
]
"""A non-negative decimal amount; serialised as a plain decimal string."""

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$"), AfterValidator(_check_currency)]
"""The ISO 4217 code of a currency, upper case (not a metal, a unit of account or XXX/XTS)."""
