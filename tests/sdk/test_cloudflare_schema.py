"""Every management operation Tollgate serves that Cloudflare's API has, checked against
Cloudflare's schema: each response's `result` (or, where the SDK reads the whole body, the
body) must validate against the JSON Schema of its type, generated from the pinned `cloudflare`
SDK's models (tests/sdk/schema/, see its README.md). Raw HTTP, so nothing of an SDK's leniency
(pydantic's coercions, optional fields read as None) hides a difference; additionalProperties are
as the SDK has them.

Operations without a type in the SDK are listed at the end of this file with what is checked
instead. These tests use a gateway process of their own.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import httpx
import jsonschema
import pytest

from conftest import ADMIN_TOKEN, OPENAI_KEY

SCHEMAS = Path(__file__).resolve().parent / "schema"
ACCOUNT = "local"
GATEWAY = "schema-gw"
BASE = f"/accounts/{ACCOUNT}/ai-gateway"
GW = f"{BASE}/gateways/{GATEWAY}"
SETTINGS = {
    "cache_invalidate_on_update": False,
    "cache_ttl": 0,
    "collect_logs": True,
    "rate_limiting_interval": 0,
    "rate_limiting_limit": 0,
    "rate_limiting_technique": "fixed",
}


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.json").read_text())


# `date-time` is checked (jsonschema checks it only with an extra package): RFC 3339 with a time.
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def is_date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    return "T" in value.upper() and datetime.fromisoformat(value).tzinfo is not None


def problems(instance, name: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema(name), format_checker=FORMATS)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    ]


class Api:
    """Management calls with the admin token; each answer checked against its schema."""

    def __init__(self, url: str):
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        )

    def call(self, method: str, path: str, name: str | None, *, part: str = "result", **kwargs) -> dict:
        """`part`: `result` (one object), `items` (a page: each of `result`), `body` (the whole
        body, as the SDK reads it for this operation)."""
        response = self.http.request(method, path, **kwargs)
        assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"
        if name is None:
            return {}
        envelope = response.json()
        assert envelope["success"] is True, envelope
        if part == "items":
            assert isinstance(envelope["result"], list), envelope
            assert envelope["result"], f"{method} {path}: an empty page checks nothing"
            found = [
                f"result[{i}].{p}" for i, item in enumerate(envelope["result"]) for p in problems(item, name)
            ] + [f"result_info.{p}" for p in problems(envelope.get("result_info", {}), "v4_page_result_info")]
        else:
            found = problems(envelope["result"] if part == "result" else envelope, name)
        assert not found, f"{method} {path} against {name}.json:\n  " + "\n  ".join(found)
        return envelope


@pytest.fixture(scope="module")
def served(start_gateway):
    return start_gateway()


@pytest.fixture(scope="module")
def api(served) -> Api:
    return Api(served.management_url)


@pytest.fixture(scope="module")
def gateway(api) -> dict:
    return api.call("POST", f"{BASE}/gateways", "ai_gateway_create_response",
                    json={"id": GATEWAY, **SETTINGS})["result"]


@pytest.fixture(scope="module")
def log_ids(served, gateway) -> list[str]:
    """Rows of every kind: plain, streamed, from the cache, an upstream error, without a model,
    a universal request's fallback step, and a refusal by the gateway itself."""
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "one"}]}
    key = {"Authorization": f"Bearer {OPENAI_KEY}"}
    openai_url = served.proxy_url("openai", gateway=GATEWAY)
    ids = []
    with httpx.Client(timeout=30) as proxy:
        def send(method, url, expect, **kwargs):
            response = proxy.request(method, url, **kwargs)
            assert response.status_code == expect, response.text
            ids.append(response.headers["cf-aig-log-id"])

        send("POST", f"{openai_url}/chat/completions", 200,
             headers={**key, "cf-aig-metadata": '{"user": "schema"}'}, json=chat)
        send("POST", f"{openai_url}/chat/completions", 200, headers={**key, "cf-aig-cache-ttl": "600"},
             json={**chat, "messages": [{"role": "user", "content": "cached"}]})
        send("POST", f"{openai_url}/chat/completions", 200, headers={**key, "cf-aig-cache-ttl": "600"},
             json={**chat, "messages": [{"role": "user", "content": "cached"}]})
        send("POST", f"{openai_url}/chat/completions", 200, headers=key, json={**chat, "stream": True})
        # Content of its own: the gateway may cache (test_gateways sets cache_ttl).
        failed = {**chat, "messages": [{"role": "user", "content": "fails"}]}
        send("POST", f"{openai_url}/chat/completions", 500, headers={**key, "x-mock-status": "500"}, json=failed)
        send("GET", f"{openai_url}/models", 200, headers=key)
        step = {"provider": "openai", "endpoint": "chat/completions",
                "query": {**chat, "messages": [{"role": "user", "content": "steps"}]},
                "headers": {"authorization": f"Bearer {OPENAI_KEY}"}}
        failing = {**step, "headers": {**step["headers"], "x-mock-status": "500"}}
        send("POST", served.proxy_url("", gateway=GATEWAY).rstrip("/"), 200, json=[failing, step])
        send("POST", served.proxy_url("no-such-provider", gateway=GATEWAY) + "/x", 400, json=chat)
    return ids


def test_the_schemas_are_strict_enough_to_catch_a_difference():
    """The check itself: a wrong type, a missing required field and null where a field is not
    nullable are each found."""
    assert problems({"id": "x", "collect_logs": True, "created_at": "2026-01-01T00:00:00Z",
                     "modified_at": "2026-01-01T00:00:00Z"}, "ai_gateway_get_response")
    assert problems({"id": 7, "cache_invalidate_on_update": False, "collect_logs": True,
                     "created_at": "2026-01-01T00:00:00Z", "modified_at": "2026-01-01T00:00:00Z"},
                    "ai_gateway_get_response")
    assert problems({"id": "x", "base_url": "https://h", "created_at": None,
                     "modified_at": "2026-01-01T00:00:00Z", "name": "n", "slug": "s"},
                    "custom_provider_get_response")
    assert problems({"id": "x", "base_url": "https://h", "created_at": "2026-01-01",
                     "modified_at": "2026-01-01T00:00:00Z", "name": "n", "slug": "s"},
                    "custom_provider_get_response")
    assert problems({"page": None}, "v4_page_result_info") == []
    assert problems({"page": "1"}, "v4_page_result_info")
    manifest = json.loads((SCHEMAS / "manifest.json").read_text())
    import cloudflare

    assert manifest["cloudflare_sdk_version"] == cloudflare.__version__, (
        "the vendored schemas are of another SDK version: run tests/sdk/schema/generate.py"
    )


def test_gateways(api, gateway):
    path = f"{BASE}/gateways/{GATEWAY}"
    api.call("GET", f"{BASE}/gateways", "ai_gateway_list_response", part="items")
    api.call("GET", path, "ai_gateway_get_response")
    api.call("PUT", path, "ai_gateway_update_response",
             json={**SETTINGS, "cache_ttl": 60, "retry_max_attempts": None, "log_management": 1000,
                   "log_management_strategy": "DELETE_OLDEST"})
    api.call("GET", f"{path}/url/openai", "url_get_response")
    # Every field of Cloudflare's gateway set, the nested ones as its schema has them: each is
    # stored and answered in that shape.
    full = {
        **SETTINGS, "authentication": True, "byok_only": False, "is_default": False,
        "log_management": 5000, "log_management_strategy": "STOP_INSERTING",
        "logpush": True, "logpush_public_key": "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
        "retry_max_attempts": 3, "retry_delay": 100, "retry_backoff": "exponential",
        "zdr": False, "workers_ai_billing_mode": "postpaid", "store_id": "store-1",
        "dlp": {"enabled": True, "action": "FLAG", "profiles": ["credentials"]},
        "guardrails": {"prompt": {"S1": "FLAG", "P1": "BLOCK"}, "response": {"S2": "FLAG"}},
        "otel": [{"url": "https://otel.example/v1/traces", "headers": {"x-team": "ai"},
                  "content_type": "json"}],
        "spend_limits": {"enabled": True, "rules": [
            {"limit": 10.5, "limitType": "cost", "window": 86400, "technique": "fixed",
             "model": {"mode": "filter", "values": ["gpt-4o"]}}]},
    }
    updated = api.call("PUT", path, "ai_gateway_update_response", json=full)["result"]
    got = api.call("GET", path, "ai_gateway_get_response")["result"]
    for field in ("dlp", "otel", "spend_limits", "zdr", "store_id", "logpush", "workers_ai_billing_mode"):
        assert got[field] == updated[field], field
    api.call("GET", f"{BASE}/gateways", "ai_gateway_list_response", part="items")
    api.call("PUT", path, "ai_gateway_update_response",
             json={**SETTINGS, "cache_ttl": 60, "dlp": None, "guardrails": None, "otel": None,
                   "spend_limits": None, "authentication": False})
    api.call("POST", f"{BASE}/gateways", "ai_gateway_create_response", json={"id": "schema-gone", **SETTINGS})
    api.call("DELETE", f"{BASE}/gateways/schema-gone", "ai_gateway_delete_response")


def test_logs(api, log_ids):
    listed = api.call("GET", f"{GW}/logs", "log_list_response", part="items", params={"per_page": 50})
    assert len(listed["result"]) >= len(log_ids) - 1, listed
    for log_id in {row["id"] for row in listed["result"]}:
        api.call("GET", f"{GW}/logs/{log_id}", "log_get_response")
    # The SDK reads the patch's `result`, and the bodies, as `object`: anything.
    api.call("PATCH", f"{GW}/logs/{log_ids[0]}", None, json={"feedback": -1, "score": 50})
    api.call("GET", f"{GW}/logs", "log_list_response", part="items",
             params={"order_by": "model_type", "feedback": -1, "meta_info": "true"})
    api.call("GET", f"{GW}/logs/{log_ids[0]}/request", None)
    api.call("GET", f"{GW}/logs/{log_ids[0]}/response", None)
    api.call("GET", f"{GW}/logs/{log_ids[0]}", "log_get_response")
    api.call("DELETE", f"{GW}/logs", "log_delete_response", part="body",
             params={"filters": json.dumps([{"key": "id", "operator": "eq", "value": [log_ids[-1]]}])})


def test_datasets_evaluations_and_evaluation_types(api, log_ids):
    filters = [{"key": "provider", "operator": "eq", "value": ["openai"]}]
    dataset = api.call("POST", f"{GW}/datasets", "dataset_create_response",
                       json={"name": "schema", "enable": True, "filters": filters})["result"]
    path = f"{GW}/datasets/{dataset['id']}"
    api.call("GET", f"{GW}/datasets", "dataset_list_response", part="items")
    api.call("GET", path, "dataset_get_response")
    api.call("PUT", path, "dataset_update_response", json={"name": "schema2", "enable": True, "filters": filters})

    types = api.call("GET", f"{BASE}/evaluation-types", "evaluation_type_list_response", part="items")["result"]
    evaluation = api.call("POST", f"{GW}/evaluations", "evaluation_create_response",
                          json={"name": "schema", "dataset_ids": [dataset["id"]],
                                "evaluation_type_ids": [t["id"] for t in types]})["result"]
    api.call("GET", f"{GW}/evaluations", "evaluation_list_response", part="items")
    api.call("GET", f"{GW}/evaluations/{evaluation['id']}", "evaluation_get_response")
    api.call("DELETE", f"{GW}/evaluations/{evaluation['id']}", "evaluation_delete_response")
    api.call("DELETE", path, "dataset_delete_response")


def test_custom_providers(api):
    created = api.call("POST", f"{BASE}/custom-providers", "custom_provider_create_response",
                       json={"name": "Schema", "slug": "schema", "base_url": "https://schema.example/v1",
                             "enable": True, "position": 1})["result"]
    path = f"{BASE}/custom-providers/{created['id']}"
    api.call("GET", f"{BASE}/custom-providers", "custom_provider_list_response", part="items")
    api.call("GET", path, "custom_provider_get_response")
    # Not in the SDK (Cloudflare's API has it): the object is the one get answers with.
    api.call("PATCH", path, "custom_provider_get_response", json={"description": "changed"})
    api.call("DELETE", path, "custom_provider_delete_response")


def test_provider_configs(api, served):
    keyed = "schema-keys"
    api.call("POST", f"{BASE}/gateways", "ai_gateway_create_response",
             json={"id": keyed, **SETTINGS, "authentication": True})
    path = f"{BASE}/gateways/{keyed}/provider_configs"
    created = api.call("POST", path, "provider_config_create_response",
                       json={"provider_slug": "openai", "secret": "sk-schema-secret",
                             "default_config": True, "alias": "prod"})["result"]
    api.call("GET", path, "provider_config_list_response", part="items")
    # Get, patch and delete are not in the SDK: their object is the one create answers with.
    api.call("GET", f"{path}/{created['id']}", "provider_config_create_response")
    api.call("PATCH", f"{path}/{created['id']}", "provider_config_create_response", json={"rate_limit": 10, "rate_limit_period": 60})
    api.call("DELETE", f"{path}/{created['id']}", "provider_config_create_response")


def out(element_id: str) -> dict:
    return {"elementId": element_id}


ELEMENTS = [
    {"id": "start", "type": "start", "outputs": {"next": out("m")}},
    {"id": "m", "type": "model",
     "properties": {"provider": "openai", "model": "gpt-4o-mini", "timeout": 10000, "retries": 0},
     "outputs": {"success": out("end"), "fallback": out("end")}},
    {"id": "end", "type": "end", "outputs": {}},
]


def test_dynamic_routes(api, gateway):
    routes = f"{GW}/routes"
    route = api.call("POST", routes, "dynamic_routing_create_response",
                     json={"name": "schema", "elements": ELEMENTS})["result"]
    path = f"{routes}/{route['id']}"
    # The SDK reads these whole bodies (no `result` unwrapping).
    api.call("GET", routes, "dynamic_routing_list_response", part="body")
    api.call("PATCH", path, "dynamic_routing_update_response", part="body", json={"name": "schema2"})
    api.call("GET", path, "dynamic_routing_get_response")
    version = api.call("POST", f"{path}/versions", "dynamic_routing_create_version_response",
                       json={"elements": ELEMENTS})["result"]
    api.call("GET", f"{path}/versions", "dynamic_routing_list_versions_response", part="body")
    api.call("GET", f"{path}/versions/{version['version_id']}", "dynamic_routing_get_version_response")
    api.call("POST", f"{path}/deployments", "dynamic_routing_create_deployment_response",
             json={"version_id": version["version_id"]})
    api.call("GET", f"{path}/deployments", "dynamic_routing_list_deployments_response", part="body")
    api.call("DELETE", path, "dynamic_routing_delete_response")


# Served by Tollgate, not in Cloudflare's SDK (so no type to check against): the run tokens
# (…/tokens), policies (…/gateways/{id}/policies), analytics, spend and settings_bounds. Their
# shapes are Tollgate's own (README.md, docs/budgets.md, docs/analytics.md) and tested in
# crates/gateway/tests/it.
