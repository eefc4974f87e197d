"""The official Cloudflare SDK makes datasets and evaluations of Tollgate's logs.

Requests go through the gateway with the OpenAI SDK, rated with `logs.edit`; a dataset selects
them and an evaluation reads them. Every response is checked against the SDK's models in strict
mode. These tests use a gateway process of their own.
"""

from __future__ import annotations

import cloudflare
import openai
import pytest

from conftest import ADMIN_TOKEN, OPENAI_KEY

ACCOUNT = "local"
GATEWAY = "default"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Evaluate this request"}]}


@pytest.fixture(scope="module")
def evaluated(start_gateway):
    return start_gateway()


@pytest.fixture(scope="module")
def client(evaluated) -> cloudflare.Cloudflare:
    with pytest.MonkeyPatch.context() as env:
        for name in ("CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY", "CLOUDFLARE_API_USER_SERVICE_KEY"):
            env.delenv(name, raising=False)
        return cloudflare.Cloudflare(
            api_token=ADMIN_TOKEN, base_url=evaluated.management_url, max_retries=0, timeout=30,
            _strict_response_validation=True,
        )


@pytest.fixture(scope="module")
def rated(evaluated, client) -> list[str]:
    proxy = openai.OpenAI(api_key=OPENAI_KEY, base_url=evaluated.proxy_url("openai"), max_retries=0, timeout=30)
    ids = []
    for _ in range(3):
        raw = proxy.chat.completions.with_raw_response.create(**CHAT)
        raw.parse()
        ids.append(raw.headers["cf-aig-log-id"])
    for log_id, feedback in zip(ids, [1, 1, -1]):
        client.ai_gateway.logs.edit(log_id, account_id=ACCOUNT, gateway_id=GATEWAY, feedback=feedback)
    return ids


def test_evaluation_types_are_listed(client):
    types = list(client.ai_gateway.evaluation_types.list(account_id=ACCOUNT))
    assert {t.name for t in types} == {"Cost", "Speed", "Human feedback"}


def test_a_dataset_is_made_read_replaced_and_deleted(client, rated):
    filters = [{"key": "provider", "operator": "eq", "value": ["openai"]}]
    created = client.ai_gateway.datasets.create(
        GATEWAY, account_id=ACCOUNT, name="openai", enable=True, filters=filters
    )
    assert created.filters[0].key == "provider"
    assert client.ai_gateway.datasets.get(created.id, account_id=ACCOUNT, gateway_id=GATEWAY).name == "openai"

    replaced = client.ai_gateway.datasets.update(
        created.id, account_id=ACCOUNT, gateway_id=GATEWAY, name="cheap", enable=False,
        filters=[{"key": "cost", "operator": "lt", "value": [0.01]}],
    )
    assert replaced.enable is False and replaced.filters[0].operator == "lt"
    assert [d.id for d in client.ai_gateway.datasets.list(GATEWAY, account_id=ACCOUNT, search="cheap")] == [created.id]

    deleted = client.ai_gateway.datasets.delete(created.id, account_id=ACCOUNT, gateway_id=GATEWAY)
    assert deleted.id == created.id
    with pytest.raises(cloudflare.NotFoundError):
        client.ai_gateway.datasets.get(created.id, account_id=ACCOUNT, gateway_id=GATEWAY)


def test_an_evaluation_reads_the_datasets_logs(client, rated):
    dataset = client.ai_gateway.datasets.create(
        GATEWAY, account_id=ACCOUNT, name="mini", enable=True,
        filters=[{"key": "model", "operator": "eq", "value": ["gpt-4o-mini"]}],
    )
    evaluation = client.ai_gateway.evaluations.create(
        GATEWAY, account_id=ACCOUNT, name="baseline", dataset_ids=[dataset.id],
        evaluation_type_ids=[t.id for t in client.ai_gateway.evaluation_types.list(account_id=ACCOUNT)],
    )
    assert evaluation.processed is True
    assert evaluation.total_logs == len(rated)
    assert [d.id for d in evaluation.datasets] == [dataset.id]
    feedback = next(r for r in evaluation.results if r.evaluation_type_id == "human-feedback")
    assert feedback.result == "66.7" and feedback.total_logs == 3

    listed = client.ai_gateway.evaluations.list(GATEWAY, account_id=ACCOUNT, search="base")
    assert [e.id for e in listed] == [evaluation.id]
    # A snapshot: read back as it was made (the models are different classes: compare as dicts).
    got = client.ai_gateway.evaluations.get(evaluation.id, account_id=ACCOUNT, gateway_id=GATEWAY)
    assert [r.to_dict() for r in got.results] == [r.to_dict() for r in evaluation.results]
    assert client.ai_gateway.evaluations.delete(evaluation.id, account_id=ACCOUNT, gateway_id=GATEWAY).id == evaluation.id


def test_a_wrong_filter_is_refused_naming_it(client, rated):
    with pytest.raises(cloudflare.BadRequestError) as refused:
        client.ai_gateway.datasets.create(
            GATEWAY, account_id=ACCOUNT, name="bad", enable=True,
            filters=[{"key": "cost", "operator": "gt", "value": ["cheap"]}],
        )
    assert "filters[0]" in str(refused.value)
