"""modelreg: a model registry that speaks the Kubeflow Model Registry REST API."""

__version__ = "0.1.0"
