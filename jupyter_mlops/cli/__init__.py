"""The ``jupyter-mlops`` command line; its command table is shared with the ``%mlops`` magic."""
