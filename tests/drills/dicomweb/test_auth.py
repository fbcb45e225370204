"""Bearer tokens (drills.dicomweb.auth): RFC 6750 header, PyJWT verification."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from drills.contracts import opaque_label
from drills.dicomweb.auth import AUDIENCE, GatewayAuth, TokenAuth, Unauthorized
from drills.errors import UsageError


def test_issued_tokens_verify_and_the_subject_is_hashed():
    auth = TokenAuth.generate()
    principal = auth.verify(f"Bearer {auth.issue('dr.jane.doe')}")
    assert principal == opaque_label("sub", "dr.jane.doe") and "jane" not in principal


def test_gateway_principal_is_an_opaque_label_of_the_credential():
    assert GatewayAuth().verify("Bearer abc") == opaque_label("gw", "Bearer abc")
    with pytest.raises(Unauthorized):
        GatewayAuth().verify("  ")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic abc", "Bearer not.a.jwt"])
def test_missing_or_malformed_headers(header):
    with pytest.raises(Unauthorized):
        TokenAuth.generate().verify(header)


def test_wrong_key_expired_wrong_audience_and_no_exp_are_refused():
    auth, other = TokenAuth.generate(), TokenAuth.generate()
    with pytest.raises(Unauthorized):
        auth.verify(f"Bearer {other.issue('x')}")
    now = int(time.time())
    for claims in ({"sub": "x", "aud": AUDIENCE, "exp": now - 10},
                   {"sub": "x", "aud": "someone-else", "exp": now + 60},
                   {"sub": "x", "aud": AUDIENCE}):
        token = jwt.encode(claims, auth.key, algorithm="HS256")
        with pytest.raises(Unauthorized):
            auth.verify(f"Bearer {token}")
    none_alg = jwt.encode({"sub": "x", "aud": AUDIENCE, "exp": now + 60}, None, algorithm="none")
    with pytest.raises(Unauthorized):
        auth.verify(f"Bearer {none_alg}")


def test_public_keys_verify_identity_provider_tokens():
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    auth = TokenAuth.from_key_text(pem)
    token = jwt.encode({"sub": "svc", "aud": AUDIENCE, "exp": int(time.time()) + 60}, private, algorithm="ES256")
    assert auth.verify(f"Bearer {token}").startswith("sub-")
    with pytest.raises(UsageError):
        auth.issue("svc")


def test_a_pem_block_that_is_no_usable_public_key_is_refused_when_loaded():
    """Before: accepted, then every request failed with cryptography's ValueError (HTTP 500)."""
    with pytest.raises(UsageError, match="no RSA or EC public key"):
        TokenAuth.from_key_text(b"-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n")
    ed = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(UsageError, match="no RSA or EC public key"):
        TokenAuth.from_key_text(ed)


def test_a_public_key_verifies_with_its_own_algorithm_only():
    rsa_pem = rsa.generate_private_key(65537, 2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert TokenAuth.from_key_text(rsa_pem).algorithms == ("RS256",)


def test_short_secrets_are_refused():
    with pytest.raises(UsageError):
        TokenAuth.from_key_text(b"short")
