"""modelreg's benchmark: `python -m bench run|load|scale` (see bench/README.md)."""
