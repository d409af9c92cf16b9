"""Service-account push security: signatures and the AES "safe mode" (PLATFORM.md).

signature     = sha1(sorted(token, timestamp, nonce))
msg_signature = sha1(sorted(token, timestamp, nonce, Encrypt))
AES key       = base64decode(EncodingAESKey + "="), AES-256-CBC, IV = key[:16], PKCS#7 to 32
plaintext     = 16 random bytes + 4-byte big-endian length + message XML + appid

Two kinds of failure: CallbackCryptoError (not authentic: 403) and MalformedCallback (not a
well-formed push: 400). Either way nothing is applied, and neither message carries request data.
"""

import base64
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree

BLOCK = 32


class CallbackCryptoError(Exception):
    """The push is not authentic: bad signature, stale, replayed or meant for another app."""


class MalformedCallback(Exception):
    """The request is not a well-formed push; the message names the bad part only."""

    def __init__(self, field: str):
        super().__init__(f"bad {field}")
        self.field = field


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - WeChat's scheme


def check_signature(expected: str, *parts: str) -> None:
    # Bytes, not str: compare_digest raises TypeError on non-ASCII text, which was a 500.
    given = expected.encode("utf-8", "replace")
    if not expected or not hmac.compare_digest(signature(*parts).encode(), given):
        raise CallbackCryptoError("bad signature")


def parse_xml(data: bytes | str):
    """Parse one WeChat XML document, refusing any DTD (so no entities, no external references).

    WeChat never sends a DTD; refusing it at the parser stops entity bombs before they expand,
    even in the safe-mode envelope, which has to be read before its signature can be checked.
    """
    try:
        return ElementTree.fromstring(data, forbid_dtd=True)
    except (ElementTree.ParseError, ValueError, LookupError) as exc:  # LookupError: encoding
        raise MalformedCallback("body") from exc


def extract_encrypt(body: bytes) -> str:
    """Return the Encrypt element of a safe-mode envelope, which msg_signature covers."""
    root = parse_xml(body)
    node = root.find("Encrypt")
    if root.tag != "xml" or node is None or len(node) or not (node.text or "").strip():
        raise MalformedCallback("body")
    return node.text.strip()


def _key(encoding_aes_key: str) -> bytes:
    try:
        key = base64.b64decode(encoding_aes_key + "=")
    except ValueError as exc:
        raise CallbackCryptoError("bad EncodingAESKey") from exc
    if len(key) != 32:
        raise CallbackCryptoError("bad EncodingAESKey")
    return key


def encrypt(xml: str, *, encoding_aes_key: str, appid: str) -> str:
    """Encrypt a message as WeChat does (used by the fake server and tests)."""
    key = _key(encoding_aes_key)
    body = xml.encode()
    plain = os.urandom(16) + struct.pack(">I", len(body)) + body + appid.encode()
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def decrypt(encrypted: str, *, encoding_aes_key: str, appid: str) -> str:
    """Decrypt a pushed message and check that it was meant for this app.

    Every structural check is explicit (base64 alphabet, whole blocks, PKCS#7 bytes, length
    field, UTF-8) so that garbage is a MalformedCallback, never an exception of the parser's.
    """
    key = _key(encoding_aes_key)
    try:
        data = base64.b64decode(encrypted, validate=True)
        decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
    except ValueError as exc:  # binascii.Error, non-ASCII text, not whole blocks
        raise MalformedCallback("Encrypt") from exc
    pad = plain[-1] if plain else 0
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad or len(plain) < 20 + pad:
        raise MalformedCallback("Encrypt")
    plain = plain[:-pad]
    (length,) = struct.unpack(">I", plain[16:20])
    if length > len(plain) - 20:
        raise MalformedCallback("Encrypt")
    xml, receiver = plain[20 : 20 + length], plain[20 + length :]
    if receiver != appid.encode():
        raise CallbackCryptoError("message for another app")
    try:
        return xml.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedCallback("Encrypt") from exc
