"""Official Binance signature vectors, reproduced byte for byte."""

from __future__ import annotations

from kinetic.venues.binance.signing import (
    encode_params,
    sign,
    signed_query,
    ws_payload,
    ws_signed_params,
)

SPOT_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SPOT_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
FUT_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"


def test_sign_when_spot_rest_vector_b_spot_1_then_matches() -> None:
    payload = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    expected = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    assert sign(SPOT_SECRET, payload) == expected


def test_signed_query_when_params_in_doc_order_then_b_spot_1_signature_appended() -> None:
    params = {
        "symbol": "LTCBTC",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "1",
        "price": "0.1",
        "recvWindow": 5000,
        "timestamp": 1499827319559,
    }
    query = signed_query(SPOT_SECRET, params)
    assert query.endswith(
        "&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_ws_api_vector_b_spot_4_when_params_sorted_then_matches() -> None:
    params = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01000000",
        "price": "52000.00",
        "recvWindow": 100,
        "timestamp": 1645423376532,
        "apiKey": SPOT_KEY,
    }
    assert ws_payload(params) == (
        f"apiKey={SPOT_KEY}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL"
        "&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
    )
    assert ws_signed_params(SPOT_SECRET, params)["signature"] == (
        "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    )


def test_usdm_vectors_b_fut_1_and_2_when_query_or_body_then_same_signature() -> None:
    payload = (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
        "&recvWindow=5000&timestamp=1591702613943"
    )
    expected = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    assert sign(FUT_SECRET, payload) == expected  # B-FUT-1, all in the query
    assert signed_query(FUT_SECRET, {}, payload) == f"signature={expected}"  # B-FUT-2, body


def test_encode_params_when_non_ascii_then_percent_encoded_before_signing() -> None:
    assert encode_params({"symbol": "ＢＴＣ", "note": "a b"}) == (
        "symbol=%EF%BC%A2%EF%BC%B4%EF%BC%A3&note=a%20b"
    )
    query = signed_query("s", {"note": "ü"})
    assert query == f"note=%C3%BC&signature={sign('s', 'note=%C3%BC')}"


def test_ws_payload_when_signature_present_then_excluded_and_raw_utf8() -> None:
    assert ws_payload({"b": "ü", "a": True, "signature": "x"}) == "a=true&b=ü"
