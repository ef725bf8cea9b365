"""A complete MCP client with OAuth, on the official Python SDK (`mcp` on PyPI), the way a
command-line or desktop client connects to an mKit server:

    python3 examples/clients/oauth_client.py https://mcp.example.com/mcp [tool]

1. The first request gets 401; the SDK reads the Protected Resource Metadata (RFC 9728) it
   names, then the authorization server's metadata (RFC 8414).
2. It registers this client (Dynamic Client Registration, RFC 7591) with a loopback redirect URI.
3. It calls `redirect_handler` with the authorization URL (PKCE, `state`, and `resource` = the
   server, RFC 8707): we print it; the user signs in and consents in a browser, which comes back
   to our loopback listener. `callback_handler` hands the code, state and RFC 9207 `iss` to the
   SDK, which checks the state and the issuer and exchanges the code.
4. We call a tool (default: whoami) and print its structured result as one JSON line.

State (registration, tokens) lives in memory here; a real client keeps it per server.
"""

import asyncio
import json
import sys
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, TokenStorage
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken


class InMemoryStorage(TokenStorage):
    """What the SDK stores between requests: the registration and the tokens."""

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


class CallbackListener:
    """A loopback listener for the authorization response (RFC 8252 section 7.3)."""

    def __init__(self) -> None:
        self.answer: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/callback"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode("latin-1")
        target = request_line.split(" ")[1] if request_line.count(" ") >= 2 else "/"
        url = urlsplit(target)
        found = url.path == "/callback"
        body = b'<!doctype html><title>Signed in</title><h1 id="done">Signed in. You can close this window.</h1>'
        status = b"200 OK" if found else b"404 Not Found"
        writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-type: text/html\r\ncontent-length: "
                     + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()
        if found and not self.answer.done():
            self.answer.set_result({k: v[0] for k, v in parse_qs(url.query).items()})

    async def result(self) -> AuthorizationCodeResult:
        params = await self.answer
        self.server.close()
        if "code" not in params:
            raise RuntimeError(f"authorization failed: {params.get('error')} {params.get('error_description', '')}")
        return AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=params.get("iss"))


async def redirect_to_browser(url: str) -> None:
    # A desktop client opens the system browser here.
    print(f"Open this URL to sign in: {url}", flush=True)


async def main(server_url: str, tool: str) -> None:
    listener = CallbackListener()
    redirect_uri = await listener.start()
    auth = OAuthClientProvider(
        server_url=server_url,
        client_metadata=OAuthClientMetadata(
            client_name="mKit example client (Python)",
            redirect_uris=[redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=InMemoryStorage(),
        redirect_handler=redirect_to_browser,
        callback_handler=listener.result,
    )
    async with httpx2.AsyncClient(auth=auth, timeout=30) as http:
        async with streamable_http_client(server_url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                result = await session.call_tool(tool, {})
                print(json.dumps(result.structured_content if result.structured_content is not None
                                 else [c.model_dump() for c in result.content]), flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: python3 oauth_client.py <MCP server URL> [tool]", file=sys.stderr)
        sys.exit(2)
    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "whoami"))
