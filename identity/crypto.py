"""Encryption at rest and the blind index for personal data.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under `PERSONAL_DATA_KEYS`: the
first key encrypts, every listed key decrypts, which is what key rotation needs. Equality lookups
(is this phone number known?) go through an HMAC-SHA256 "blind index" under a separate key, so the
database can enforce uniqueness without ever holding the plaintext.
"""

import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.PERSONAL_DATA_KEYS))


def encrypt(plaintext: str) -> str:
    """Encrypt text under the current personal-data key."""
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt text encrypted under any configured personal-data key."""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("stored value does not decrypt with the configured keys") from exc


def reencrypt(token: str) -> str:
    """Re-encrypt a stored value under the current key (key rotation)."""
    return _current().rotate(token.encode()).decode()


def encrypted_with_current_key(token: str) -> bool:
    """Tell whether a stored value already uses the current key."""
    try:
        Fernet(settings.PERSONAL_DATA_KEYS[0]).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def blind_index(value: str, *, purpose: str) -> str:
    """Return the keyed hash used for equality lookups of a personal value.

    `purpose` separates domains (a phone hash never equals an email hash of the same text).
    """
    key = settings.BLIND_INDEX_KEY.encode()
    message = f"{purpose}:{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
