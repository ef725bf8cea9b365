"""The official Python SDK's `Client.listen` (2026-07-28 `subscriptions/listen`) against mKit:
listens for a resource's updates, has a tool announce one, and prints what arrived as JSON.

    MKIT_URL=... MKIT_TOKEN=... python3 tests/e2e/peers/listen_client.py test://watched-resource
"""

import json
import os
import sys

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def main(uri: str) -> None:
    headers = {"Authorization": f"Bearer {os.environ['MKIT_TOKEN']}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(os.environ["MKIT_URL"], http_client=http)) as client:
            out = {"protocolVersion": client.protocol_version}
            async with client.listen(resource_subscriptions=[uri, "test://not-announced"]) as sub:
                out["honored"] = sub.honored.model_dump(by_alias=True, exclude_none=True)
                await client.call_tool("test_update_watched_resource", {})
                with anyio.fail_after(10):
                    async for event in sub:
                        out["event"] = {"type": type(event).__name__, "uri": getattr(event, "uri", None)}
                        break
            print(json.dumps(out))


anyio.run(main, sys.argv[1])
