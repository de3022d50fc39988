"""Datasets: readers, builder, manifest, shards and the tf.data pipeline."""
