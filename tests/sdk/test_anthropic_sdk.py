"""The official Anthropic SDK sees the same bytes through Tollgate as it does from the provider."""

from __future__ import annotations

import anthropic
import pytest

from conftest import ANTHROPIC_KEY

MESSAGE = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 256,
    "system": "Answer in one sentence.",
    "messages": [{"role": "user", "content": "What does a self hosted AI gateway do"}],
}


def make_client(base_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=base_url, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def via_gateway(gateway) -> anthropic.Anthropic:
    return make_client(gateway.proxy_url("anthropic"))


@pytest.fixture(scope="module")
def direct(mock) -> anthropic.Anthropic:
    return make_client(mock.url)


def headers_named(recorded_request: dict, name: str) -> list[str]:
    return [v for n, v in recorded_request["headers"] if n.lower() == name.lower()]


def test_message_is_byte_identical(via_gateway, direct):
    via = via_gateway.messages.with_raw_response.create(**MESSAGE)
    dir_ = direct.messages.with_raw_response.create(**MESSAGE)

    assert via.http_response.status_code == dir_.http_response.status_code == 200
    assert via.http_response.content == dir_.http_response.content

    parsed_via, parsed_direct = via.parse(), dir_.parse()
    assert parsed_via == parsed_direct
    assert parsed_via.type == "message"
    assert parsed_via.content[0].type == "text" and parsed_via.content[0].text
    assert parsed_via.usage.output_tokens > 0


def _raw_stream(client: anthropic.Anthropic) -> tuple[int, str, bytes]:
    with client.messages.with_streaming_response.create(**MESSAGE, stream=True) as response:
        body = b"".join(response.iter_bytes())
        return response.http_response.status_code, response.headers.get("content-type", ""), body


def test_message_stream_is_byte_identical(via_gateway, direct):
    via_status, via_type, via_body = _raw_stream(via_gateway)
    direct_status, direct_type, direct_body = _raw_stream(direct)

    assert via_status == direct_status == 200
    assert via_type.startswith("text/event-stream")
    assert direct_type.startswith("text/event-stream")
    assert via_body == direct_body
    assert b"event: message_stop" in via_body


def test_message_stream_parses_to_equal_events(via_gateway, direct):
    via = list(via_gateway.messages.create(**MESSAGE, stream=True))
    dir_ = list(direct.messages.create(**MESSAGE, stream=True))

    assert [e.model_dump() for e in via] == [e.model_dump() for e in dir_]
    types = [e.type for e in via]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    text = "".join(e.delta.text for e in via if e.type == "content_block_delta")
    assert text


def _forwarded_posts(recorded) -> list[dict]:
    return [r for r in recorded() if r["method"] == "POST"]


def test_gateway_forwards_sdk_credentials_and_strips_its_own_headers(via_gateway, direct, recorded):
    # Since 2.x the SDK sends `api_key` as `Authorization: Bearer …` (not `x-api-key`).
    raw = via_gateway.messages.with_raw_response.create(
        **MESSAGE, extra_headers={"cf-aig-metadata": '{"user":"u1"}', "cf-aig-event-id": "ev-1"}
    )
    assert raw.http_response.status_code == 200
    assert raw.headers.get("cf-aig-log-id"), f"no cf-aig-log-id in {dict(raw.headers)}"

    forwarded = _forwarded_posts(recorded)
    assert len(forwarded) == 1, forwarded
    request = forwarded[0]
    assert request["path_and_query"] == "/v1/messages"
    assert headers_named(request, "authorization") == [f"Bearer {ANTHROPIC_KEY}"]
    assert headers_named(request, "anthropic-version"), "anthropic-version was not forwarded"
    assert [n for n, _ in request["headers"] if n.lower().startswith("cf-aig-")] == []

    direct.messages.create(**MESSAGE)
    direct_request = _forwarded_posts(recorded)[-1]
    assert direct_request["body"] == request["body"]
    assert headers_named(direct_request, "anthropic-version") == headers_named(request, "anthropic-version")


def test_gateway_forwards_x_api_key(via_gateway, recorded):
    # Anthropic's own header, as the API documents it (and as 0.x/1.x SDKs sent `api_key`).
    message = via_gateway.messages.create(
        **MESSAGE, extra_headers={"x-api-key": ANTHROPIC_KEY, "authorization": anthropic.Omit()}
    )
    assert message.type == "message"

    forwarded = _forwarded_posts(recorded)
    assert len(forwarded) == 1, forwarded
    assert headers_named(forwarded[0], "x-api-key") == [ANTHROPIC_KEY]
    assert headers_named(forwarded[0], "authorization") == []
