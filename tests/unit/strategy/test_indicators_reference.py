"""Vectorised indicators against the ``ta`` library and the StockCharts reference sheets."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import ta

from kinetic.strategy.indicators import adx, atr, bollinger, ema, macd, rsi, sma

REF = Path(__file__).resolve().parents[2] / "data" / "ta_reference"
RTOL = 1e-5


def _ohlc(seed: int, n: int = 700) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100.0 + np.cumsum(rng.normal(0.0, 1.0, n))
    high = close + rng.random(n) * 2.0
    low = close - rng.random(n) * 2.0
    return high, low, close


def _assert_tail(mine: np.ndarray, ref: pd.Series, start: int) -> None:
    expected = np.asarray(ref, dtype=float)
    np.testing.assert_allclose(mine[start:], expected[start:], rtol=RTOL, atol=1e-9)
    assert np.isnan(mine[:start]).sum() + np.isfinite(mine[:start]).sum() == start


@pytest.fixture(autouse=True)
def _quiet_ta() -> None:
    warnings.filterwarnings("ignore", module="ta")


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("n", [5, 14, 20])
def test_ema_rsi_atr_match_ta_after_warmup(seed: int, n: int) -> None:
    high, low, close = _ohlc(seed)
    c, h, lo = pd.Series(close), pd.Series(high), pd.Series(low)
    _assert_tail(ema(close, n), ta.trend.EMAIndicator(c, n).ema_indicator(), n - 1)
    _assert_tail(rsi(close, n), ta.momentum.RSIIndicator(c, n).rsi(), n - 1)
    expected_atr = ta.volatility.AverageTrueRange(h, lo, c, n).average_true_range()
    _assert_tail(atr(high, low, close, n), expected_atr, n - 1)
    assert np.isnan(ema(close, n)[: n - 1]).all()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("n", [7, 14])
def test_adx_matches_ta_after_warmup(seed: int, n: int) -> None:
    high, low, close = _ohlc(seed)
    ind = ta.trend.ADXIndicator(pd.Series(high), pd.Series(low), pd.Series(close), n)
    res = adx(high, low, close, n)
    _assert_tail(res.adx, ind.adx(), 2 * n - 1)
    # ta leaves +DI/-DI at 0 on bar n itself; from n + 1 on they agree
    _assert_tail(res.plus_di, ind.adx_pos(), n + 1)
    _assert_tail(res.minus_di, ind.adx_neg(), n + 1)
    assert np.isnan(res.adx[: 2 * n - 1]).all()


@pytest.mark.parametrize("seed", [1, 2])
def test_macd_and_bollinger_match_ta(seed: int) -> None:
    _, _, close = _ohlc(seed)
    c = pd.Series(close)
    ref = ta.trend.MACD(c)
    res = macd(close)
    _assert_tail(res.line, ref.macd(), 25)
    _assert_tail(res.signal, ref.macd_signal(), 33)
    _assert_tail(res.hist, ref.macd_diff(), 33)
    bb = ta.volatility.BollingerBands(c)
    mine = bollinger(close)
    _assert_tail(mine.mid, bb.bollinger_mavg(), 19)
    _assert_tail(mine.upper, bb.bollinger_hband(), 19)
    _assert_tail(mine.lower, bb.bollinger_lband(), 19)
    _assert_tail(sma(close, 20), ta.trend.SMAIndicator(c, 20).sma_indicator(), 19)


def _tail(values: np.ndarray, expected: pd.Series) -> None:
    np.testing.assert_allclose(values[-5:], expected.to_numpy(dtype=float)[-5:], rtol=RTOL)


def test_rsi_matches_stockcharts_sheet() -> None:
    df = pd.read_csv(REF / "cs-rsi.csv")
    _tail(rsi(df["Close"].to_numpy(), 14), df["RSI"])


def test_atr_matches_stockcharts_sheet() -> None:
    df = pd.read_csv(REF / "cs-atr.csv")
    _tail(atr(df["High"].to_numpy(), df["Low"].to_numpy(), df["Close"].to_numpy(), 14), df["ATR"])


def test_adx_matches_stockcharts_sheet() -> None:
    df = pd.read_csv(REF / "cs-adx.csv")
    res = adx(df["High"].to_numpy(), df["Low"].to_numpy(), df["Close"].to_numpy(), 14)
    _tail(res.adx, df["ADX"])
    _tail(res.plus_di, df["+DI14"])
    _tail(res.minus_di, df["-DI14"])


def test_macd_and_emas_match_stockcharts_sheet() -> None:
    df = pd.read_csv(REF / "cs-macd.csv")
    close = df["Close"].to_numpy()
    res = macd(close, 12, 26, 9)
    _tail(res.line, df["MACD_line"])
    _tail(res.signal, df["MACD_signal"])
    _tail(res.hist, df["MACD_diff"])
    _tail(ema(close, 12), df["short_ema"])
    _tail(ema(close, 26), df["long_ema"])


def test_bollinger_matches_stockcharts_sheet() -> None:
    df = pd.read_csv(REF / "cs-bbands.csv")
    res = bollinger(df["Close"].to_numpy(), 20, 2.0)
    _tail(res.mid, df["MiddleBand"])
    _tail(res.upper, df["HighBand"])
    _tail(res.lower, df["LowBand"])
    _tail(sma(df["Close"].to_numpy(), 20), df["MiddleBand"])


def test_short_input_returns_all_nan() -> None:
    high, low, close = _ohlc(4, n=10)
    assert np.isnan(adx(high, low, close, 14).adx).all()
    assert np.isnan(atr(high, low, close, 14)).all()
    assert np.isnan(macd(close).signal).all()
    assert len(rsi(np.array([]), 14)) == 0


def test_flat_series_follows_ta_zero_conventions() -> None:
    close = np.full(60, 10.0)
    assert (rsi(close, 14)[13:] == 100.0).all()  # no losses -> 100, as ta
    res = adx(close, close, close, 14)
    assert (res.adx[27:] == 0.0).all()
    assert (res.plus_di[14:] == 0.0).all()


def test_invalid_window_rejected() -> None:
    with pytest.raises(ValueError, match="window"):
        ema(np.ones(5), 0)
