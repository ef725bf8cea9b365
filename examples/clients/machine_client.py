"""A machine client on the official Python SDK (`mcp` on PyPI): a program with no person present
(a nightly job, a backend, an agent on a server) that calls an mKit server with the client
credentials grant (the MCP extension io.modelcontextprotocol/oauth-client-credentials). The
operator registered it with `make client-create`, which printed its client id and either a client
secret or, given the public key, nothing more.

    MKIT_CLIENT_ID=mkit_m_... MKIT_CLIENT_SECRET=... python3 examples/clients/machine_client.py https://mcp.example.com/mcp
    MKIT_CLIENT_ID=mkit_m_... MKIT_PRIVATE_KEY=key.pem python3 examples/clients/machine_client.py https://mcp.example.com/mcp

Arguments: the MCP server URL, then optionally the tool (default whoami). Environment:
  MKIT_CLIENT_ID      the client id (mkit_m_...)
  MKIT_CLIENT_SECRET  its client secret (client_secret_basic), or
  MKIT_PRIVATE_KEY    a file holding its private key as PEM (private_key_jwt: the SDK signs a
                      fresh assertion, good for 5 minutes, for each token request)
  MKIT_KEY_ALG        the key's algorithm (default: ES256 for an EC key, EdDSA for Ed25519,
                      RS256 for RSA)
  MKIT_ISSUER         the authorization server (default: the origin of the server URL, which is
                      mKit's issuer): the SDK presents the credentials to no other

The SDK gets the 401, reads the Protected Resource Metadata and the authorization server's
metadata, asks /oauth/token for a token (no refresh token: it asks again when one expires), and
calls the tool. The Python SDK asks for the scopes the 401 names (the server's
OAUTH_REQUIRED_SCOPES), else those the metadata lists: register the client with them. It prints
the tool's structured result as one JSON line.
"""

import asyncio
import json
import os
import sys
from urllib.parse import urlsplit

import httpx2
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.auth.extensions.client_credentials import (
    ClientCredentialsOAuthProvider,
    PrivateKeyJWTOAuthProvider,
    SignedJWTParameters,
)
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken


class InMemoryStorage(TokenStorage):
    """The token between requests (a machine client registers nothing, so keeps no client info)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def default_algorithm(pem: str) -> str:
    key = load_pem_private_key(pem.encode(), password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ES256"
    return "EdDSA" if isinstance(key, ed25519.Ed25519PrivateKey) else "RS256"


def auth_provider(server_url: str) -> OAuthClientProvider:
    client_id = os.environ["MKIT_CLIENT_ID"]
    parts = urlsplit(server_url)
    issuer = os.environ.get("MKIT_ISSUER", f"{parts.scheme}://{parts.netloc}")
    if secret := os.environ.get("MKIT_CLIENT_SECRET"):
        return ClientCredentialsOAuthProvider(
            server_url=server_url,
            storage=InMemoryStorage(),
            client_id=client_id,
            client_secret=secret,
            issuer=issuer,
        )
    with open(os.environ["MKIT_PRIVATE_KEY"], encoding="utf-8") as f:
        pem = f.read()
    assertion = SignedJWTParameters(
        issuer=client_id,
        subject=client_id,
        signing_key=pem,
        signing_algorithm=os.environ.get("MKIT_KEY_ALG") or default_algorithm(pem),
    )
    return PrivateKeyJWTOAuthProvider(
        server_url=server_url,
        storage=InMemoryStorage(),
        client_id=client_id,
        assertion_provider=assertion.create_assertion_provider(),
        issuer=issuer,
    )


async def main(server_url: str, tool: str) -> None:
    async with httpx2.AsyncClient(auth=auth_provider(server_url), timeout=30) as http:
        async with streamable_http_client(server_url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                result = await session.call_tool(tool, {})
                print(json.dumps(result.structured_content if result.structured_content is not None
                                 else [c.model_dump() for c in result.content]), flush=True)


if __name__ == "__main__":
    has_secret, has_key = "MKIT_CLIENT_SECRET" in os.environ, "MKIT_PRIVATE_KEY" in os.environ
    if len(sys.argv) < 2 or "MKIT_CLIENT_ID" not in os.environ or has_secret == has_key:
        print("usage: MKIT_CLIENT_ID=... (MKIT_CLIENT_SECRET=... | MKIT_PRIVATE_KEY=<PEM file>) "
              "python3 machine_client.py <MCP server URL> [tool]", file=sys.stderr)
        sys.exit(2)
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "whoami"))
