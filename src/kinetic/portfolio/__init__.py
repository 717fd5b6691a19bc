"""Portfolio accounting: positions, PnL, fees, equity."""
