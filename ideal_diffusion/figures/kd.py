"""Slide figures of the distillation half of the lecture (kd); filled in by the distillation work."""
