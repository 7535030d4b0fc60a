"""The training stage: resumable runs, checkpoints, distribution, distillation, the optimizer, history files."""
