"""Candle file formats for 1,000,000 candles: load time and size (issue 14 item 5).

Writes the same 1,000,000 one-minute candles as CSV, CSV.GZ (the formats the daemon
reads) and Parquet (pyarrow, installed for this comparison only, like the backtest
peers), then loads each the way a backtest would: CSV/CSV.GZ through
``kinetic.marketdata.files.read_candles``, Parquet through ``pyarrow.parquet``. Prints
one JSON object: seconds (best of 3) and bytes per format.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.append(os.environ.get("BENCH_TOOLS", "/tmp/kinetic-bench-tools"))

from kinetic.marketdata.files import read_candles  # noqa: E402

N = 1_000_000


def _best(fn: object, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    rng = np.random.default_rng(7)
    ts = 1_600_000_000_000 + np.arange(N, dtype=np.int64) * 60_000
    close = 30_000 + np.cumsum(rng.normal(0, 5, N)).round(2)
    opn = np.roll(close, 1)
    high = np.maximum(opn, close) + rng.random(N).round(2)
    low = np.minimum(opn, close) - rng.random(N).round(2)
    vol = rng.random(N).round(4) * 10
    out: dict[str, object] = {"candles": N}
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "c.csv"
        lines = "".join(
            f"{t},{o!r},{h!r},{lo!r},{c!r},{v!r}\n"
            for t, o, h, lo, c, v in zip(
                ts.tolist(), opn.tolist(), high.tolist(), low.tolist(), close.tolist(),
                vol.tolist(), strict=True,
            )
        )  # fmt: skip
        csv_path.write_text("timestamp,open,high,low,close,volume\n" + lines)
        gz_path = Path(tmp) / "c.csv.gz"
        with gzip.open(gz_path, "wt") as fh:
            fh.write("timestamp,open,high,low,close,volume\n" + lines)
        out["csv"] = {"load_s": round(_best(lambda: read_candles(csv_path, "X")), 3),
                      "bytes": csv_path.stat().st_size}  # fmt: skip
        out["csv_gz"] = {"load_s": round(_best(lambda: read_candles(gz_path, "X")), 3),
                         "bytes": gz_path.stat().st_size}  # fmt: skip
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            out["parquet"] = "pyarrow not installed (pip install --target $BENCH_TOOLS pyarrow)"
        else:
            pq_path = Path(tmp) / "c.parquet"
            table = pa.table({"timestamp": ts, "open": opn, "high": high, "low": low,
                              "close": close, "volume": vol})  # fmt: skip
            pq.write_table(table, pq_path)
            out["parquet"] = {"load_s": round(_best(lambda: pq.read_table(pq_path)), 3),
                              "bytes": pq_path.stat().st_size}  # fmt: skip
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
