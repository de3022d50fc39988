"""Step accounting of a run: epochs, segments between backups, total steps."""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass
class Plan:
  """Step accounting of one run.

  `fit` runs in segments of `segment_steps` optimizer steps (Keras "epochs"), so
  that a backup is written mid-epoch; an epoch is a whole number of segments.

  Attributes:
    replicas: replicas in sync.
    steps_per_epoch: optimizer steps per epoch (a multiple of segment_steps).
    segment_steps: steps between backups (one Keras "epoch" of fit).
    segments_per_epoch: segments in an epoch.
    total_steps: steps of the whole run.
  """

  replicas: int
  steps_per_epoch: int
  segment_steps: int
  segments_per_epoch: int
  total_steps: int

  @property
  def total_segments(self) -> int:
    return self.total_steps // self.segment_steps


def make_plan(n_train: int, batch_size: int, epochs: int, replicas: int,
              steps_per_epoch: int | None = None,
              checkpoint_every: int | None = None) -> Plan:
  """The plan for `epochs` over `n_train` records in global batches.

  Args:
    n_train: training records.
    batch_size: global batch size.
    epochs: passes over the data.
    replicas: replicas in sync.
    steps_per_epoch: fixed steps per epoch, else ceil(n_train / batch_size).
    checkpoint_every: steps between backups, at most (one epoch when None).
  """
  steps_per_epoch = steps_per_epoch or max(1, math.ceil(n_train / batch_size))
  checkpoint_every = min(checkpoint_every or steps_per_epoch, steps_per_epoch)
  segments_per_epoch = math.ceil(steps_per_epoch / checkpoint_every)
  segment_steps = math.ceil(steps_per_epoch / segments_per_epoch)
  steps_per_epoch = segment_steps * segments_per_epoch
  return Plan(replicas, steps_per_epoch, segment_steps, segments_per_epoch,
              steps_per_epoch * epochs)
