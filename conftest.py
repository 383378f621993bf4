"""Root conftest: loads the claims plugin (markers, evidence, profiles, device) for every run."""

pytest_plugins = ["claims.pytest_plugin"]
