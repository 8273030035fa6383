"""The command-line layer, the top floor: console scripts that wire configuration, backends and services.

``inventory-scan`` (``scan.py``) is the posture gate. Nothing inside the package imports from here.
"""
