from tests.cli.conftest import compose_config  # noqa: F401  (shared fixture)
from tests.plugins.conftest import _plugin_environment  # noqa: F401  (autoload on, nothing blocked)
