"""The official OpenAI SDK, unchanged, against the unified endpoint (SPEC §7): one client,
any provider, by changing the model string. Upstream is the mock's Anthropic and Gemini formats."""

from __future__ import annotations

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


def test_models_lists_provider_prefixed_names(client):
    ids = {model.id for model in client.models.list()}
    assert "openai/gpt-4o-mini" in ids
    assert any(i.startswith("anthropic/") for i in ids)
