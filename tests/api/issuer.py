"""A local OpenID Connect issuer for tests: generated keys, a discovery document and a key set
served over HTTPS on loopback (with the sandbox's throwaway CA), and tokens signed with them,
made in the test or by its token endpoint (the client credentials grant, for the clients
registered in `Issuer.clients`).

It counts the requests for its key set, so a test can tell how often Accord fetched it, and
its keys can be rotated while it runs.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.tls import issue_loopback_certificates

AUDIENCE = "accord-api"


class SigningKey:
    def __init__(self, kid: str, algorithm: str) -> None:
        self.kid = kid
        self.algorithm = algorithm
        if algorithm == "ES256":
            self.private: Any = ec.generate_private_key(ec.SECP256R1())
            public = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk: dict[str, Any] = {**public, "kid": kid, "use": "sig", "alg": algorithm}


class Issuer:
    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="accord-issuer-")
        tls = issue_loopback_certificates(Path(self._directory.name), "127.0.0.1")
        self.ca_file = str(tls.ca_file)
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self._socket.getsockname()[1]}"
        self.keys = {
            alg: SigningKey(f"{alg.lower()}-1", alg) for alg in ("RS256", "ES256", "PS256")
        }
        self.published = list(self.keys.values())
        self.key_set_requests = 0
        self.discovery_requests = 0
        # client id -> (secret, the claims of the tokens it is granted)
        self.clients: dict[str, tuple[str, dict[str, Any]]] = {}
        app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/keys", self._key_set),
                Route("/token", self._token, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(
            app,
            log_level="warning",
            ssl_certfile=str(tls.cert_file),
            ssl_keyfile=str(tls.key_file),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, daemon=True, name="test-issuer")

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    async def _discovery(self, request: Request) -> JSONResponse:
        self.discovery_requests += 1
        return JSONResponse(
            {
                "issuer": self.url,
                "jwks_uri": f"{self.url}/keys",
                "token_endpoint": f"{self.url}/token",
            }
        )

    async def _token(self, request: Request) -> JSONResponse:
        """The client credentials grant (RFC 6749 4.4), the client authenticated in the form."""
        form = {
            name: values[0] for name, values in parse_qs((await request.body()).decode()).items()
        }
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        client = self.clients.get(str(form.get("client_id")))
        if client is None or client[0] != form.get("client_secret"):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        lifetime = 300
        token = self.token(
            lifetime=lifetime, sub=f"service-account-{form['client_id']}", **client[1]
        )
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": lifetime})

    async def _key_set(self, request: Request) -> JSONResponse:
        self.key_set_requests += 1
        return JSONResponse({"keys": [key.jwk for key in self.published]})

    def rotate(self, algorithm: str = "RS256") -> SigningKey:
        """Publish a new key for ``algorithm`` besides the others; the new key."""
        key = SigningKey(f"{algorithm.lower()}-{len(self.published) + 1}", algorithm)
        self.published.append(key)
        return key

    def token(
        self,
        role: Any = "finance",
        *,
        algorithm: str = "RS256",
        key: SigningKey | None = None,
        lifetime: float = 300,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A token signed by this issuer; ``claims`` override or add to the usual ones."""
        signer = key or self.keys[algorithm]
        now = int(time.time())
        body = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "user-42",
            "iat": now,
            "exp": now + lifetime,
            "accord_role": role,
            **claims,
        }
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(
            body,
            signer.private,
            algorithm=signer.algorithm,
            headers={"kid": signer.kid, **(headers or {})},
        )

    def __enter__(self) -> Issuer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test issuer did not start")
            time.sleep(0.02)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._directory.cleanup()
