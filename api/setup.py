"""Legacy shim so `pip install --no-use-pep517 -e api` (setup.py develop) works without the wheel package."""

from setuptools import setup

setup()
