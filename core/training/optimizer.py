"""The fine-tuning optimizer of a pretrained encoder: Adam with the encoder on its own learning rate.

The encoder's variables (layer names starting with `encoder_`) take the schedule's learning rate
times `encoder_scale`, and none at all during the first `freeze_steps` steps (the decoder learns
on frozen ImageNet features first, so its random start does not wreck them). The factor is
computed from the step counter inside the update, so a resumed run continues on the same
schedule with no callback and no state of its own.
"""

from __future__ import annotations

import keras
from keras import ops

from core.model.pretrained.efficientnet_lite import PREFIX

ENCODER_PREFIX = f"{PREFIX}_"


@keras.saving.register_keras_serializable(package="petseg")
class EncoderScaledAdam(keras.optimizers.Adam):
    def __init__(self, *args, encoder_scale: float = 1.0, freeze_steps: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if encoder_scale < 0 or freeze_steps < 0:
            raise ValueError(f"encoder_scale and freeze_steps must be >= 0, got {encoder_scale}, {freeze_steps}")
        self.encoder_scale, self.freeze_steps = float(encoder_scale), int(freeze_steps)
        self._in_encoder: list[bool] = []

    def build(self, var_list) -> None:
        super().build(var_list)
        self._in_encoder = [variable.path.startswith(ENCODER_PREFIX) for variable in var_list]

    def encoder_factor(self):
        """The encoder's learning-rate factor at the current step: 0 while frozen, then `encoder_scale`."""
        frozen = ops.less(self.iterations, self.freeze_steps)
        return ops.where(frozen, 0.0, self.encoder_scale)

    def update_step(self, gradient, variable, learning_rate):
        if self._in_encoder[self._get_variable_index(variable)]:
            learning_rate = ops.cast(learning_rate, variable.dtype) * ops.cast(self.encoder_factor(), variable.dtype)
        return super().update_step(gradient, variable, learning_rate)

    def _apply_weight_decay(self, variables) -> None:
        """Keras' decoupled weight decay, on the encoder's learning rate for the encoder's variables
        (Keras applies it at the global rate, which would move a frozen encoder)."""
        if self.weight_decay is None:
            return
        for variable in variables:
            if self._use_weight_decay(variable):
                rate = ops.cast(self.learning_rate, variable.dtype) * ops.cast(self.weight_decay, variable.dtype)
                if variable.path.startswith(ENCODER_PREFIX):
                    rate = rate * ops.cast(self.encoder_factor(), variable.dtype)
                variable.assign(variable - variable * rate)

    def get_config(self) -> dict:
        return {**super().get_config(), "encoder_scale": self.encoder_scale, "freeze_steps": self.freeze_steps}
