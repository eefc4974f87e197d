"""Stored provider keys (docs/keys.md) through the official Cloudflare SDK: `provider_configs`
create and list (the calls the SDK has; get, patch and delete are tested over raw HTTP in
crates/gateway/tests/it/keys.rs), and a proxied request that carries no key getting the stored
one upstream. The secret never comes back.
"""

from __future__ import annotations

import json
import urllib.request

import cloudflare
import pytest

from conftest import ADMIN_TOKEN
from test_cloudflare_sdk import SETTINGS, make_client

ACCOUNT = "local"
CANARY = "sk-sdk-canary-2b4d6f8a0c1e3a5c7e9f"


@pytest.fixture(scope="module")
def management(start_gateway):
    return start_gateway()


@pytest.fixture(scope="module")
def client(management) -> cloudflare.Cloudflare:
    return make_client(management.management_url, ADMIN_TOKEN)


def run_token(management) -> str:
    request = urllib.request.Request(
        f"{management.management_url}/accounts/{ACCOUNT}/ai-gateway/tokens",
        data=json.dumps({"name": "sdk"}).encode(),
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)["result"]["token"]


def test_create_and_list_keys_and_the_upstream_gets_the_stored_one(client, management, mock):
    client.ai_gateway.create(account_id=ACCOUNT, id="sdk-byok", **{**SETTINGS, "authentication": True})
    created = client.ai_gateway.provider_configs.with_raw_response.create(
        "sdk-byok",
        account_id=ACCOUNT,
        alias="prod",
        default_config=True,
        provider_slug="openai",
        secret=CANARY,
        rate_limit=100,
        rate_limit_period=60,
    )
    assert CANARY not in created.text()
    config = created.parse()
    assert config.alias == "prod"
    assert config.default_config is True
    assert config.gateway_id == "sdk-byok"
    assert config.provider_slug == "openai"
    assert config.secret_preview == CANARY[:4] + "..." + CANARY[-4:]
    assert config.rate_limit == 100 and config.rate_limit_period == 60
    assert config.id and config.secret_id and config.modified_at

    listed = list(client.ai_gateway.provider_configs.list("sdk-byok", account_id=ACCOUNT))
    assert [c.id for c in listed] == [config.id]
    raw = client.ai_gateway.provider_configs.with_raw_response.list("sdk-byok", account_id=ACCOUNT)
    assert CANARY not in raw.text()

    # A request with no provider key of its own gets the stored one.
    mock.clear()
    request = urllib.request.Request(
        management.proxy_url("openai", gateway="sdk-byok") + "/chat/completions",
        data=json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).encode(),
        headers={
            "cf-aig-authorization": f"Bearer {run_token(management)}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    sent = [dict(r["headers"]) for r in mock.requests()]
    assert sent and sent[-1].get("authorization") == f"Bearer {CANARY}"


def test_a_key_on_a_gateway_without_authentication_is_refused(client):
    client.ai_gateway.create(account_id=ACCOUNT, id="sdk-open", **SETTINGS)
    with pytest.raises(cloudflare.BadRequestError) as refused:
        client.ai_gateway.provider_configs.create(
            "sdk-open",
            account_id=ACCOUNT,
            alias="prod",
            default_config=True,
            provider_slug="openai",
            secret=CANARY,
        )
    assert "authentication" in str(refused.value)
    assert CANARY not in str(refused.value)


def test_the_openai_sdk_uses_a_stored_key_with_its_run_token_as_api_key(client, management, mock):
    """The OpenAI SDK cannot run without an API key: the run token goes there, and the gateway
    puts the stored key in its place (docs/keys.md)."""
    import openai

    client.ai_gateway.create(account_id=ACCOUNT, id="sdk-byok-openai", **{**SETTINGS, "authentication": True})
    client.ai_gateway.provider_configs.create(
        "sdk-byok-openai",
        account_id=ACCOUNT,
        alias="default",
        default_config=True,
        provider_slug="openai",
        secret=CANARY,
    )
    token = run_token(management)
    sdk = openai.OpenAI(
        api_key=token,
        base_url=management.proxy_url("openai", gateway="sdk-byok-openai"),
        max_retries=0,
    )
    mock.clear()
    completion = sdk.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices
    sent = [dict(r["headers"]) for r in mock.requests()]
    assert sent and sent[-1].get("authorization") == f"Bearer {CANARY}"
    assert all(token not in json.dumps(headers) for headers in sent)
