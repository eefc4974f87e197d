"""Realtime WebSocket sessions through Tollgate (docs/websockets.md), with the official OpenAI
SDK's realtime client and with the `websockets` package (a browser's way: credentials as
subprotocol entries), against the mock's realtime stub.
"""

from __future__ import annotations

import json
import urllib.request

import openai
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from conftest import ADMIN_TOKEN, OPENAI_KEY

ACCOUNT = "local"


def ws_url(gateway, path: str, gateway_id: str = "default") -> str:
    return gateway.proxy_url("openai", gateway=gateway_id).replace("http://", "ws://", 1) + path


def management(gateway, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{gateway.management_url}/accounts/{ACCOUNT}/ai-gateway{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def log_row(gateway, log_id: str, gateway_id: str = "default") -> dict:
    return management(gateway, "GET", f"/gateways/{gateway_id}/logs/{log_id}")["result"]


def test_openai_sdk_realtime_client(gateway, recorded):
    client = openai.OpenAI(api_key=OPENAI_KEY, base_url=gateway.proxy_url("openai"), max_retries=0)
    with client.realtime.connect(model="gpt-realtime", max_retries=0) as connection:
        created = connection.recv()
        assert created.type == "session.created"
        connection.send({"type": "response.create"})
        seen = []
        while True:
            event = connection.recv()
            seen.append(event.type)
            if event.type == "response.done":
                usage = event.response.usage
                break
    assert seen == ["response.output_text.delta", "response.done"]
    assert (usage.input_tokens, usage.output_tokens) == (100, 50)
    handshake = recorded()[-1]
    assert handshake["path_and_query"].startswith("/v1/realtime?model=gpt-realtime")
    headers = {name: value for name, value in handshake["headers"]}
    assert headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert not any(name.startswith("cf-aig") for name in headers)


def test_browser_style_session_is_logged_with_usage_and_cost(gateway):
    protocols = ["realtime", f"openai-insecure-api-key.{OPENAI_KEY}"]
    with connect(ws_url(gateway, "/realtime?model=gpt-realtime"), subprotocols=protocols) as ws:
        assert ws.subprotocol == "realtime"
        log_id = ws.response.headers["cf-aig-log-id"]
        assert json.loads(ws.recv())["type"] == "session.created"
        ws.send(json.dumps({"type": "hello"}))
        assert json.loads(ws.recv())["type"] == "mock.echo"
        ws.send(json.dumps({"type": "response.create"}))
        assert json.loads(ws.recv())["type"] == "response.output_text.delta"
        assert json.loads(ws.recv())["type"] == "response.done"
    # The row is durable before the gateway closes the socket.
    row = log_row(gateway, log_id)
    assert row["status_code"] == 101
    assert (row["tokens_in"], row["tokens_out"]) == (100, 50)
    assert row["cost"] > 0
    assert row["response_content_type"] == "application/vnd.tollgate.websocket-session+json"


def test_gateway_authentication_by_subprotocol(start_gateway):
    gateway = start_gateway()
    management(gateway, "POST", "/gateways", {"id": "voice", "authentication": True})
    token = management(gateway, "POST", "/tokens", {"name": "voice-app"})["result"]["token"]
    url = ws_url(gateway, "/realtime?model=gpt-realtime", gateway_id="voice")
    key = f"openai-insecure-api-key.{OPENAI_KEY}"

    with connect(url, subprotocols=["realtime", f"cf-aig-authorization.{token}", key]) as ws:
        assert ws.subprotocol == "realtime"
        assert json.loads(ws.recv())["type"] == "session.created"

    for protocols in (["realtime", "cf-aig-authorization.tgr_not-a-token", key], ["realtime", key]):
        with pytest.raises(InvalidStatus) as refused:
            with connect(url, subprotocols=protocols):
                pass
        response = refused.value.response
        assert response.status_code == 401
        assert json.loads(response.body)["error"][0]["code"] == 2009


def test_close_codes_pass_through(gateway):
    headers = {"Authorization": f"Bearer {OPENAI_KEY}"}
    with connect(ws_url(gateway, "/realtime?model=gpt-realtime"), additional_headers=headers) as ws:
        assert json.loads(ws.recv())["type"] == "session.created"
        ws.send(json.dumps({"type": "mock.close", "code": 4001, "reason": "session expired"}))
        with pytest.raises(Exception):
            ws.recv()
        assert (ws.close_code, ws.close_reason) == (4001, "session expired")


def test_universal_api_over_one_socket(gateway):
    """Two requests on one socket, one streamed, told apart by eventId; a malformed message
    gets an error event and the socket keeps serving."""

    def create(event_id: str, stream: bool) -> str:
        return json.dumps({
            "type": "universal.create",
            "request": {
                "eventId": event_id,
                "provider": "openai",
                "endpoint": "chat/completions",
                "headers": {"Authorization": f"Bearer {OPENAI_KEY}", "Content-Type": "application/json"},
                "query": {
                    "model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": "Hello over a socket"}],
                    "stream": stream,
                },
            },
        })

    url = gateway.url.replace("http://", "ws://", 1) + "/v1/local/default"
    with connect(url) as ws:
        ws.send(create("plain", False))
        ws.send(create("streamed", True))
        plain, chunks, done = None, [], None
        while plain is None or done is None:
            event = json.loads(ws.recv())
            key = (event["type"], event["metadata"]["eventId"])
            if key == ("universal.created", "plain"):
                plain = event
            elif key == ("universal.stream", "streamed"):
                chunks.append(event["response"])
            elif key == ("universal.done", "streamed"):
                done = event
            else:
                assert key == ("universal.created", "streamed"), event
        assert plain["response"]["object"] == "chat.completion"
        assert chunks and all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
        assert log_row(gateway, plain["metadata"]["logId"])["event_id"] == "plain"

        ws.send("not json")
        assert json.loads(ws.recv())["type"] == "error"
        ws.send(create("again", False))
        again = json.loads(ws.recv())
        assert (again["type"], again["metadata"]["eventId"]) == ("universal.created", "again")
