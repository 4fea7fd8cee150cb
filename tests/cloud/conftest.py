"""Fixtures of the cloud tests: the app on either back-end (`cloud_app_any`) is in
tests/conftest.py, shared with the terminal's tests that need the real cloud on both."""
