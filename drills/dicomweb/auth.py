"""Bearer-token authentication (RFC 6750) with JWTs (PyJWT): nothing is served anonymously.

Tokens are checked against a shared secret (HS256) or a PEM public key (RS256/ES256), must
carry ``exp`` and, when configured, the audience. On AWS the API Gateway HTTP API in front of
the Lambda does this with its JWT (or IAM/SigV4) authorizer; locally this middleware does.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import jwt

from drills.contracts import opaque_label
from drills.errors import UsageError

AUDIENCE = "drkit-dicomweb"
MIN_SECRET_BYTES = 32
PUBLIC_KEY_ALGORITHMS = ("RS256", "ES256")


class Unauthorized(Exception):
    """No token, or one that does not verify (answered 401)."""


@dataclass(frozen=True)
class TokenAuth:
    key: str | bytes
    algorithms: tuple[str, ...]
    audience: str = AUDIENCE

    @classmethod
    def shared_secret(cls, secret: bytes) -> "TokenAuth":
        if len(secret) < MIN_SECRET_BYTES:
            raise UsageError(f"the token secret must be at least {MIN_SECRET_BYTES} bytes")
        return cls(secret, ("HS256",))

    @classmethod
    def from_key_text(cls, text: bytes) -> "TokenAuth":
        """A PEM public key (RS256 for an RSA key, ES256 for an EC key) or else a shared
        secret (HS256). A PEM block that is no RSA or EC public key is a UsageError now,
        not a failure of every request later."""
        stripped = text.strip()
        if stripped.startswith(b"-----BEGIN PUBLIC KEY-----"):
            usable = []
            for name in PUBLIC_KEY_ALGORITHMS:
                try:
                    jwt.get_algorithm_by_name(name).prepare_key(stripped)
                except (jwt.PyJWTError, ValueError, TypeError):
                    continue
                usable.append(name)
            if not usable:
                raise UsageError("the key file holds a PEM block that is no RSA or EC public key (tokens are "
                                 f"verified with {' or '.join(PUBLIC_KEY_ALGORITHMS)})")
            return cls(stripped, tuple(usable))
        return cls.shared_secret(stripped)

    @classmethod
    def generate(cls) -> "TokenAuth":
        return cls.shared_secret(secrets.token_bytes(MIN_SECRET_BYTES))

    def issue(self, subject: str, hours: float = 12.0) -> str:
        """A token for ``subject`` (shared-secret mode only)."""
        if self.algorithms != ("HS256",):
            raise UsageError("tokens can only be issued with a shared secret; sign them with your identity provider")
        now = int(time.time())
        return jwt.encode({"sub": subject, "aud": self.audience, "iat": now, "exp": now + int(hours * 3600)},
                          self.key, algorithm="HS256")

    def verify(self, header: str | None) -> str:
        """The principal label (a hash of ``sub``, never the subject itself) of a valid
        ``Authorization: Bearer`` header; Unauthorized otherwise."""
        if not header:
            raise Unauthorized("missing bearer token")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <token>'")
        try:
            claims = jwt.decode(token.strip(), self.key, algorithms=list(self.algorithms), audience=self.audience,
                                options={"require": ["exp", "sub"]})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token ({type(exc).__name__})") from exc
        return opaque_label("sub", str(claims["sub"]))


@dataclass(frozen=True)
class GatewayAuth:
    """Behind API Gateway (``components.dicomweb``): the HTTP API's JWT or IAM authorizer has
    verified the caller before the request reaches the function — the function has no URL
    and its resource policy admits that API alone. A request without credentials still never
    gets through; the principal label is a hash of the credential, never the credential."""

    def verify(self, header: str | None) -> str:
        if not header or not header.strip():
            raise Unauthorized("missing credentials")
        return opaque_label("gw", header)
