"""Vulnerability reports per image digest (issue 18): parse, validate, store; joined to containers by digest.

Layering: this package uses the history database models and the settings only; views and services use it.
"""
