"""Slide figures of the distillation half of the lecture (cd); filled in by the distillation work."""
