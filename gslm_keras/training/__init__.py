"""Training: configuration, strategies, callbacks, the fit path and the
multi-worker custom loop."""
