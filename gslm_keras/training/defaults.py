"""The one training recipe: `train`'s flag defaults, `OptimConfig`'s defaults and
models/default.flags are this (tests/test_training.py holds them equal).

Plain values, no imports: the entry point reads them before TensorFlow loads.
"""

RECIPE = {
    "epochs": 20,
    "optimizer": "adamw",
    "learning_rate": 2e-3,
    "lr_schedule": "cosine",
    "warmup_steps": 50,
    "weight_decay": 1e-4,
    "clipnorm": 1.0,
    "early_stopping_patience": 6,
}
