"""Helpers the tests share: building sites (`site`), reading built pages (`reading`), the
browser (`browser`). Fixtures live in conftest.py; helpers live here, imported by name."""
