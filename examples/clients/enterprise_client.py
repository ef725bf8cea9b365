"""An enterprise MCP client on the official Python SDK (`mcp` on PyPI): Enterprise-Managed
Authorization (the MCP extension io.modelcontextprotocol/enterprise-managed-authorization). An
employee signed in to this client through the company's identity provider (IdP); the IdP's policy,
not a consent screen, decides whether the employee may use an mKit server from this client.

    IDP_ISSUER=https://acme.okta.com IDP_CLIENT_ID=... IDP_CLIENT_SECRET=... IDP_ID_TOKEN=eyJ... \\
    MKIT_CLIENT_ID=mkit_m_... MKIT_CLIENT_SECRET=... \\
        python3 examples/clients/enterprise_client.py https://mcp.example.com/mcp [tool]

1. Single sign-on (the extension's section 3) happened before: the client holds the employee's
   OpenID Connect ID token (IDP_ID_TOKEN), issued to its registration at the IdP.
2. Leg 1 (section 4): the client exchanges the ID token at the IdP's token endpoint (RFC 8693 token
   exchange) for an ID-JAG (Identity Assertion JWT Authorization Grant) addressed to mKit:
   audience = mKit's issuer, resource = the MCP server. The SDK leaves this leg to the caller: it is
   `fetch_id_jag` below, the SDK's `assertion_provider`.
3. Leg 2 (section 5): the SDK's IdentityAssertionOAuthProvider presents the ID-JAG to mKit's token
   endpoint (RFC 7523 jwt-bearer grant), authenticated as the client the operator registered with
   `make client-create`, and gets mKit's access token; then we call a tool (default whoami) and
   print its structured result as one JSON line.

Environment:
  IDP_ISSUER          the enterprise IdP's issuer identifier (its discovery document names its
                      token endpoint)
  IDP_CLIENT_ID       this client's registration at the IdP (the ID token's aud), and
  IDP_CLIENT_SECRET   its secret (client_secret_basic at the IdP)
  IDP_ID_TOKEN        the employee's ID token from single sign-on
  MKIT_CLIENT_ID      this client's registration at mKit (mkit_m_...), the client_id the IdP puts
  MKIT_CLIENT_SECRET  in the ID-JAG, and its secret
  MKIT_ISSUER         mKit's issuer (default: the origin of the server URL); the ID-JAG's audience
  MKIT_SCOPE          the scopes to ask for, at the IdP and at mKit (default: whatever each allows)
"""

import asyncio
import base64
import json
import os
import sys
from urllib.parse import quote, urlsplit

import httpx2
from mcp.client.auth import TokenStorage
from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_JAG = "urn:ietf:params:oauth:token-type:id-jag"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"


class InMemoryStorage(TokenStorage):
    """mKit's token between requests (no refresh token: a new ID-JAG gets a new one)."""

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


async def fetch_id_jag(audience: str, resource: str) -> str:
    """Leg 1: the ID token for an ID-JAG at the IdP (RFC 8693 token exchange, the extension's section 4).

    The SDK passes mKit's issuer (`audience`, the ID-JAG's aud) and the MCP server's resource
    identifier (`resource`). Called again whenever mKit's token has to be renewed: an ID-JAG is good
    once, for minutes.
    """
    issuer = os.environ["IDP_ISSUER"]
    basic = base64.b64encode(
        f"{quote(os.environ['IDP_CLIENT_ID'], safe='')}:{quote(os.environ['IDP_CLIENT_SECRET'], safe='')}".encode()
    ).decode()
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "requested_token_type": ID_JAG,
        "audience": audience,
        "resource": resource,
        "subject_token": os.environ["IDP_ID_TOKEN"],
        "subject_token_type": ID_TOKEN,
    }
    if scope := os.environ.get("MKIT_SCOPE"):
        form["scope"] = scope
    async with httpx2.AsyncClient(timeout=30) as http:
        discovery = await http.get(issuer.rstrip("/") + "/.well-known/openid-configuration")
        discovery.raise_for_status()
        response = await http.post(discovery.json()["token_endpoint"], data=form,
                                   headers={"Authorization": f"Basic {basic}"})
    answer = response.json()
    if response.status_code != 200:
        raise RuntimeError(f"the IdP refused the token exchange: {answer.get('error')} "
                           f"{answer.get('error_description', '')}")
    if answer.get("issued_token_type") != ID_JAG:
        raise RuntimeError(f"the IdP issued {answer.get('issued_token_type')}, not an ID-JAG")
    return answer["access_token"]


def auth_provider(server_url: str) -> IdentityAssertionOAuthProvider:
    parts = urlsplit(server_url)
    return IdentityAssertionOAuthProvider(
        server_url=server_url,
        storage=InMemoryStorage(),
        client_id=os.environ["MKIT_CLIENT_ID"],
        client_secret=os.environ["MKIT_CLIENT_SECRET"],
        # The authorization server is configuration: the SDK sends the ID-JAG and the secret to no other.
        issuer=os.environ.get("MKIT_ISSUER", f"{parts.scheme}://{parts.netloc}"),
        assertion_provider=fetch_id_jag,
        scope=os.environ.get("MKIT_SCOPE"),
        token_endpoint_auth_method="client_secret_basic",
    )


async def main(server_url: str, tool: str) -> None:
    async with httpx2.AsyncClient(auth=auth_provider(server_url), timeout=30) as http:
        async with streamable_http_client(server_url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                result = await session.call_tool(tool, {})
                print(json.dumps(result.structured_content if result.structured_content is not None
                                 else [c.model_dump() for c in result.content]), flush=True)


REQUIRED = ["IDP_ISSUER", "IDP_CLIENT_ID", "IDP_CLIENT_SECRET", "IDP_ID_TOKEN", "MKIT_CLIENT_ID", "MKIT_CLIENT_SECRET"]

if __name__ == "__main__":
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if len(sys.argv) < 2 or missing:
        print(f"usage: {' '.join(f'{n}=...' for n in REQUIRED)} python3 enterprise_client.py <MCP server URL> [tool]"
              + (f"\nmissing: {', '.join(missing)}" if missing else ""), file=sys.stderr)
        sys.exit(2)
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "whoami"))
