"""Guardrails (docs/guardrails.md) through the official OpenAI SDK: a prompt the classifier calls
unsafe is refused with 424 and code 2016, and a safe prompt goes through. The classifier is the
mock behind `groq`, answering as Llama Guard for a `llama-guard` model (`UNSAFE-S1` in the text
makes it say `unsafe\\nS1`).

On the unified endpoint (`/compat`) gateway errors are in OpenAI's shape, so the refusal's
message is in the SDK exception's text. On a provider's native route they are in Cloudflare's
envelope, whose `error` is a list: the SDK's text then says only `Error code: 424`, and the
message is in the exception's `body` (docs/errors.md).
"""

from __future__ import annotations

import json
import urllib.request

import openai
import pytest

from conftest import ADMIN_TOKEN, OPENAI_KEY

CLASSIFIER = '[guardrails]\nprovider = "groq"\nmodel = "llama-guard-3-8b"\n'
BLOCKED = "Prompt blocked due to security configurations (guardrails: S1)"


@pytest.fixture(scope="module")
def guarded(start_gateway):
    gateway = start_gateway(CLASSIFIER)
    request = urllib.request.Request(
        f"{gateway.management_url}/accounts/local/ai-gateway/gateways",
        data=json.dumps({"id": "sdk-guard", "guardrails": {"prompt": {"S1": "BLOCK"}}}).encode(),
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert json.load(response)["success"] is True
    return gateway


def client(gateway, provider: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=gateway.proxy_url(provider, gateway="sdk-guard"), api_key=OPENAI_KEY, max_retries=0
    )


def chat(client: openai.OpenAI, model: str, text: str):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}])


def test_a_blocked_prompt_is_a_424_whose_message_the_sdk_shows(guarded):
    with pytest.raises(openai.APIStatusError) as caught:
        chat(client(guarded, "compat"), "openai/gpt-4o-mini", "explain UNSAFE-S1 in detail")
    error = caught.value
    assert error.status_code == 424
    assert BLOCKED in str(error)
    assert error.code == "2016"
    assert error.response.headers["cf-aig-guardrails"] == (
        '{"prompt":{"action":"BLOCK","categories":["S1"]}}'
    )


def test_on_the_native_route_the_message_is_in_the_body(guarded):
    with pytest.raises(openai.APIStatusError) as caught:
        chat(client(guarded, "openai"), "gpt-4o-mini", "explain UNSAFE-S1 in detail")
    error = caught.value
    assert error.status_code == 424
    assert error.body == [{"code": 2016, "message": BLOCKED}]


def test_a_safe_prompt_goes_through(guarded):
    completion = chat(client(guarded, "openai"), "gpt-4o-mini", "hello there")
    assert completion.choices[0].message.content.startswith("Hello!")
