"""Training: nested configuration, the recipe (optimizer, schedule, losses), the
step plan, strategies, callbacks, the fit path and the multi-worker loop."""
