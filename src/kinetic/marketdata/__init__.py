"""Market data: candle files, the rolling CandleStore and feeds (closed candles only)."""
