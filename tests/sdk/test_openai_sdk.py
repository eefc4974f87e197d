"""The official OpenAI SDK sees the same bytes through Tollgate as it does from the provider.

Every call is made twice with the same arguments: once with `base_url` pointing at the gateway's
proxy URL for `openai`, once directly at the mock. The mock is deterministic (ids derive from a
hash of the request body), so any difference means the gateway altered the request body or the
response.
"""

from __future__ import annotations

import json

import openai
import pytest

from conftest import OPENAI_KEY

CHAT = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Tell me something about toll gates please"},
    ],
}


def make_client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=OPENAI_KEY, base_url=base_url, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def via_gateway(gateway) -> openai.OpenAI:
    return make_client(gateway.proxy_url("openai"))


@pytest.fixture(scope="module")
def direct(mock) -> openai.OpenAI:
    return make_client(f"{mock.url}/v1")


@pytest.fixture(scope="module")
def clients(via_gateway, direct):
    return {"gateway": via_gateway, "direct": direct}


def both(clients, call):
    """`call(client)` for the gateway and for the mock, in that order."""
    return call(clients["gateway"]), call(clients["direct"])


def headers_named(recorded_request: dict, name: str) -> list[str]:
    return [v for n, v in recorded_request["headers"] if n.lower() == name.lower()]


def test_chat_completion_is_byte_identical(clients):
    via, direct = both(clients, lambda c: c.chat.completions.with_raw_response.create(**CHAT))

    assert via.http_response.status_code == direct.http_response.status_code == 200
    assert via.http_response.content == direct.http_response.content
    assert via.headers.get("content-type") == direct.headers.get("content-type")

    parsed_via, parsed_direct = via.parse(), direct.parse()
    assert parsed_via == parsed_direct
    assert parsed_via.object == "chat.completion"
    assert parsed_via.choices[0].message.content
    assert parsed_via.usage is not None and parsed_via.usage.total_tokens > 0


def test_chat_completion_plain_create_parses_equal(clients):
    via, direct = both(clients, lambda c: c.chat.completions.create(**CHAT))
    assert via == direct
    assert via.model_dump() == direct.model_dump()


def _raw_stream(client: openai.OpenAI) -> tuple[int, str, bytes]:
    with client.chat.completions.with_streaming_response.create(
        **CHAT, stream=True, stream_options={"include_usage": True}
    ) as response:
        body = b"".join(response.iter_bytes())
        return response.http_response.status_code, response.headers.get("content-type", ""), body


def test_chat_stream_is_byte_identical(clients):
    (via_status, via_type, via_body), (direct_status, direct_type, direct_body) = both(clients, _raw_stream)

    assert via_status == direct_status == 200
    assert via_type.startswith("text/event-stream")
    assert direct_type.startswith("text/event-stream")
    assert via_body == direct_body
    assert via_body.rstrip().endswith(b"data: [DONE]")


def test_chat_stream_parses_to_equal_chunks(clients):
    def chunks(client: openai.OpenAI):
        stream = client.chat.completions.create(**CHAT, stream=True, stream_options={"include_usage": True})
        return list(stream)

    via, direct = both(clients, chunks)

    assert [c.model_dump() for c in via] == [c.model_dump() for c in direct]
    assert len(via) >= 3
    text = "".join(c.choices[0].delta.content or "" for c in via if c.choices)
    assert text, "the stream carried no content"
    # include_usage: the last chunk has no choices and carries the usage.
    assert via[-1].choices == []
    assert via[-1].usage is not None and via[-1].usage.total_tokens > 0


@pytest.mark.parametrize("encoding_format", [None, "float", "base64"])
def test_embeddings_are_byte_identical(clients, encoding_format):
    kwargs = {"model": "text-embedding-3-small", "input": ["first text to embed", "second one"]}
    if encoding_format is not None:
        kwargs["encoding_format"] = encoding_format

    via, direct = both(clients, lambda c: c.embeddings.with_raw_response.create(**kwargs))

    assert via.http_response.status_code == direct.http_response.status_code == 200
    assert via.http_response.content == direct.http_response.content
    parsed_via, parsed_direct = via.parse(), direct.parse()
    assert parsed_via == parsed_direct
    assert len(parsed_via.data) == 2
    assert all(len(item.embedding) > 0 for item in parsed_via.data)


def test_upstream_error_is_passed_through(clients):
    def fail(client: openai.OpenAI) -> openai.APIStatusError:
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(**CHAT, extra_headers={"x-mock-status": "503"})
        return caught.value

    via, direct = both(clients, fail)

    assert direct.status_code == 503
    assert via.status_code == direct.status_code
    assert type(via) is type(direct) is openai.InternalServerError
    assert via.response.content == direct.response.content
    assert via.body == direct.body
    assert via.message == direct.message


def test_gateway_forwards_credentials_and_strips_its_own_headers(via_gateway, direct, recorded):
    raw = via_gateway.chat.completions.with_raw_response.create(
        **CHAT,
        extra_headers={"cf-aig-metadata": json.dumps({"user": "u1"}), "cf-aig-event-id": "ev-1"},
    )
    assert raw.http_response.status_code == 200
    assert raw.headers.get("cf-aig-log-id"), f"no cf-aig-log-id in {dict(raw.headers)}"

    forwarded = [r for r in recorded() if r["method"] == "POST"]
    assert len(forwarded) == 1, forwarded
    request = forwarded[0]
    assert request["path_and_query"] == "/v1/chat/completions"
    assert headers_named(request, "authorization") == [f"Bearer {OPENAI_KEY}"]
    leaked = [name for name, _ in request["headers"] if name.lower().startswith("cf-aig-")]
    assert leaked == [], f"gateway forwarded its own headers upstream: {leaked}"

    # The body reaches the provider exactly as the SDK sent it directly.
    direct_raw = direct.chat.completions.with_raw_response.create(**CHAT)
    direct_request = [r for r in recorded() if r["method"] == "POST"][-1]
    assert direct_request["body"] == request["body"]
    assert "cf-aig-log-id" not in direct_raw.headers
