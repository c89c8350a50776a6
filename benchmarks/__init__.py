"""The GLUE reproduction study and its sensitivity check, run from the
repository root as `python -m benchmarks.<driver>`."""
