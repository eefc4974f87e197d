"""Dynamic routing (docs/routing.md) through the official SDKs: routes, versions and deployments
with the Cloudflare SDK (its responses validated strictly against its models), and
`model: "dynamic/{route}"` through the OpenAI SDK for each element type, the fallback chain,
a sticky split, and a rollback; and on the Responses API (OpenAI SDK) and the Messages API
(Anthropic SDK), each with its fallback.
"""

from __future__ import annotations

import json
import urllib.request

import anthropic
import cloudflare
import openai
import pytest

from conftest import ADMIN_TOKEN, ANTHROPIC_KEY, OPENAI_KEY
from test_cloudflare_sdk import SETTINGS, make_client

ACCOUNT = "local"
GATEWAY = "sdk-routes"


def out(element_id: str) -> dict:
    return {"elementId": element_id}


def model(element_id: str, provider: str, name: str, fallback: str = "end") -> dict:
    # The SDK's schema wants both outputs and every property of a model element.
    return {
        "id": element_id,
        "type": "model",
        "properties": {"provider": provider, "model": name, "timeout": 10000, "retries": 0},
        "outputs": {"success": out("end"), "fallback": out(fallback)},
    }


START = {"id": "start", "type": "start", "outputs": {"next": out("plan")}}
END = {"id": "end", "type": "end", "outputs": {}}

# start → plan (metadata.plan == "paid") → quota (2 a user, else cheap) → split 50/50 →
# primary (falls back to backup) or cheap.
ELEMENTS = [
    START,
    {"id": "plan", "type": "conditional",
     "properties": {"conditions": {"metadata.plan": {"$eq": "paid"}}},
     "outputs": {"true": out("quota"), "false": out("cheap")}},
    {"id": "quota", "type": "rate",
     "properties": {"key": "metadata.user", "limit": 2, "limitType": "count", "window": 3600},
     "outputs": {"success": out("split"), "fallback": out("cheap")}},
    {"id": "split", "type": "percentage",
     "outputs": {"50% primary": out("primary"), "50% backup": out("backup")}},
    model("primary", "openai", "gpt-4o", fallback="backup"),
    model("backup", "anthropic", "claude-3-5-haiku"),
    model("cheap", "openai", "gpt-4o-mini"),
    END,
]


@pytest.fixture(scope="module")
def management(start_gateway):
    return start_gateway()


@pytest.fixture(scope="module")
def cf(management) -> cloudflare.Cloudflare:
    client = make_client(management.management_url, ADMIN_TOKEN)
    client.ai_gateway.create(account_id=ACCOUNT, id=GATEWAY, **SETTINGS)
    return client


@pytest.fixture(scope="module")
def route(cf):
    return cf.ai_gateway.dynamic_routing.create(
        GATEWAY, account_id=ACCOUNT, name="support", elements=ELEMENTS
    )


@pytest.fixture(scope="module")
def ai(management) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=OPENAI_KEY, base_url=management.proxy_url("compat", gateway=GATEWAY), max_retries=0
    )


def chat(ai: openai.OpenAI, headers: dict[str, str]):
    return ai.chat.completions.with_raw_response.create(
        model="dynamic/support",
        messages=[{"role": "user", "content": "route me"}],
        extra_headers=headers,
    )


def queue_failure(mock, status: int) -> None:
    request = urllib.request.Request(
        f"{mock.url}/__mock/behaviors",
        data=json.dumps({"status": status}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request).close()


def test_create_list_and_get_in_the_sdks_models(cf, route):
    assert route.name == "support"
    assert route.version.active == "true"
    assert route.deployment.version_id == route.version.version_id
    assert json.loads(route.version.data) == ELEMENTS
    listed = cf.ai_gateway.dynamic_routing.list(GATEWAY, account_id=ACCOUNT)
    assert listed.success
    assert [r.id for r in listed.data.routes] == [route.id]
    got = cf.ai_gateway.dynamic_routing.get(route.id, account_id=ACCOUNT, gateway_id=GATEWAY)
    assert got.version.version_id == route.version.version_id


def test_each_element_type_through_the_openai_sdk(ai, route, mock):
    free = chat(ai, {"cf-aig-metadata": '{"plan": "free", "user": "u0"}'})
    assert free.headers["cf-aig-model"] == "gpt-4o-mini"
    assert free.headers["cf-aig-route"] == "support"
    assert free.parse().choices[0].message.content

    paid = {"cf-aig-metadata": '{"plan": "paid", "user": "alice"}', "cf-aig-event-id": "alice"}
    first = chat(ai, paid)
    assert first.headers["cf-aig-model"] in ("gpt-4o", "claude-3-5-haiku")
    # Sticky: the same event id takes the same branch.
    assert chat(ai, paid).headers["cf-aig-model"] == first.headers["cf-aig-model"]
    # Alice has had her 2 requests this hour: the rate element sends her to the cheap model.
    assert chat(ai, paid).headers["cf-aig-model"] == "gpt-4o-mini"


def test_the_fallback_chain_through_the_openai_sdk(ai, route, mock):
    # Find an event id the split sends to the primary model, then fail the primary once.
    for i in range(64):
        headers = {"cf-aig-metadata": json.dumps({"plan": "paid", "user": f"fb-{i}"}),
                   "cf-aig-event-id": f"fb-{i}"}
        probe = chat(ai, headers)
        if probe.headers["cf-aig-model"] == "gpt-4o":
            break
    else:
        pytest.fail("no event id reached the primary model")
    queue_failure(mock, 500)
    fell_back = chat(ai, headers)
    assert fell_back.headers["cf-aig-model"] == "claude-3-5-haiku"
    assert fell_back.headers["cf-aig-step"] == "1"
    assert fell_back.parse().object == "chat.completion"


def test_versions_deployments_and_rollback(cf, ai, route):
    cheaper = [START,
               {"id": "plan", "type": "conditional",
                "properties": {"conditions": {"metadata.plan": {"$exists": True}}},
                "outputs": {"true": out("cheap"), "false": out("cheap")}},
               model("cheap", "openai", "gpt-4.1-nano"), END]
    cf.ai_gateway.dynamic_routing.create_version(
        route.id, account_id=ACCOUNT, gateway_id=GATEWAY, elements=cheaper
    )
    versions = cf.ai_gateway.dynamic_routing.list_versions(
        route.id, account_id=ACCOUNT, gateway_id=GATEWAY
    ).data.versions
    assert [v.active for v in versions] == ["true", "false"]
    new = versions[1].version_id
    version = cf.ai_gateway.dynamic_routing.get_version(
        new, account_id=ACCOUNT, gateway_id=GATEWAY, id=route.id
    )
    assert version.elements[2].properties.model == "gpt-4.1-nano"
    cf.ai_gateway.dynamic_routing.create_deployment(
        route.id, account_id=ACCOUNT, gateway_id=GATEWAY, version_id=new
    )
    headers = {"cf-aig-metadata": '{"plan": "free"}'}
    deployed = chat(ai, headers)
    assert deployed.headers["cf-aig-model"] == "gpt-4.1-nano"
    assert deployed.headers["cf-aig-route-version"] == new
    # Rollback: deploy the first version again.
    cf.ai_gateway.dynamic_routing.create_deployment(
        route.id, account_id=ACCOUNT, gateway_id=GATEWAY, version_id=route.version.version_id
    )
    assert chat(ai, headers).headers["cf-aig-model"] == "gpt-4o-mini"
    deployments = cf.ai_gateway.dynamic_routing.list_deployments(
        route.id, account_id=ACCOUNT, gateway_id=GATEWAY
    ).data.deployments
    assert [d.version_id for d in deployments] == [
        route.version.version_id, new, route.version.version_id
    ]


def test_an_invalid_version_is_refused_naming_the_element(cf, route):
    broken = [START, {"id": "plan", "type": "conditional",
                      "properties": {"conditions": {"metadata.plan": {"$like": "p%"}}},
                      "outputs": {"true": out("end"), "false": out("ghost")}}, END]
    with pytest.raises(cloudflare.BadRequestError) as refused:
        cf.ai_gateway.dynamic_routing.create_version(
            route.id, account_id=ACCOUNT, gateway_id=GATEWAY, elements=broken
        )
    messages = [e["message"] for e in refused.value.body["errors"]]
    assert any('element "plan"' in m and "$like: unknown operator" in m for m in messages), messages
    assert any('points to "ghost"' in m for m in messages), messages


def test_rename_and_delete(cf, management):
    other = cf.ai_gateway.dynamic_routing.create(
        GATEWAY, account_id=ACCOUNT, name="to-rename", elements=[
            {"id": "start", "type": "start", "outputs": {"next": out("cheap")}},
            model("cheap", "openai", "gpt-4o-mini"), END,
        ]
    )
    renamed = cf.ai_gateway.dynamic_routing.update(
        other.id, account_id=ACCOUNT, gateway_id=GATEWAY, name="renamed"
    )
    assert renamed.success and renamed.route.name == "renamed"
    deleted = cf.ai_gateway.dynamic_routing.delete(other.id, account_id=ACCOUNT, gateway_id=GATEWAY)
    assert deleted.name == "renamed"
    names = [r.name for r in cf.ai_gateway.dynamic_routing.list(GATEWAY, account_id=ACCOUNT).data.routes]
    assert names == ["support"]


def test_responses_and_messages_through_their_sdks(cf, ai, management, mock):
    # primary (OpenAI) falls back to backup (Anthropic); a route of its own, deleted at the end.
    apis = cf.ai_gateway.dynamic_routing.create(
        GATEWAY, account_id=ACCOUNT, name="apis", elements=[
            {"id": "start", "type": "start", "outputs": {"next": out("primary")}},
            model("primary", "openai", "gpt-4o", fallback="backup"),
            model("backup", "anthropic", "claude-3-5-haiku"),
            END,
        ]
    )
    claude = anthropic.Anthropic(
        api_key=ANTHROPIC_KEY, base_url=management.proxy_url("compat", gateway=GATEWAY),
        max_retries=0, timeout=30,
    )
    question = [{"role": "user", "content": "route me"}]
    try:
        answered = ai.responses.with_raw_response.create(model="dynamic/apis", input="route me")
        assert answered.headers["cf-aig-model"] == "gpt-4o"
        assert answered.headers["cf-aig-route"] == "apis"
        assert answered.headers["cf-aig-route-version"] == apis.version.version_id
        assert answered.parse().output_text

        queue_failure(mock, 500)
        fell_back = ai.responses.with_raw_response.create(model="dynamic/apis", input="route me")
        assert fell_back.headers["cf-aig-model"] == "claude-3-5-haiku"
        assert fell_back.headers["cf-aig-provider"] == "anthropic"
        assert fell_back.headers["cf-aig-step"] == "1"
        assert fell_back.parse().output_text.startswith("Hello! You said:")

        message = claude.messages.with_raw_response.create(
            model="dynamic/apis", max_tokens=64, messages=question
        )
        assert message.headers["cf-aig-model"] == "gpt-4o"
        assert message.headers["cf-aig-route"] == "apis"
        reply = message.parse()
        assert reply.type == "message" and reply.content[0].text

        queue_failure(mock, 500)
        with claude.messages.stream(model="dynamic/apis", max_tokens=64, messages=question) as stream:
            text = "".join(stream.text_stream)
            assert stream.response.headers["cf-aig-model"] == "claude-3-5-haiku"
        assert text.startswith("Hello! You said:")
    finally:
        cf.ai_gateway.dynamic_routing.delete(apis.id, account_id=ACCOUNT, gateway_id=GATEWAY)
