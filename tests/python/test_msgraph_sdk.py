"""Microsoft's own clients against the sandbox: MSAL gets a token, msgraph-sdk creates a group and
lists groups across pages. Started by tests/it/sandbox_python.rs, which runs the sandbox and passes
SANDBOX_URL, SANDBOX_CA, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_TENANT. Exits non-zero on
any failure."""

import asyncio
import os
import sys

import httpx
import msal
import requests
from azure.core.credentials import AccessToken
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.group import Group
from msgraph_core import GraphClientFactory

URL = os.environ["SANDBOX_URL"]
CA = os.environ["SANDBOX_CA"]
CLIENT_ID = os.environ["SANDBOX_CLIENT_ID"]
SECRET = os.environ["SANDBOX_CLIENT_SECRET"]
TENANT = os.environ["SANDBOX_TENANT"]


def msal_token() -> dict:
    session = requests.Session()
    session.verify = CA
    app = msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=SECRET,
        authority=f"{URL}/{TENANT}",
        http_client=session,
        instance_discovery=False,  # the sandbox is not a known Microsoft cloud
    )
    result = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    if "access_token" not in result:
        raise SystemExit(f"MSAL failed: {result.get('error')}: {result.get('error_description')}")
    return result


class MsalCredential:
    """azure-core TokenCredential over the MSAL result (what kiota's provider expects)."""

    def __init__(self, result: dict):
        self.result = result

    async def get_token(self, *scopes, **kwargs):
        import time
        return AccessToken(self.result["access_token"], int(time.time()) + int(self.result.get("expires_in", 3599)))

    async def close(self):
        pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *a):
        pass


async def main() -> None:
    result = msal_token()
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(verify=CA))
    auth = AzureIdentityAuthenticationProvider(MsalCredential(result), scopes=["https://graph.microsoft.com/.default"], allowed_hosts=["127.0.0.1"])
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"{URL}/v1.0"
    client = GraphServiceClient(request_adapter=adapter)

    for i in range(3):
        g = Group(display_name=f"py-group-{i}", mail_enabled=False, mail_nickname=f"pygroup{i}", security_enabled=True)
        created = await client.groups.post(g)
        assert created is not None and created.id, "group created"

    names = []
    page = await client.groups.get()
    pages = 0
    while page is not None:
        pages += 1
        names.extend(g.display_name for g in page.value or [])
        if not page.odata_next_link:
            break
        page = await client.groups.with_url(page.odata_next_link).get()
    assert sorted(names) == ["py-group-0", "py-group-1", "py-group-2"], names
    assert pages >= 2, f"expected several pages, got {pages}"
    print(f"ok: {len(names)} groups over {pages} pages")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except AssertionError as e:
        print(f"assertion failed: {e}", file=sys.stderr)
        sys.exit(1)
