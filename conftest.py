"""Root conftest: loads the claims plugin (markers, evidence, profiles, device) for every run in a
source checkout, installed or not. An installed package (editable too) registers the same module
through its ``pytest11`` entry point under the same name, ``claims.pytest_plugin``, so pytest sees it
registered and skips this line: no double registration (tests/test_packaging.py runs both ways)."""

pytest_plugins = ["claims.pytest_plugin"]
