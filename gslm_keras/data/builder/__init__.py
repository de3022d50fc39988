"""Building a dataset: config, sources, labels, splits, de-duplication, shard writing
and the manifest."""
