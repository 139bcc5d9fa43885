"""Rendering results as charts and self-contained HTML pages."""
