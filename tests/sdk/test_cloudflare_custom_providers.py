"""Custom providers made through the API (docs/configuration.md, "Custom providers through the
API") with the official Cloudflare SDK in strict response validation: create, list (with its
filters and paging), get and delete, and Cloudflare's errors for an `http://` base URL (1002), a
taken slug (1003) and an unknown id (1004). Requests through such a provider (it must be
`https://`, so behind TLS) are tested in crates/gateway/tests/it/custom_providers.rs.
"""

from __future__ import annotations

import cloudflare
import pytest

from conftest import ADMIN_TOKEN
from test_cloudflare_sdk import make_client

ACCOUNT = "local"


@pytest.fixture(scope="module")
def management(start_gateway):
    return start_gateway()


@pytest.fixture(scope="module")
def client(management) -> cloudflare.Cloudflare:
    return make_client(management.management_url, ADMIN_TOKEN)


def test_create_list_get_and_delete(client):
    created = client.ai_gateway.custom_providers.create(
        account_id=ACCOUNT,
        name="Neon",
        slug="sdk-neon",
        base_url="https://api.neon.example/v1",
        description="Postgres",
        link="https://neon.example",
        enable=True,
    )
    assert created.slug == "sdk-neon"
    assert created.base_url == "https://api.neon.example/v1"
    assert created.enable is True
    assert created.beta is False
    assert created.logo.startswith("data:image/svg+xml;base64,")
    assert created.created_at is not None and created.modified_at is not None

    client.ai_gateway.custom_providers.create(
        account_id=ACCOUNT, name="SaladCloud", slug="sdk-salad", base_url="https://salad.example",
    )

    listed = client.ai_gateway.custom_providers.list(account_id=ACCOUNT)
    slugs = [provider.slug for provider in listed]
    assert "sdk-neon" in slugs and "sdk-salad" in slugs
    assert listed.result_info.total_count >= 2

    disabled = client.ai_gateway.custom_providers.list(account_id=ACCOUNT, enable=False, search="salad")
    assert [provider.slug for provider in disabled] == ["sdk-salad"]

    page = client.ai_gateway.custom_providers.list(account_id=ACCOUNT, per_page=1, page=1)
    assert len(page.result) == 1

    got = client.ai_gateway.custom_providers.get(created.id, account_id=ACCOUNT)
    assert got.id == created.id
    assert got.description == "Postgres"

    deleted = client.ai_gateway.custom_providers.delete(created.id, account_id=ACCOUNT)
    assert deleted.id == created.id
    with pytest.raises(cloudflare.NotFoundError) as gone:
        client.ai_gateway.custom_providers.get(created.id, account_id=ACCOUNT)
    assert gone.value.body["errors"][0]["code"] == 1004


def test_an_http_base_url_is_refused_with_1002(client):
    with pytest.raises(cloudflare.BadRequestError) as refused:
        client.ai_gateway.custom_providers.create(
            account_id=ACCOUNT, name="Plain", slug="sdk-plain", base_url="http://plain.example",
        )
    assert refused.value.status_code == 400
    error = refused.value.body["errors"][0]
    assert error["code"] == 1002
    assert error["path"] == ["body", "base_url"]


def test_a_taken_slug_is_refused_with_1003(client):
    client.ai_gateway.custom_providers.create(
        account_id=ACCOUNT, name="Once", slug="sdk-once", base_url="https://once.example",
    )
    for slug in ("sdk-once", "openai"):
        with pytest.raises(cloudflare.ConflictError) as refused:
            client.ai_gateway.custom_providers.create(
                account_id=ACCOUNT, name="Twice", slug=slug, base_url="https://twice.example",
            )
        assert refused.value.body["errors"][0]["code"] == 1003
