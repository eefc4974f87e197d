"""The official OpenAI SDK's Responses API, unchanged, against the unified endpoint
(docs/compat.md): any provider by changing the model string. Upstream is the mock's OpenAI
(Responses forwarded as is; Chat Completions for an OpenAI-compatible provider), Anthropic and
Gemini formats."""

from __future__ import annotations

import json

import openai
import pytest

from conftest import OPENAI_KEY

INSTRUCTIONS = "Answer in one short sentence."
QUESTION = "Which provider answers this question"
TRANSLATED = ["anthropic/claude-sonnet-4-5", "google-ai-studio/gemini-2.5-flash", "groq/llama-3.1-8b-instant"]
MODELS = ["openai/gpt-4o-mini", *TRANSLATED]
TOOLS = [
    {
        "type": "function",
        "name": "lookup",
        "description": "Look something up",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    }
]


@pytest.fixture(scope="module")
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(api_key=OPENAI_KEY, base_url=gateway.proxy_url("compat"), max_retries=0, timeout=30)


@pytest.mark.parametrize("model", MODELS)
def test_plain_response_with_instructions_and_usage(client, model):
    reply = client.responses.create(model=model, instructions=INSTRUCTIONS, input=QUESTION)
    assert reply.object == "response" and reply.status == "completed"
    assert reply.output_text.startswith("Hello! You said:")
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert reply.usage.total_tokens == reply.usage.input_tokens + reply.usage.output_tokens


@pytest.mark.parametrize("model", MODELS)
def test_streaming_gives_the_same_text_and_usage(client, model):
    whole = client.responses.create(model=model, instructions=INSTRUCTIONS, input=QUESTION)
    events = list(client.responses.create(model=model, instructions=INSTRUCTIONS, input=QUESTION, stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == whole.output_text
    assert events[-1].response.usage.output_tokens == whole.usage.output_tokens

    with client.responses.stream(model=model, instructions=INSTRUCTIONS, input=QUESTION) as stream:
        final = stream.get_final_response()
    assert final.output_text == whole.output_text
    assert final.usage.output_tokens == whole.usage.output_tokens


@pytest.mark.parametrize("model", TRANSLATED)
def test_a_function_call_round_trip(client, model):
    question = "Find toll gates near me"
    first = client.responses.create(model=model, input=question, tools=TOOLS)
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "lookup" and json.loads(call.arguments) == {"query": question}

    followup = [
        {"role": "user", "content": question},
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"type": "function_call_output", "call_id": call.call_id, "output": '{"gates": 3}'},
    ]
    answer = client.responses.create(model=model, input=followup, tools=TOOLS)
    assert answer.status == "completed" and answer.output_text

    # The same call, streamed: the argument deltas reassemble into the same call.
    with client.responses.stream(model=model, input=question, tools=TOOLS) as stream:
        final = stream.get_final_response()
    streamed = next(item for item in final.output if item.type == "function_call")
    assert (streamed.name, json.loads(streamed.arguments)) == ("lookup", {"query": question})


def test_refusals_and_gateway_errors_arrive_as_openai_errors(client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="anthropic/claude-sonnet-4-5", input=QUESTION, previous_response_id="resp_1")
    assert "previous_response_id" in str(raised.value)
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="openia/gpt-4o-mini", input=QUESTION)
    assert "did you mean openai?" in str(raised.value)


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


@pytest.mark.parametrize("model", TRANSLATED)
def test_images_and_json_mode_are_translated(client, recorded, model):
    content = [
        {"type": "input_text", "text": "What is in this picture"},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
    ]
    reply = client.responses.create(
        model=model,
        input=[{"role": "user", "content": content}],
        text={"format": {"type": "json_object"}},
        max_output_tokens=50,
    )
    assert reply.output_text
    sent = json.loads([r for r in recorded() if r["method"] == "POST"][-1]["body"])
    if model.startswith("anthropic/"):
        image = sent["messages"][0]["content"][1]
        assert image == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
        assert sent["max_tokens"] == 50
    elif model.startswith("google-ai-studio/"):
        assert sent["contents"][0]["parts"][1]["inlineData"] == {"mimeType": "image/png", "data": PNG}
        assert sent["generationConfig"]["responseMimeType"] == "application/json"
    else:
        image = sent["messages"][0]["content"][1]
        assert image == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
        assert sent["response_format"] == {"type": "json_object"}
