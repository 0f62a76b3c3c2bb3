"""Pipelines: notebooks run headless with papermill as tracked, cached, audited stages of a DAG."""
