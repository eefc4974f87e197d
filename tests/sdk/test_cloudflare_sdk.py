"""The official Cloudflare SDK manages Tollgate's gateways through `/client/v4`.

These tests use a gateway process of their own, so the account's gateway list holds exactly what
they create.
"""

from __future__ import annotations

from datetime import datetime

import cloudflare
import pytest

from conftest import ADMIN_TOKEN

ACCOUNT = "local"

# The parameters the SDK requires on create and update.
SETTINGS = {
    "cache_invalidate_on_update": False,
    "cache_ttl": 0,
    "collect_logs": True,
    "rate_limiting_interval": 0,
    "rate_limiting_limit": 0,
    "rate_limiting_technique": "fixed",
}


@pytest.fixture(scope="module")
def management(start_gateway):
    return start_gateway()


def make_client(base_url: str, token: str) -> cloudflare.Cloudflare:
    with pytest.MonkeyPatch.context() as env:
        # Credentials from the environment would take precedence over api_token.
        for name in ("CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY", "CLOUDFLARE_API_USER_SERVICE_KEY"):
            env.delenv(name, raising=False)
        return cloudflare.Cloudflare(
            api_token=token, base_url=base_url, max_retries=0, timeout=30,
            # Every response is checked against the SDK's models, generated from Cloudflare's schema.
            _strict_response_validation=True,
        )


@pytest.fixture(scope="module")
def client(management) -> cloudflare.Cloudflare:
    return make_client(management.management_url, ADMIN_TOKEN)


def create(client: cloudflare.Cloudflare, gateway_id: str, **overrides):
    return client.ai_gateway.create(account_id=ACCOUNT, id=gateway_id, **{**SETTINGS, **overrides})


def test_create_returns_the_gateway(client):
    created = create(client, "sdk-create")

    assert created.id == "sdk-create"
    assert created.cache_ttl == 0
    assert created.cache_invalidate_on_update is False
    assert created.collect_logs is True
    assert created.rate_limiting_interval == 0
    assert created.rate_limiting_limit == 0
    assert created.rate_limiting_technique == "fixed"
    assert isinstance(created.created_at, datetime)
    assert isinstance(created.modified_at, datetime)


def test_get_returns_what_create_stored(client):
    created = create(client, "sdk-get", cache_ttl=120, collect_logs=False)
    fetched = client.ai_gateway.get("sdk-get", account_id=ACCOUNT)

    assert fetched.id == "sdk-get"
    assert fetched.cache_ttl == 120
    assert fetched.collect_logs is False
    assert fetched.created_at == created.created_at


def test_update_changes_cache_ttl(client):
    create(client, "sdk-update")

    updated = client.ai_gateway.update("sdk-update", account_id=ACCOUNT, **{**SETTINGS, "cache_ttl": 300})
    assert updated.id == "sdk-update"
    assert updated.cache_ttl == 300

    fetched = client.ai_gateway.get("sdk-update", account_id=ACCOUNT)
    assert fetched.cache_ttl == 300
    assert fetched.collect_logs is True
    assert fetched.modified_at >= fetched.created_at


def test_delete_returns_the_deleted_gateway(client):
    create(client, "sdk-delete", cache_ttl=60)

    deleted = client.ai_gateway.delete("sdk-delete", account_id=ACCOUNT)
    assert deleted.id == "sdk-delete"
    assert deleted.cache_ttl == 60

    with pytest.raises(cloudflare.NotFoundError) as caught:
        client.ai_gateway.get("sdk-delete", account_id=ACCOUNT)
    assert caught.value.status_code == 404

    with pytest.raises(cloudflare.NotFoundError):
        client.ai_gateway.delete("sdk-delete", account_id=ACCOUNT)


PAGED = [f"sdk-page-{i:02}" for i in range(25)]


@pytest.fixture(scope="module")
def paged_gateways(client):
    for gateway_id in PAGED:
        create(client, gateway_id)
    return PAGED


def test_list_pages_with_per_page(client, paged_gateways):
    first = client.ai_gateway.list(account_id=ACCOUNT, per_page=10, search="sdk-page-")
    pages = list(first.iter_pages())

    # V4PagePaginationArray asks for page+1 until a page comes back empty: 25 items at 10 a page
    # is 3 full-or-partial pages, then an empty 4th that ends the iteration.
    assert [len(page.result) for page in pages] == [10, 10, 5, 0]
    ids = [g.id for page in pages for g in page.result]
    assert sorted(ids) == paged_gateways
    assert len(set(ids)) == len(ids), "a gateway appeared on two pages"
    assert pages[0].result_info is not None
    assert pages[0].result_info.page == 1 and pages[0].result_info.per_page == 10
    assert [page.result_info.page for page in pages] == [1, 2, 3, 4]


def test_list_iterates_every_gateway_past_the_default_page(client, paged_gateways):
    # The default page holds 20: more than that must come from a second request.
    first = client.ai_gateway.list(account_id=ACCOUNT)
    assert len(first.result) == 20
    ids = [g.id for g in first]  # the paginator fetches the following pages itself

    assert len(ids) == len(set(ids))
    assert set(paged_gateways) <= set(ids)
    assert len(ids) > 20


def test_list_search_filters(client, paged_gateways):
    ids = [g.id for g in client.ai_gateway.list(account_id=ACCOUNT, search="sdk-page-1")]
    assert sorted(ids) == [f"sdk-page-{i}" for i in range(10, 20)]


def test_wrong_token_is_an_authentication_error(management):
    wrong = make_client(management.management_url, "not-the-admin-token-at-all")

    with pytest.raises(cloudflare.AuthenticationError) as caught:
        wrong.ai_gateway.list(account_id=ACCOUNT).result
    assert caught.value.status_code == 401

    with pytest.raises(cloudflare.AuthenticationError):
        wrong.ai_gateway.create(account_id=ACCOUNT, id="sdk-unauthorized", **SETTINGS)
