"""Executors: where pipeline stages and sweep runs execute, a local process pool or a Dask cluster."""
