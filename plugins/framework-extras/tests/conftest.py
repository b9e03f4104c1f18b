import pytest
from framework.plugins import DISABLE_AUTOLOAD_ENV, DISABLE_PLUGINS_ENV


@pytest.fixture(autouse=True)
def _plugin_environment(monkeypatch):
    """Tests see installed plugins, whatever the calling shell disabled."""
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
    monkeypatch.delenv(DISABLE_PLUGINS_ENV, raising=False)
