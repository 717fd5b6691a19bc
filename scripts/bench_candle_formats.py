"""Candle file formats for 1,000,000 candles: load time, size, write time (issue 14 item 5).

Writes the same 1,000,000 one-minute candles in every candidate format and loads each
the whole way a backtest does: file -> six columns -> ``from_columns`` (the validation
every loader shares) -> ``CandleArrays``. So a format is not credited for skipping the
work the others do. Candidates:

* ``csv`` / ``csv_gz``: the loader's CSV path (numpy's C reader), what Kinetic read
  before; ``csv_arrow`` / ``csv_gz_arrow``: the same files through pyarrow's
  multithreaded CSV reader, the fastest CSV parser at hand (so a slow CSV figure is
  not just a slow parser).
* ``parquet_snappy`` / ``parquet_zstd``: the loader's Parquet path (``read_candles``).
* ``feather_lz4``: Arrow IPC (Feather v2), the fastest columnar read in pyarrow.
* ``npz``: numpy's own zip of arrays (no dependency at all).

Prints one JSON object: per format ``load_s`` (best of ``--repeat``), ``bytes`` and
``write_s``, plus ``load_speedup_vs_csv``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from kinetic.marketdata.files import COLUMNS, from_columns, read_candles  # noqa: E402


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _candles(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    ts = 1_600_000_000_000 + np.arange(n, dtype=np.int64) * 60_000
    close = 30_000 + np.cumsum(rng.normal(0, 5, n)).round(2)
    opn = np.roll(close, 1)
    high = np.maximum(opn, close) + rng.random(n).round(2)
    low = np.minimum(opn, close) - rng.random(n).round(2)
    vol = rng.random(n).round(4) * 10
    return dict(zip(COLUMNS, (ts, opn, high, low, close, vol), strict=True))


def _csv_text(cols: dict[str, np.ndarray]) -> str:
    rows = zip(*(cols[c].tolist() for c in COLUMNS), strict=True)
    # repr: the shortest exact form, as the candle recorder writes floats
    body = "".join(f"{t},{o!r},{h!r},{lo!r},{c!r},{v!r}\n" for t, o, h, lo, c, v in rows)
    return ",".join(COLUMNS) + "\n" + body


def _arrow_loader(read: Callable[[Path], pa.Table]) -> Callable[[Path], Any]:
    def load(path: Path) -> Any:
        table = read(path)
        cols = [table.column(c).to_numpy() for c in COLUMNS]
        return from_columns("X", [cols[0].astype(np.int64), *cols[1:]])

    return load


def _npz_load(path: Path) -> Any:
    with np.load(path) as z:
        return from_columns("X", [z[c] for c in COLUMNS])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candles", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cols = _candles(args.candles)
    table = pa.table(cols)
    out: dict[str, Any] = {"candles": args.candles, "repeat": args.repeat}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        text = _csv_text(cols)
        writers: dict[str, tuple[Path, Callable[[Path], object]]] = {
            "csv": (d / "c.csv", lambda p: p.write_text(text)),
            "csv_gz": (d / "c.csv.gz", lambda p: p.write_bytes(gzip.compress(text.encode(), 6))),
            "parquet_snappy": (d / "s.parquet", lambda p: pq.write_table(table, p)),
            "parquet_zstd": (
                d / "z.parquet",
                lambda p: pq.write_table(table, p, compression="zstd"),
            ),
            "feather_lz4": (d / "c.feather", lambda p: feather.write_feather(table, p)),
            "npz": (d / "c.npz", lambda p: np.savez(p, **cols)),
        }
        paths = {}
        for name, (path, write) in writers.items():
            out[name] = {"write_s": round(_timed(lambda w=write, p=path: w(p)), 3),
                         "bytes": path.stat().st_size}  # fmt: skip
            paths[name] = path
        loaders: dict[str, tuple[str, Callable[[Path], Any]]] = {
            "csv": ("csv", lambda p: read_candles(p, "X")),
            "csv_arrow": ("csv", _arrow_loader(pacsv.read_csv)),
            "csv_gz": ("csv_gz", lambda p: read_candles(p, "X")),
            "csv_gz_arrow": ("csv_gz", _arrow_loader(pacsv.read_csv)),
            "parquet_snappy": ("parquet_snappy", lambda p: read_candles(p, "X")),
            "parquet_zstd": ("parquet_zstd", lambda p: read_candles(p, "X")),
            "feather_lz4": ("feather_lz4", _arrow_loader(feather.read_table)),
            "npz": ("npz", _npz_load),
        }
        for name, (fmt, load) in loaders.items():
            got = load(paths[fmt])
            assert len(got) == args.candles, name
            assert got.close[-1] == cols["close"][-1], name
            entry = out.setdefault(name, {"bytes": out[fmt]["bytes"]})
            entry["load_s"] = round(_best(lambda f=load, p=paths[fmt]: f(p), args.repeat), 3)
    base = out["csv"]["load_s"]
    out["load_speedup_vs_csv"] = {
        k: round(base / v["load_s"], 1)
        for k, v in out.items()
        if isinstance(v, dict) and v.get("load_s")
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
