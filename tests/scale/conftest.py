"""Fixtures for the scale-out tests; each kind of infrastructure lives in a module of its own."""

from tests.scale.postgres import postgres, team_server  # noqa: F401 - fixtures
