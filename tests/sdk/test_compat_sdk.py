"""The official OpenAI SDK, unchanged, against the unified endpoint (docs/compat.md): one client,
any provider, by changing the model string. Upstream is the mock's Anthropic and Gemini formats."""

from __future__ import annotations

import json

import openai
import pytest

from conftest import OPENAI_KEY

MESSAGES = [
    {"role": "system", "content": "Answer in one short sentence."},
    {"role": "user", "content": "Which provider answers this question"},
]
MODELS = ["anthropic/claude-sonnet-4-5", "google-ai-studio/gemini-2.5-flash", "openai/gpt-4o-mini"]


@pytest.fixture(scope="module")
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(api_key=OPENAI_KEY, base_url=gateway.proxy_url("compat"), max_retries=0, timeout=30)


@pytest.mark.parametrize("model", MODELS)
def test_plain_chat_with_a_system_prompt_and_usage(client, model):
    reply = client.chat.completions.create(model=model, messages=MESSAGES)
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content.startswith("Hello! You said:")
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


@pytest.mark.parametrize("model", MODELS)
def test_streaming_gives_the_same_text_and_usage(client, model):
    whole = client.chat.completions.create(model=model, messages=MESSAGES)
    chunks = list(
        client.chat.completions.create(
            model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]


def test_provider_errors_arrive_as_openai_errors(client):
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(
            model="anthropic/claude-sonnet-4-5", messages=MESSAGES, extra_headers={"x-mock-status": "429"}
        )
    assert raised.value.status_code == 429


def test_gateway_errors_show_their_message_in_the_sdk(client, gateway):
    # The SDK's exception text is OpenAI's `error.message`; Cloudflare's envelope has none, so
    # before the unified endpoint answered in OpenAI's shape users saw only "Error code: 400".
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="openia/gpt-4o-mini", messages=MESSAGES)
    assert "did you mean openai?" in str(raised.value)
    assert raised.value.code == "2008"
    missing = openai.OpenAI(
        api_key=OPENAI_KEY, base_url=gateway.proxy_url("compat", gateway="nope"), max_retries=0, timeout=30
    )
    with pytest.raises(openai.NotFoundError) as raised:
        missing.chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES)
    assert 'account "local" has no gateway "nope"' in str(raised.value)


def test_models_lists_provider_prefixed_names(client):
    models = list(client.models.list())
    ids = {model.id for model in models}
    assert "openai/gpt-4o-mini" in ids
    assert any(i.startswith("anthropic/") for i in ids)
    # Only the configured providers' models, with a real time.
    assert not any(i.startswith("mistral/") for i in ids)
    assert all(model.created > 1_700_000_000 for model in models)


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        },
    }
]
TRANSLATED = ["anthropic/claude-sonnet-4-5", "google-ai-studio/gemini-2.5-flash"]


def sent_body(recorded) -> dict:
    import json as _json

    return _json.loads(recorded()[-1]["body"])


@pytest.mark.parametrize("model", TRANSLATED)
def test_a_tool_call_round_trip(client, recorded, model):
    question = {"role": "user", "content": "Find toll gates near me"}
    first = client.chat.completions.create(model=model, messages=[question], tools=TOOLS)
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.type == "function" and call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"query": "Find toll gates near me"}
    sent = sent_body(recorded)
    if model.startswith("anthropic/"):
        assert sent["tools"] == [{"name": "lookup", "description": "Look something up",
                                  "input_schema": TOOLS[0]["function"]["parameters"]}]
    else:
        assert sent["tools"][0]["functionDeclarations"][0]["name"] == "lookup"

    followup = [
        question,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "{\"gates\": 3}"},
    ]
    answer = client.chat.completions.create(model=model, messages=followup, tools=TOOLS)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].message.content
    sent = sent_body(recorded)
    if model.startswith("anthropic/"):
        assert sent["messages"][1]["content"][0]["type"] == "tool_use"
        result = sent["messages"][2]["content"][0]
        assert (result["type"], result["tool_use_id"]) == ("tool_result", call.id)
    else:
        assert sent["contents"][1]["parts"][0]["functionCall"]["name"] == "lookup"
        assert sent["contents"][2]["parts"][0]["functionResponse"]["response"] == {"gates": 3}

    # The same call, streamed: argument deltas reassemble into the same call.
    stream = client.chat.completions.create(model=model, messages=[question], tools=TOOLS, stream=True)
    name, arguments, finish = "", "", None
    for chunk in stream:
        for delta in chunk.choices[0].delta.tool_calls or []:
            name += delta.function.name or ""
            arguments += delta.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert (name, json.loads(arguments), finish) == ("lookup", {"query": "Find toll gates near me"}, "tool_calls")


@pytest.mark.parametrize("model", TRANSLATED)
def test_images_json_mode_and_stop_sequences_are_translated(client, recorded, model):
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
    ]}]
    reply = client.chat.completions.create(
        model=model, messages=messages, response_format={"type": "json_object"}, stop=["END"], max_tokens=50
    )
    assert reply.choices[0].message.content
    sent = sent_body(recorded)
    if model.startswith("anthropic/"):
        image = sent["messages"][0]["content"][1]
        assert image == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}}
        assert "JSON" in json.dumps(sent["system"])
        assert (sent["stop_sequences"], sent["max_tokens"]) == (["END"], 50)
    else:
        parts = sent["contents"][0]["parts"]
        assert parts[1]["inlineData"] == {"mimeType": "image/png", "data": png}
        config = sent["generationConfig"]
        assert (config["responseMimeType"], config["stopSequences"], config["maxOutputTokens"]) == (
            "application/json", ["END"], 50)
