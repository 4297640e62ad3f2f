"""Benchmark and report tools (framework-free; each model's bench runs in its own process)."""
