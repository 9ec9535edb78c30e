"""Jinja2 templates for everything people read."""
