"""AES-256-CBC as WeCom and Feishu use it, with strict padding checks.

WeCom: key = base64(EncodingAESKey + "="), IV = key[:16], PKCS#7 padded to 32-byte
blocks; plaintext = 16 random bytes + 4-byte big-endian length + message + receive id.
Feishu: key = SHA-256(encrypt key), IV = the first 16 bytes of the decoded data, PKCS#7
to 16-byte blocks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

WECOM_BLOCK = 32


class CryptoError(ValueError):
    pass


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("not base64") from exc


def _cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    if not data or len(data) % 16:
        raise CryptoError("ciphertext is not a whole number of AES blocks")
    d = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return d.update(data) + d.finalize()


def _cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    e = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return e.update(data) + e.finalize()


def pkcs7_unpad(data: bytes, block: int) -> bytes:
    pad = data[-1] if data else 0
    if not 1 <= pad <= block or data[-pad:] != bytes([pad]) * pad:
        raise CryptoError("bad padding")
    return data[:-pad]


def pkcs7_pad(data: bytes, block: int) -> bytes:
    pad = block - len(data) % block
    return data + bytes([pad]) * pad


def wecom_key(encoding_aes_key: str) -> bytes:
    key = _b64(encoding_aes_key + "=")
    if len(key) != 32:
        raise CryptoError("EncodingAESKey must be 43 characters (32 bytes)")
    return key


def wecom_decrypt(encoding_aes_key: str, ciphertext_b64: str, receive_id: str) -> str:
    key = wecom_key(encoding_aes_key)
    plain = pkcs7_unpad(_cbc_decrypt(key, key[:16], _b64(ciphertext_b64)), WECOM_BLOCK)
    if len(plain) < 20:
        raise CryptoError("plaintext too short")
    (length,) = struct.unpack(">I", plain[16:20])
    if 20 + length > len(plain):
        raise CryptoError("length field exceeds the plaintext")
    message, rid = plain[20 : 20 + length], plain[20 + length :]
    if rid.decode("utf-8", "replace") != receive_id:
        raise CryptoError("receive id does not match this app")
    try:
        return message.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CryptoError("message is not UTF-8") from exc


def wecom_encrypt(encoding_aes_key: str, message: str, receive_id: str) -> str:
    """For the passive replies and the dev sample script (tests use wechatpy instead)."""
    key = wecom_key(encoding_aes_key)
    raw = message.encode()
    plain = os.urandom(16) + struct.pack(">I", len(raw)) + raw + receive_id.encode()
    return base64.b64encode(_cbc_encrypt(key, key[:16], pkcs7_pad(plain, WECOM_BLOCK))).decode()


def feishu_decrypt(encrypt_key: str, ciphertext_b64: str) -> str:
    data = _b64(ciphertext_b64)
    if len(data) < 32:
        raise CryptoError("ciphertext too short")
    key = hashlib.sha256(encrypt_key.encode()).digest()
    plain = pkcs7_unpad(_cbc_decrypt(key, data[:16], data[16:]), 16)
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CryptoError("message is not UTF-8") from exc


def feishu_encrypt(encrypt_key: str, message: str) -> str:
    """Feishu's SDK only decrypts; the dev sample script encrypts with this."""
    key = hashlib.sha256(encrypt_key.encode()).digest()
    iv = os.urandom(16)
    return base64.b64encode(iv + _cbc_encrypt(key, iv, pkcs7_pad(message.encode(), 16))).decode()
