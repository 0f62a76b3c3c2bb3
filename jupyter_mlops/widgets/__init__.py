"""Widgets: notebook front-ends built with ipywidgets (pipeline progress; dashboards come with the reviewer UI)."""
