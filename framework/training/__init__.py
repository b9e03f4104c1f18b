"""Training: the Trainer, its lifecycle hooks, callbacks, schedules and checkpoints."""
