"""Lineage: typed edges between notebooks, cells, runs, data versions, models and endpoints."""
