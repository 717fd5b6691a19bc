"""Backtester: the daemon's engine core driven bar by bar over recorded candles.

Public API (import from the modules; this package stays import-light because
``main.py`` builds the ``backtest`` parser for every command):

* ``kinetic.backtest.options.BacktestOptions`` — what to run;
* ``kinetic.backtest.runner.BacktestRunner(config, options).run()`` -> ``BacktestResult``;
* ``kinetic.backtest.report.write_report(result, folder)`` / ``summary(result)``;
* ``kinetic.backtest.cli`` — ``python main.py backtest``. See docs/backtesting.md.
"""
