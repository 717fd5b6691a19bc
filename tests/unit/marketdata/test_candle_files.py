"""read_candles: malformed and inconsistent rows are logged and skipped."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from kinetic.marketdata.files import read_candles
from kinetic.marketdata.replay import discover_replay_files

HEADER = "timestamp,open,high,low,close,volume\n"


def write(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_read_candles_skips_malformed_and_high_below_low_rows_and_logs(tmp_path: Path) -> None:
    path = write(
        tmp_path / "BTCUSDT_1m.csv",
        [
            "0,100,101,99,100.5,10",
            "60000,oops,101,99,100,10",  # not a number
            "120000,100,98,99,99,10",  # high < low
            "180000,100,102,99,101,10",
            "240000,100,102,99,101,",  # missing volume
        ],
    )
    with capture_logs() as logs:
        data = read_candles(path, "BTCUSDT")
    assert list(data.open_time_ms) == [0, 180_000]
    assert data.interval_ms == 180_000  # inferred from what is left
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1
    assert warnings[0]["event"] == "malformed candle rows skipped"
    assert warnings[0]["rows"] == 3
    assert warnings[0]["path"] == str(path)


def test_read_candles_drops_duplicates_and_out_of_order_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.csv",
        [
            "0,1,2,0.5,1.5,1",
            "60000,1,2,0.5,1.5,1",
            "60000,1,2,0.5,1.5,1",  # duplicate
            "30000,1,2,0.5,1.5,1",  # out of order
            "120000,1,2,0.5,1.5,1",
        ],
    )
    with capture_logs() as logs:
        data = read_candles(path, "BTCUSDT", interval_ms=60_000)
    assert list(data.open_time_ms) == [0, 60_000, 120_000]
    assert [e["event"] for e in logs] == ["out-of-order or duplicate candles dropped"]
    c = data.candle(2)
    assert (c.open_time_ms, c.close_time_ms, c.high, c.low) == (120_000, 179_999, 2.0, 0.5)


def test_read_candles_reads_gzip(tmp_path: Path) -> None:
    path = tmp_path / "ETHUSDT_5m.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(HEADER + "0,1,2,0.5,1.5,1\n300000,1,2,0.5,1.5,1\n")
    data = read_candles(path, "ETHUSDT")
    assert len(data) == 2
    assert data.interval_ms == 300_000


def test_read_candles_missing_column_raises(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,open,high,low,close\n0,1,1,1,1\n")
    with pytest.raises(ValueError, match="missing columns"):
        read_candles(path, "BTCUSDT")


def test_discover_replay_files_maps_symbols_for_timeframe(tmp_path: Path) -> None:
    folder = tmp_path / "spot"
    folder.mkdir()
    for name in ("BTCUSDT_5m.csv", "ETHUSDT_5m.csv.gz", "SOLUSDT_1h.csv", "notes.txt"):
        (folder / name).write_text(HEADER)
    found = discover_replay_files(tmp_path, "spot", "5m")
    assert {s: p.name for s, p in found.items()} == {
        "BTCUSDT": "BTCUSDT_5m.csv",
        "ETHUSDT": "ETHUSDT_5m.csv.gz",
    }
    assert discover_replay_files(tmp_path, "futures", "5m") == {}


def test_a_row_earlier_than_any_kept_row_is_dropped_not_only_its_neighbour(
    tmp_path: Path,
) -> None:
    path = tmp_path / "BTCUSDT_1m.csv"
    rows = ["timestamp,open,high,low,close,volume"]
    rows += [f"{t},1,2,0.5,1.5,1" for t in (0, 300_000, 120_000, 180_000, 240_000, 360_000)]
    path.write_text("\n".join(rows) + "\n")
    arrays = read_candles(path, "BTCUSDT")
    assert arrays.open_time_ms.tolist() == [0, 300_000, 360_000]


def test_read_candles_maps_columns_by_name_in_any_order(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        "close,trades,timestamp,volume,low,high,open\n1.5,7,0,10,0.5,2,1\n2.5,9,60000,20,1.5,3,2\n"
    )
    data = read_candles(path, "BTCUSDT")
    assert list(data.open_time_ms) == [0, 60_000]
    assert list(data.open) == [1.0, 2.0]
    assert list(data.high) == [2.0, 3.0]
    assert list(data.low) == [0.5, 1.5]
    assert list(data.close) == [1.5, 2.5]
    assert list(data.volume) == [10.0, 20.0]


def test_read_candles_header_only_file_is_empty(tmp_path: Path) -> None:
    data = read_candles(write(tmp_path / "BTCUSDT_1m.csv", []), "BTCUSDT")
    assert len(data) == 0


def test_the_daemon_does_not_import_pandas() -> None:
    """pandas costs about 40 MB of the daemon's RSS budget (150 MB) and 0.2 s of start-up."""
    import subprocess
    import sys

    code = "import sys, kinetic.app, main; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_parquet_reads_like_csv_with_nulls_and_bad_rows_skipped(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        "0,100,101,99,100.5,10",
        "60000,100,98,99,99,10",  # high < low
        "120000,100,102,99,101,10",
        "60000,100,102,99,101,10",  # earlier than a kept row
    ]
    csv_data = read_candles(write(tmp_path / "X_1m.csv", rows), "X")
    cols = list(zip(*(map(float, r.split(",")) for r in rows), strict=True))
    path = tmp_path / "X_1m.parquet"
    pq.write_table(
        pa.table(
            {
                "close": pa.array([*cols[4], None]),  # any column order; a null close
                "timestamp": pa.array([int(t) for t in cols[0]] + [180_000], pa.int64()),
                "open": pa.array([*cols[1], 1.0]),
                "high": pa.array([*cols[2], 2.0]),
                "low": pa.array([*cols[3], 0.5]),
                "volume": pa.array([*cols[5], 1.0]),
            }
        ),
        path,
    )
    got = read_candles(path, "X")
    assert got.open_time_ms.dtype.kind == "i"
    assert got.interval_ms == csv_data.interval_ms
    for name in ("open_time_ms", "open", "high", "low", "close", "volume"):
        assert getattr(got, name).tolist() == getattr(csv_data, name).tolist(), name
    pq.write_table(pa.table({"timestamp": pa.array([0], pa.int64())}), path)
    with pytest.raises(ValueError, match="missing columns"):
        read_candles(path, "X")


def test_discover_replay_files_prefers_parquet_to_csv(tmp_path: Path) -> None:
    (tmp_path / "spot").mkdir()
    for name in ("BTCUSDT_5m.csv.gz", "BTCUSDT_5m.parquet", "ETHUSDT_5m.csv", "XRPUSDT_1m.parquet"):
        (tmp_path / "spot" / name).write_text("")
    found = discover_replay_files(tmp_path, "spot", "5m")
    assert {s: p.name for s, p in found.items()} == {
        "BTCUSDT": "BTCUSDT_5m.parquet",
        "ETHUSDT": "ETHUSDT_5m.csv",
    }
