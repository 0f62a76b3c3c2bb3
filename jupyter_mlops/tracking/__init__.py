"""Experiment tracking: runs in MLflow, their provenance in the metadata database."""
