"""SIMULATED operations for the demo (labelled 模拟 everywhere) and the demo city itself."""
