"""The official Anthropic SDK, unchanged, against the unified endpoint (docs/compat.md): the
Messages API for any provider by changing the model string. Upstream is the mock's OpenAI,
Anthropic and Gemini formats."""

from __future__ import annotations

import json

import anthropic
import pytest

from conftest import ANTHROPIC_KEY

MODELS = [
    "openai/gpt-4o-mini",
    "groq/llama-3.1-8b-instant",
    "anthropic/claude-sonnet-4-5",
    "google-ai-studio/gemini-2.5-flash",
]
SYSTEM = "Answer in one short sentence."
QUESTION = {"role": "user", "content": "Which provider answers this question"}
TOOLS = [
    {
        "name": "lookup",
        "description": "Look something up",
        "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    }
]


@pytest.fixture(scope="module")
def client(gateway) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=ANTHROPIC_KEY, base_url=gateway.proxy_url("compat"), max_retries=0, timeout=30)


def sent_request(recorded) -> dict:
    posts = [r for r in recorded() if r["method"] == "POST"]
    return posts[-1]


@pytest.mark.parametrize("model", MODELS)
def test_plain_message_with_a_system_prompt_and_usage(client, recorded, model):
    reply = client.messages.create(model=model, max_tokens=256, system=SYSTEM, messages=[QUESTION])
    assert reply.type == "message" and reply.role == "assistant"
    assert reply.content[0].type == "text"
    assert reply.content[0].text.startswith("Hello! You said:")
    assert reply.stop_reason == "end_turn"
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    sent = sent_request(recorded)
    if model.startswith("openai/"):
        assert sent["path_and_query"].endswith("/chat/completions")
        assert json.loads(sent["body"])["messages"][0] == {"role": "system", "content": SYSTEM}
    elif model.startswith("anthropic/"):
        assert sent["path_and_query"].endswith("/v1/messages")
        assert json.loads(sent["body"])["system"] == SYSTEM


@pytest.mark.parametrize("model", MODELS)
def test_streaming_gives_the_same_text_and_usage(client, model):
    whole = client.messages.create(model=model, max_tokens=256, system=SYSTEM, messages=[QUESTION])
    with client.messages.stream(model=model, max_tokens=256, system=SYSTEM, messages=[QUESTION]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == whole.content[0].text
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == whole.usage.output_tokens
    assert final.usage.input_tokens == whole.usage.input_tokens


@pytest.mark.parametrize("model", MODELS)
def test_a_tool_call_round_trip(client, model):
    question = {"role": "user", "content": "Find toll gates near me"}
    first = client.messages.create(model=model, max_tokens=256, messages=[question], tools=TOOLS)
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.name == "lookup" and call.input == {"query": "Find toll gates near me"}

    followup = [
        question,
        {"role": "assistant", "content": [block.model_dump() for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": '{"gates": 3}'}]},
    ]
    answer = client.messages.create(model=model, max_tokens=256, messages=followup, tools=TOOLS)
    assert answer.stop_reason == "end_turn"
    assert answer.content[0].text

    # The same call, streamed: the input's JSON deltas reassemble into the same input.
    with client.messages.stream(model=model, max_tokens=256, messages=[question], tools=TOOLS) as stream:
        final = stream.get_final_message()
    streamed = next(block for block in final.content if block.type == "tool_use")
    assert (streamed.name, streamed.input, final.stop_reason) == ("lookup", call.input, "tool_use")


def test_provider_errors_arrive_as_anthropic_errors(client):
    with pytest.raises(anthropic.RateLimitError) as raised:
        client.messages.create(
            model="openai/gpt-4o-mini",
            max_tokens=16,
            messages=[QUESTION],
            extra_headers={"x-mock-status": "429"},
        )
    assert raised.value.status_code == 429


def test_gateway_errors_show_their_message_in_the_sdk(client, gateway):
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(model="openia/gpt-4o-mini", max_tokens=16, messages=[QUESTION])
    assert "did you mean openai?" in str(raised.value)
    assert raised.value.body["error"]["code"] == "2008"
    missing = anthropic.Anthropic(
        api_key=ANTHROPIC_KEY, base_url=gateway.proxy_url("compat", gateway="nope"), max_retries=0, timeout=30
    )
    with pytest.raises(anthropic.NotFoundError) as raised:
        missing.messages.create(model="openai/gpt-4o-mini", max_tokens=16, messages=[QUESTION])
    assert 'account "local" has no gateway "nope"' in str(raised.value)


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


@pytest.mark.parametrize("model", MODELS)
def test_images_and_stop_sequences_are_translated(client, recorded, model):
    content = [
        {"type": "text", "text": "What is in this picture"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]
    reply = client.messages.create(
        model=model, max_tokens=50, stop_sequences=["END"], messages=[{"role": "user", "content": content}]
    )
    assert reply.content[0].text
    sent = json.loads(sent_request(recorded)["body"])
    if model.startswith("anthropic/"):
        assert sent["messages"][0]["content"] == content
    elif model.startswith("google-ai-studio/"):
        assert sent["contents"][0]["parts"][1]["inlineData"] == {"mimeType": "image/png", "data": PNG}
        assert sent["generationConfig"]["stopSequences"] == ["END"]
    else:
        image = sent["messages"][0]["content"][1]
        assert image == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
        assert sent["stop"] == ["END"]


def test_models_list_in_anthropic_shape(client):
    models = list(client.models.list())
    ids = {model.id for model in models}
    assert "openai/gpt-4o-mini" in ids and any(i.startswith("anthropic/") for i in ids)
    assert all(model.type == "model" and model.created_at.year >= 2024 for model in models)
