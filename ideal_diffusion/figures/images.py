"""Slide figures of the distillation half of the lecture (images); filled in by the distillation work."""
