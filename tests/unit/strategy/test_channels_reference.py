"""Stochastic, OBV, VWAP, Donchian and Keltner against ``ta`` and the StockCharts sheets."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import ta

from kinetic.strategy.indicators import donchian, keltner, obv, stochastic, vwap

REF = Path(__file__).resolve().parents[2] / "data" / "ta_reference"
RTOL = 1e-5


def _bars(seed: int, n: int = 600) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    close = 100.0 + np.cumsum(rng.normal(0.0, 1.0, n))
    high = close + rng.random(n) * 2.0
    low = close - rng.random(n) * 2.0
    volume = rng.integers(0, 5, n) * rng.random(n) * 1_000.0  # zeros included
    volume[:3] = 10.0
    return high, low, close, volume


def _after(mine: np.ndarray, ref: pd.Series, start: int) -> None:
    expected = ref.to_numpy(dtype=float)
    np.testing.assert_allclose(mine[start:], expected[start:], rtol=RTOL, atol=1e-9)
    assert np.isnan(mine[:start]).all()


def _tail(mine: np.ndarray, expected: pd.Series) -> None:
    np.testing.assert_allclose(mine[-5:], expected.to_numpy(dtype=float)[-5:], rtol=RTOL)


@pytest.fixture(autouse=True)
def _quiet_ta() -> None:
    warnings.filterwarnings("ignore", module="ta")


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("n", "smooth"), [(14, 3), (5, 1), (20, 5)])
def test_stochastic_matches_ta_after_warmup(seed: int, n: int, smooth: int) -> None:
    h, lo, c, _ = _bars(seed)
    ref = ta.momentum.StochasticOscillator(pd.Series(h), pd.Series(lo), pd.Series(c), n, smooth)
    res = stochastic(h, lo, c, n, smooth)
    _after(res.k, ref.stoch(), n - 1)
    _after(res.d, ref.stoch_signal(), n + smooth - 2)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_obv_and_vwap_match_ta(seed: int) -> None:
    h, lo, c, v = _bars(seed)
    c[10] = c[9]  # an unchanged close adds the volume, as in ta
    s = {k: pd.Series(x) for k, x in zip("hlcv", (h, lo, c, v), strict=True)}
    ref_obv = ta.volume.OnBalanceVolumeIndicator(s["c"], s["v"]).on_balance_volume()
    np.testing.assert_allclose(obv(c, v), ref_obv.to_numpy(), rtol=1e-12)
    for n in (3, 14):
        ref = ta.volume.VolumeWeightedAveragePrice(s["h"], s["l"], s["c"], s["v"], n)
        mine = vwap(h, lo, c, v, n)
        expected = ref.volume_weighted_average_price().to_numpy()
        ok = np.isfinite(expected)
        np.testing.assert_allclose(mine[ok], expected[ok], rtol=RTOL)
        assert np.isnan(mine[~ok]).all()  # warm-up and zero-volume windows


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(("n", "n_atr"), [(20, 10), (10, 14)])
def test_donchian_and_keltner_match_ta(seed: int, n: int, n_atr: int) -> None:
    h, lo, c, _ = _bars(seed)
    sh, sl, sc = pd.Series(h), pd.Series(lo), pd.Series(c)
    dc = ta.volatility.DonchianChannel(sh, sl, sc, n)
    mine = donchian(h, lo, n)
    _after(mine.upper, dc.donchian_channel_hband(), n - 1)
    _after(mine.lower, dc.donchian_channel_lband(), n - 1)
    _after(mine.middle, dc.donchian_channel_mband(), n - 1)
    kc = ta.volatility.KeltnerChannel(sh, sl, sc, n, n_atr, original_version=False)
    res = keltner(h, lo, c, n, n_atr)
    start = max(n, n_atr) - 1  # ta's ATR is 0 (not nan) before its own warm-up
    _after(res.middle, kc.keltner_channel_mband(), start)
    _after(res.upper, kc.keltner_channel_hband(), start)
    _after(res.lower, kc.keltner_channel_lband(), start)


def test_stochastic_matches_stockcharts_sheet() -> None:
    df = pd.read_csv(REF / "cs-soo.csv")
    res = stochastic(df["High"].to_numpy(), df["Low"].to_numpy(), df["Close"].to_numpy(), 14, 3)
    _tail(res.k, df["SO"])
    _tail(res.d, df["SO_SIG"])


def test_obv_matches_stockcharts_sheet() -> None:
    df = pd.read_csv(REF / "cs-obv.csv")
    volume = df["Volume"].fillna(0.0).to_numpy()  # the sheet's first row has no volume
    _tail(obv(df["Close"].to_numpy(), volume), df["OBV"])


def test_vwap_matches_stockcharts_sheet() -> None:
    df = pd.read_csv(REF / "cs-vwap.csv")
    cols = [df[k].to_numpy() for k in ("High", "Low", "Close", "Volume")]
    _tail(vwap(*cols, 14), df["vwap"])


def test_donchian_matches_stockcharts_sheet() -> None:
    df = pd.read_csv(REF / "cs-dc.csv")
    res = donchian(df["high"].to_numpy(), df["low"].to_numpy(), 20)
    _tail(res.upper, df["upper_band"])
    _tail(res.lower, df["lower_band"])
    _tail(res.middle, df["middle_band"])


def test_keltner_matches_stockcharts_sheet() -> None:
    df = pd.read_csv(REF / "cs-kc.csv")
    res = keltner(df["High"].to_numpy(), df["Low"].to_numpy(), df["Close"].to_numpy(), 20, 10)
    _tail(res.upper, df["upper_band"])
    _tail(res.middle, df["middle_band"])
    _tail(res.lower, df["lower_band"])


def test_flat_range_gives_neutral_stochastic() -> None:
    flat = np.full(30, 5.0)
    res = stochastic(flat, flat, flat, 14, 3)
    assert (res.k[13:] == 50.0).all()
    assert (res.d[15:] == 50.0).all()
