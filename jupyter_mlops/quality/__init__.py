"""Data quality checks: YAML or pandera rules, lazy validation, stored and audited reports.

``ws.quality`` (:class:`~jupyter_mlops.quality.service.QualityService`) is the entry point;
``mlops.check_data`` delegates to it. The rules format is documented in
:mod:`jupyter_mlops.quality.rules`.
"""
