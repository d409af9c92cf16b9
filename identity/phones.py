"""Phone number normalisation and masking (policy: DESIGN.md, "Phone")."""

from dataclasses import dataclass

import phonenumbers

from identity import crypto
from identity.exceptions import InvalidInput

DEFAULT_REGION = "CN"


@dataclass(frozen=True)
class NormalizedPhone:
    e164: str

    @property
    def index(self) -> str:
        return phone_index(self.e164)


def normalize_phone(raw: object, *, field: str = "phone") -> NormalizedPhone:
    """Parse a phone number into E.164, assuming mainland China without a country code."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput({field: ["Enter a phone number."]})
    try:
        number = phonenumbers.parse(raw.strip(), DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput({field: ["Not a phone number."]}) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput({field: ["Not a valid phone number."]})
    return NormalizedPhone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def phone_index(e164: str) -> str:
    """Return the blind index of a normalised number."""
    return crypto.blind_index(e164, purpose="phone")


def mask_phone(e164: str) -> str:
    """Mask a number for callers without `phone:read`: `+86 138****5678`."""
    number = phonenumbers.parse(e164, None)
    national = phonenumbers.national_significant_number(number)
    if len(national) >= 8:
        masked = national[:3] + "*" * (len(national) - 7) + national[-4:]
    else:
        masked = "*" * max(len(national) - 2, 1) + national[-2:]
    return f"+{number.country_code} {masked}"
