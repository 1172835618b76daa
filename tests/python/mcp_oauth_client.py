"""An MCP client built on the official Python SDK (`mcp` from PyPI), for the end-to-end tests.

It connects to an MCP server over streamable HTTP with the SDK's own OAuthClientProvider: the SDK
discovers the authorization server from the 401, registers, and builds the authorization URL.
The "browser" is the test harness: this program prints `AUTHORIZE <url>` and reads the redirect's
query as one JSON line (`{"code": …, "state": …, "iss": …}`) from stdin. Then it lists the tools,
creates a note through `notes_create`, and prints `RESULT <json>`.

    python mcp_oauth_client.py <mcp-url> <redirect-uri>
"""

import json
import sys

import anyio
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, TokenStorage
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken


class MemoryStorage(TokenStorage):
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


def emit(kind: str, payload: object) -> None:
    print(f"{kind} {payload if isinstance(payload, str) else json.dumps(payload)}", flush=True)


async def main(url: str, redirect_uri: str) -> None:
    async def redirect_handler(authorization_url: str) -> None:
        emit("AUTHORIZE", authorization_url)

    async def callback_handler() -> AuthorizationCodeResult:
        line = await anyio.to_thread.run_sync(sys.stdin.readline)
        query = json.loads(line)
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))

    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="MCP Python SDK e2e",
            redirect_uris=[redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=MemoryStorage(),
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with create_mcp_http_client(auth=provider) as http:
        async with streamable_http_client(url, http_client=http) as (read, write, *_):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = await session.list_tools()
                result = await session.call_tool(
                    "notes_create", {"title": "From Python", "content": "written by the Python SDK"}
                )
                emit(
                    "RESULT",
                    {
                        "tools": sorted(t.name for t in tools.tools),
                        "is_error": bool(result.is_error),
                        "text": "".join(getattr(c, "text", "") for c in result.content),
                    },
                )


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2])
