"""Fine-tuning schedules of the trunk: frozen for the first steps, then slower.

`--freeze_trunk_steps=N` keeps the weights of the `sequence_backbone` where
`--init_from` put them for the first N optimizer steps (the new head and feature
branch learn first); after that the trunk learns at `--trunk_learning_rate_multiplier`
times the schedule's rate.

Why an optimizer and not `layer.trainable` or gradient scaling:
- Adam and AdamW divide by the running gradient scale, so multiplying a gradient
  by 0.1 barely changes the step; the multiplier must scale the learning rate of
  those variables.
- AdamW's decoupled weight decay shrinks every decayed variable by `lr * wd`
  whatever its gradient; a "frozen" trunk would drift. Here the trunk's decay
  uses the trunk's rate (0 while frozen).
- Toggling `trainable` mid-run recompiles, changes the optimizer's variable list
  and so what a backup holds; a run killed after the boundary could not resume.
  Here the schedule depends only on `optimizer.iterations`, which backups hold:
  a run resumes to the same weights on either side of the boundary.

What still moves while the trunk is frozen: its batch-normalisation statistics
(they follow the new task's data, as they would after unfreezing), and Adam's
moment estimates of its gradients (so the first unfrozen steps are not taken
with empty moments).
"""

from __future__ import annotations

import keras
from keras import ops

OPTIONS = ("trunk_paths", "freeze_steps", "trunk_multiplier")


class TrunkRateMixin:
  """Scales the learning rate (and weight decay) of the trunk's variables."""

  def __init__(self, *args, trunk_paths=(), freeze_steps: int = 0,
               trunk_multiplier: float = 1.0, **kwargs):
    super().__init__(*args, **kwargs)
    self.trunk_paths = tuple(trunk_paths)
    self.freeze_steps = int(freeze_steps)
    self.trunk_multiplier = float(trunk_multiplier)
    self._trunk = []

  def build(self, variables):
    super().build(variables)
    paths = set(self.trunk_paths)
    self._trunk = [v.path in paths for v in variables]

  def _is_trunk(self, variable) -> bool:
    return bool(self._trunk) and self._trunk[self._get_variable_index(variable)]

  def trunk_factor(self, dtype):
    """0 before `freeze_steps` steps, `trunk_multiplier` after."""
    frozen = ops.less(self.iterations, self.freeze_steps)
    return ops.cast(ops.where(frozen, 0.0, self.trunk_multiplier), dtype)

  def _use_weight_decay(self, variable):
    # The trunk's decay is applied in update_step, at the trunk's rate.
    return not self._is_trunk(variable) and super()._use_weight_decay(variable)

  def update_step(self, gradient, variable, learning_rate):
    if not self._is_trunk(variable):
      return super().update_step(gradient, variable, learning_rate)
    rate = ops.cast(learning_rate, variable.dtype) * self.trunk_factor(variable.dtype)
    decay = getattr(self, "weight_decay", None)
    if decay and super()._use_weight_decay(variable):
      variable.assign(variable - variable * ops.cast(decay, variable.dtype) * rate)
    return super().update_step(gradient, variable, rate)

  def get_config(self):
    config = super().get_config()
    config.update(trunk_paths=list(self.trunk_paths), freeze_steps=self.freeze_steps,
                  trunk_multiplier=self.trunk_multiplier)
    return config


@keras.saving.register_keras_serializable(package="gslm_keras")
class TrunkRateAdam(TrunkRateMixin, keras.optimizers.Adam):
  """Adam with the trunk's rate scheduled (see the module docstring)."""


@keras.saving.register_keras_serializable(package="gslm_keras")
class TrunkRateAdamW(TrunkRateMixin, keras.optimizers.AdamW):
  """AdamW with the trunk's rate and decay scheduled."""


@keras.saving.register_keras_serializable(package="gslm_keras")
class TrunkRateSGD(TrunkRateMixin, keras.optimizers.SGD):
  """SGD (momentum) with the trunk's rate scheduled."""


CLASSES = {"adam": TrunkRateAdam, "adamw": TrunkRateAdamW, "sgd": TrunkRateSGD}
