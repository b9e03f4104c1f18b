from tests.cli.conftest import compose_config, data_overrides, idx_dir, user_files  # noqa: F401  (shared fixtures)
