"""Kraken signing reproduces the published vectors byte for byte (exchange_api_facts §3.3, §4.3)."""

from __future__ import annotations

from kinetic.venues.kraken.signing import encode_form, sign_challenge, sign_futures, sign_spot

SPOT_SECRET = (
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
)
SPOT_SIGN = (
    "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
)
FUT_SECRET = "cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ=="
FUT_SIGN = (
    "Txi+gJVXe3EN1brXYQ46FuV6UVtEVSKhc6dYMhPb7a/HXZLGvO6m9UUg+KVKqhLxrbllOPI7qRkHYmPfJZZSGA=="
)
CHALLENGE_SECRET = (
    "7zxMEF5p/Z8l2p2U7Ghv6x14Af+Fx+92tPgUdVQ748FOIrEoT9bgT+bTRfXc5pz8na+hL/QdrCVG7bh9KpT0eMTm"
)
CHALLENGE_SIGNED = (
    "4JEpF3ix66GA2B+ooK128Ift4XQVtc137N9yeg4Kqsn9PI0Kpzbysl9M1IeCEdjg0zl00wkVqcsnG4bmnlMb3A=="
)


def test_spot_api_sign_matches_kraken_doc_example() -> None:
    body = encode_form(
        [
            ("nonce", "1616492376594"),
            ("ordertype", "limit"),
            ("pair", "XBTUSD"),
            ("price", "37500"),
            ("type", "buy"),
            ("volume", "1.25"),
        ]
    )
    expected = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
    assert body == expected
    assert sign_spot(SPOT_SECRET, "/0/private/AddOrder", "1616492376594", body) == SPOT_SIGN


def test_futures_authent_matches_pinned_vector_without_derivatives_prefix() -> None:
    data = "orderType=lmt&symbol=PI_XBTUSD"
    assert sign_futures(FUT_SECRET, "/api/v3/sendorder", "1616492376594", data) == FUT_SIGN


def test_futures_authent_strips_derivatives_prefix() -> None:
    data = "orderType=lmt&symbol=PI_XBTUSD"
    signed = sign_futures(FUT_SECRET, "/derivatives/api/v3/sendorder", "1616492376594", data)
    assert signed == FUT_SIGN


def test_ws_challenge_signature_matches_kraken_doc_example() -> None:
    challenge = "c100b894-1729-464d-ace1-52dbce11db42"
    assert sign_challenge(CHALLENGE_SECRET, challenge) == CHALLENGE_SIGNED


def test_encode_form_uses_percent_20_for_spaces() -> None:
    assert encode_form([("greeting", "hello world")]) == "greeting=hello%20world"
