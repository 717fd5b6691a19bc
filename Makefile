# Kinetic developer commands. `make test` installs what it needs, then runs the suite.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kinetic-dev-installed
export HYPOTHESIS_PROFILE ?= ci

.PHONY: install run test test-fast lint typecheck bench chaos backtest strategy-table optimize-defaults migrate status clean

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) main.py run

test: install
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: install
	$(PY) -m pytest -q -m "not slow and not postgres"

lint: install
	$(VENV)/bin/ruff check src tests config.py main.py scripts

typecheck: install
	$(VENV)/bin/mypy

bench: install
	$(PY) scripts/bench_daemon.py
	$(PY) scripts/bench_indicators.py
	$(PY) scripts/bench_venues.py
	$(PY) scripts/bench_takeover.py
	$(PY) scripts/bench_protection.py
	$(PY) scripts/bench_sandbox.py
	$(PY) scripts/failover.py --rounds 3
	$(PY) scripts/bench_api.py
	@# backtesting.py and backtrader are installed for the comparison only (not project deps)
	@[ -d $${BENCH_TOOLS:-/tmp/kinetic-bench-tools}/backtesting ] || $(PY) -m pip install --quiet --target $${BENCH_TOOLS:-/tmp/kinetic-bench-tools} backtesting backtrader
	$(PY) scripts/bench_backtest.py
	$(PY) scripts/bench_optimize.py
	@# candle file formats (1,000,000 candles) and download throughput (docs/data.md)
	$(PY) scripts/bench_candle_formats.py
	$(PY) scripts/bench_download.py
	$(PY) scripts/bench_scaling.py
	$(PY) scripts/bench_soak.py

chaos: install
	$(PY) scripts/chaos.py --trials $${TRIALS:-300} --seed $${SEED:-1}

backtest: install
	$(PY) main.py backtest --engine spot --strategy sma_cross --param fast=20 --param slow=50 \
	  --symbol BTCUSDT --data data/backtest/binance_BTCUSDT_5m_2020-12-01_2021-07-17.csv.gz \
	  --report reports/example

# the strategy validation table in docs/strategies.md (issue 15)
strategy-table: install
	$(PY) scripts/strategy_table.py --jobs 2

# re-run the seeded walk-forward searches that chose the defaults (issue 15; ~30 min on
# one core; reports in reports/defaults); then set what they chose and run strategy-table
optimize-defaults: install
	$(PY) scripts/optimize_defaults.py

migrate: install
	$(PY) main.py migrate

status: install
	$(PY) main.py status

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
