"""The HTTP API: malformed input gets a 4xx naming the field and what is accepted; routes answer."""

from __future__ import annotations

import httpx
import pytest

from execution.app import create_app
from tests.execution.conftest import signal


@pytest.fixture
async def client(service):
    app = create_app(service)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        yield c


BAD_SIGNALS = [
    ({"p_up": 1.5}, "p_up", "less than or equal to 1"),
    ({"horizon": 0}, "horizon", "greater than or equal to 1"),
    ({"asset": "btc"}, "asset", "matching"),
    ({"lower": 0.1}, "(body)", "lower <= forecast <= upper"),
    ({"forecast": "lots"}, "forecast", "valid number"),
    ({"leverage": 3}, "leverage", "no such field"),
    ({"asset": "XRP"}, "asset", "configured assets"),
]


async def test_malformed_signals_get_422_naming_the_field(client):
    for change, field, accepted in BAD_SIGNALS:  # one service for all cases: starting one takes seconds
        body = signal(1)
        body.update(change)
        r = await client.post("/signals", json=body)
        assert r.status_code == 422, change
        answer = r.json()
        assert answer["fields"][0]["field"] == field, (change, answer)
        assert accepted in answer["fields"][0]["accepted"], (change, answer)
        assert field.strip("()") in answer["message"] or field == "(body)"


async def test_missing_field_is_named(client):
    body = signal(1)
    del body["forecast"]
    r = await client.post("/signals", json=body)
    assert r.status_code == 422 and r.json()["fields"][0] == {
        "field": "forecast",
        "given": None,
        "accepted": "the field is required",
    }


async def test_signal_id_reused_for_another_signal_is_a_conflict(client):
    assert (await client.post("/signals", json=signal(1))).status_code == 200
    r = await client.post("/signals", json=signal(1, forecast=-0.003))
    assert r.status_code == 409 and "already used" in r.json()["message"]


async def test_routes_answer_with_orders_positions_pnl_and_metrics(client, service):
    r = await client.post("/signals", json=signal(1))
    answer = r.json()
    assert answer["outcome"] == "orders" and answer["orders"], answer
    cid = answer["orders"][0]["client_order_id"]
    order = (await client.get(f"/orders/{cid}")).json()
    assert order["model_tag"] == "test-model" and order["prediction_id"] == "pred-1"
    assert isinstance(order["amount"], str)  # Decimal money on the wire
    assert (await client.get("/orders", params={"state": "bogus"})).status_code == 422
    assert (await client.get("/orders/NOPE")).status_code == 404
    assert (await client.get("/positions")).status_code == 200
    assert set((await client.get("/pnl")).json()) == {"realised", "unrealised", "fees", "total", "daily"}
    assert (await client.get("/healthz")).json()["status"] == "ok"
    text = (await client.get("/metrics")).text
    assert 'kimera_execution_stage_seconds_bucket{le="0.001",stage="route"}' in text
    assert 'kimera_execution_orders{state="acknowledged"}' in text
    r = await client.put("/killswitch", json={"state": "PAUSED"})
    assert r.status_code == 422 and "ACTIVE" in r.json()["fields"][0]["accepted"]
    assert (await client.get("/openapi.json")).json()["paths"]["/signals"]["post"]


async def test_the_fast_signal_path_answers_as_the_documented_route_does(service):
    """create_app answers POST /signals past the framework; with route dependencies it goes through
    FastAPI. Both must answer every body the same way."""
    from fastapi import Depends

    def no_op() -> None:
        return None

    def cases(i: int) -> list[tuple[dict, bytes]]:
        json_headers = {"content-type": "application/json"}
        out = [(json_headers, httpx.Request("POST", "/", json={**signal(i), **change}).content)
               for change, _, _ in BAD_SIGNALS]  # fmt: skip
        return out + [
            (json_headers, b'{"signal_id": '),  # not JSON
            ({"content-type": "text/plain"}, httpx.Request("POST", "/", json=signal(i)).content),
            (json_headers, b""),
            (json_headers, b"[1, 2]"),
            (
                {"content-type": "application/vnd.kimera+json"},
                httpx.Request("POST", "/", json=signal(i)).content,
            ),
        ]

    answers = {}
    for i, app in ((5, create_app(service)), (6, create_app(service, dependencies=[Depends(no_op)]))):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            got = [await c.post("/signals", content=body, headers=h) for h, body in cases(i)]
        answers[i] = [(r.status_code, r.text.replace(f"-{i}", "-N")) for r in got[:-1]]
        answers[i].append((got[-1].status_code, sorted(got[-1].json())))  # a new decision: its own order ids
    for a, b in zip(answers[5], answers[6], strict=True):
        assert a == b, (a, b)
    assert [status for status, _ in answers[5]] == [422] * (len(answers[5]) - 1) + [200]


def _decimal_texts(value) -> list[str]:
    """Every string of a JSON answer that is a number (Decimal money and quantities go as text)."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in _decimal_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _decimal_texts(v)]
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return []
        return [value]
    return []


async def test_quantities_and_money_print_as_plain_numbers_never_with_an_exponent(client, service):
    from execution.status.snapshot import snapshot

    buy = (await client.post("/signals", json=signal(1, forecast=0.004))).json()
    sell = (await client.post("/signals", json=signal(2, forecast=-0.004))).json()
    answers = [buy, sell]
    for path in ("/orders", "/fills", "/positions", "/pnl"):
        answers.append((await client.get(path)).json())
    answers.append(snapshot(service))
    texts = [t for a in answers for t in _decimal_texts(a)]
    assert "0" in texts, texts  # a zero quantity or fee is among them, the case that printed 0E-8
    assert not [t for t in texts if "E" in t.upper()], texts
