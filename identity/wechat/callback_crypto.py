"""Service-account push security: signatures and the AES "safe mode" (PLATFORM.md).

signature     = sha1(sorted(token, timestamp, nonce))
msg_signature = sha1(sorted(token, timestamp, nonce, Encrypt))
AES key       = base64decode(EncodingAESKey + "="), AES-256-CBC, IV = key[:16], PKCS#7 to 32
plaintext     = 16 random bytes + 4-byte big-endian length + message XML + appid
"""

import base64
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class CallbackCryptoError(Exception):
    """The push is not authentic or cannot be decrypted."""


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - WeChat's scheme


def check_signature(expected: str, *parts: str) -> None:
    if not expected or not hmac.compare_digest(signature(*parts), expected):
        raise CallbackCryptoError("bad signature")


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
    """Decrypt a pushed message and check that it was meant for this app."""
    key = _key(encoding_aes_key)
    try:
        data = base64.b64decode(encrypted)
        decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK:
            raise ValueError("bad padding")
        plain = plain[:-pad]
        (length,) = struct.unpack(">I", plain[16:20])
        xml, receiver = plain[20 : 20 + length], plain[20 + length :]
    except (ValueError, struct.error, IndexError) as exc:
        raise CallbackCryptoError("cannot decrypt") from exc
    if receiver.decode(errors="replace") != appid:
        raise CallbackCryptoError("message for another app")
    return xml.decode()
