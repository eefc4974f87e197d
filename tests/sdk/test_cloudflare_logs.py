"""The official Cloudflare SDK reads, annotates and deletes Tollgate's request logs.

Requests go through the gateway with the OpenAI SDK; their rows are then read back with
`client.ai_gateway.logs.*`, whose filters the SDK encodes as repeated dotted query keys. These tests
use a gateway process of their own, so its `default` gateway holds exactly their rows.
"""

from __future__ import annotations

from datetime import datetime

import cloudflare
import openai
import pytest

from conftest import ADMIN_TOKEN, OPENAI_KEY

ACCOUNT = "local"
GATEWAY = "default"

# Rows reach the store through the log shipper, shortly after the response: a bound on a
# failure, not a readiness wait.

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Log this request please"}]}


@pytest.fixture(scope="module")
def logged(start_gateway):
    return start_gateway()


@pytest.fixture(scope="module")
def client(logged) -> cloudflare.Cloudflare:
    with pytest.MonkeyPatch.context() as env:
        # Credentials from the environment would take precedence over api_token.
        for name in ("CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY", "CLOUDFLARE_API_USER_SERVICE_KEY"):
            env.delenv(name, raising=False)
        return cloudflare.Cloudflare(
            api_token=ADMIN_TOKEN, base_url=logged.management_url, max_retries=0, timeout=30,
            # Every response is checked against the SDK's models, generated from Cloudflare's schema.
            _strict_response_validation=True,
        )


@pytest.fixture(scope="module")
def proxy(logged) -> openai.OpenAI:
    return openai.OpenAI(api_key=OPENAI_KEY, base_url=logged.proxy_url("openai"), max_retries=0, timeout=30)


def send(proxy: openai.OpenAI, metadata: str | None = None) -> str:
    """One chat completion through the gateway; returns its log id."""
    headers = {"cf-aig-metadata": metadata} if metadata else {}
    raw = proxy.chat.completions.with_raw_response.create(**CHAT, extra_headers=headers)
    raw.parse()
    return raw.headers["cf-aig-log-id"]


def listed(client: cloudflare.Cloudflare, **params) -> list:
    page = client.ai_gateway.logs.list(gateway_id=GATEWAY, account_id=ACCOUNT, per_page=50, **params)
    return list(page.result)


def wait_for(client: cloudflare.Cloudflare, ids: list[str]) -> None:
    # The logs API reads its own writes: rows of requests that already completed are listed.
    present = {row.id for row in listed(client)}
    assert set(ids) <= present, f"rows {set(ids) - present} not listed"


@pytest.fixture(scope="module")
def rows(client, proxy):
    ids = [send(proxy, '{"team":"blue"}'), send(proxy, '{"team":"red"}'), send(proxy)]
    wait_for(client, ids)
    return ids


def test_list_returns_rows_newest_first(client, rows):
    page = client.ai_gateway.logs.list(gateway_id=GATEWAY, account_id=ACCOUNT)

    assert [row.id for row in page.result] == list(reversed(rows))
    first = page.result[-1]
    assert first.provider == "openai"
    assert first.model == "gpt-4o-mini"
    assert first.success is True and first.cached is False
    assert first.status_code == 200
    assert isinstance(first.created_at, datetime)
    assert first.metadata == '{"team":"blue"}'
    assert first.tokens_in and first.tokens_out
    assert page.result_info.total_count == 3


def test_filters_in_the_sdk_encoding(client, rows):
    by_metadata = listed(client, filters=[{"key": "metadata.value", "operator": "eq", "value": ["blue", "red"]}])
    assert [row.id for row in by_metadata] == [rows[1], rows[0]]

    # Two filters: the SDK groups repeated names on the wire (all keys, then operators, values).
    both = listed(
        client,
        filters=[
            {"key": "provider", "operator": "eq", "value": ["openai"]},
            {"key": "metadata.value", "operator": "neq", "value": ["red"]},
        ],
    )
    assert [row.id for row in both] == [rows[2], rows[0]]

    none = listed(
        client,
        filters=[
            {"key": "provider", "operator": "eq", "value": ["openai"]},
            {"key": "success", "operator": "eq", "value": [False]},
        ],
    )
    assert none == []

    assert len(listed(client, success=True, provider="openai", order_by="created_at", order_by_direction="asc")) == 3


def test_get_request_and_response(client, rows):
    log = client.ai_gateway.logs.get(rows[0], account_id=ACCOUNT, gateway_id=GATEWAY)
    assert log.id == rows[0]
    assert "Log this request please" in log.request_head
    assert log.request_head_complete is True

    request = client.ai_gateway.logs.request(rows[0], account_id=ACCOUNT, gateway_id=GATEWAY)
    assert request == CHAT
    response = client.ai_gateway.logs.response(rows[0], account_id=ACCOUNT, gateway_id=GATEWAY)
    assert response["object"] == "chat.completion"

    with pytest.raises(cloudflare.NotFoundError):
        client.ai_gateway.logs.get("no-such-log", account_id=ACCOUNT, gateway_id=GATEWAY)


def test_edit_sets_feedback_score_and_metadata(client, rows):
    result = client.ai_gateway.logs.edit(
        rows[2], account_id=ACCOUNT, gateway_id=GATEWAY, feedback=1, score=90, metadata={"reviewed": True}
    )
    assert result == {}

    log = client.ai_gateway.logs.get(rows[2], account_id=ACCOUNT, gateway_id=GATEWAY)
    assert log.metadata == '{"reviewed":true}'
    thumbs_up = listed(client, feedback=1)
    assert [row.id for row in thumbs_up] == [rows[2]]

    with pytest.raises(cloudflare.BadRequestError):
        client.ai_gateway.logs.edit(rows[2], account_id=ACCOUNT, gateway_id=GATEWAY, feedback=5)


def test_delete_by_filter_and_limit(client, rows):
    deleted = client.ai_gateway.logs.delete(
        gateway_id=GATEWAY,
        account_id=ACCOUNT,
        filters=[{"key": "metadata.value", "operator": "eq", "value": ["red"]}],
    )
    assert deleted.success is True
    assert [row.id for row in listed(client)] == [rows[2], rows[0]]

    client.ai_gateway.logs.delete(gateway_id=GATEWAY, account_id=ACCOUNT, limit=1, order_by_direction="asc")
    assert [row.id for row in listed(client)] == [rows[2]]
