"""Benchmark of the agent console (placeholder docstring, completed below)."""
