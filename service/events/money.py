"""Money: a non-negative decimal amount and an ISO 4217 currency code."""

from decimal import Decimal
from typing import Annotated

import pycountry
from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer

_CURRENCY_CODES = frozenset(currency.alpha_3 for currency in pycountry.currencies)


def _check_currency(code: str) -> str:
    if code not in _CURRENCY_CODES:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


def _reject_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("an amount is a decimal string or a number")  # noqa: TRY004
    return value


def _check_finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("an amount must be a finite number")
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_reject_bool),
    Field(ge=0, max_digits=20, decimal_places=6),
    AfterValidator(_check_finite),
    PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json"),
]
"""A non-negative decimal amount; serialised as a plain decimal string."""

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$"), AfterValidator(_check_currency)]
"""An active ISO 4217 currency code, upper case."""
