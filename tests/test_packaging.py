"""The suite as an installed package (issue 15, §5): the wheel holds every package the report runs and
registers the claims plugin as a ``pytest11`` entry point; the plugin is registered once whichever
way it comes (entry point, the checkout's ``conftest.py``, the runner's ``-p``); an unpacked wheel
runs a report from another folder and writes it there.

The wheel is built from a copy of the working tree (``pip wheel --no-deps --no-build-isolation``: no
network, a few seconds). An unpacked wheel on ``PYTHONPATH`` is the installed layout: the same files
and the same ``*.dist-info`` (entry points included) that ``pip install`` puts in site-packages.
``.ci/run`` installs the wheel into a fresh virtual environment for real and runs the tiny report.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from reports import environment, locations

REPO_ROOT = Path(__file__).resolve().parent.parent
DIST = "ssm-token-selection-checks"
PLUGIN = "claims.pytest_plugin"
#: the folders of a checkout that are not part of the package (and the build's own by-products)
NOT_SHIPPED = ("tests", "benchmarks", "examples", ".git", ".venv", ".ci", "build", "*.egg-info", "__pycache__",
               ".hypothesis", ".pytest_cache", "out")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SSM_")) and k != "PYTHONPATH"}
    return {**env, "PYTHONDONTWRITEBYTECODE": "1", **extra}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools", minversion="70.1")  # bdist_wheel built in: no 'wheel' package needed
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                           "-w", str(work / "dist"), str(source)], env=clean_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (built,) = (work / "dist").glob("*.whl")
    return built


@pytest.fixture(scope="module")
def site(wheel, tmp_path_factory) -> Path:
    """The wheel unpacked: what ``pip install`` puts in site-packages for a pure-Python wheel (in a
    folder of that name: hypothesis, for one, treats code under it as installed, not local)."""
    folder = tmp_path_factory.mktemp("install") / "site-packages"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(folder)
    return folder


def entry_points(wheel: Path) -> configparser.ConfigParser:
    with zipfile.ZipFile(wheel) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")]
        parser = configparser.ConfigParser(delimiters=("=",))
        parser.optionxform = str  # entry point names are case-sensitive
        parser.read_string(z.read(name).decode())
    return parser


# ----------------------------------------------------------------------------- the wheel's contents
def test_the_wheel_registers_the_claims_plugin_as_a_pytest11_entry_point_under_its_module_name(wheel):
    assert dict(entry_points(wheel)["pytest11"]) == {PLUGIN: PLUGIN}


def test_the_wheel_holds_every_module_of_every_package_of_the_checkout(wheel):
    packages = sorted(p.name for p in REPO_ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests")
    assert {"checks", "claims", "constructions", "reports", "training"} <= set(packages)
    expected = {str(f.relative_to(REPO_ROOT)) for name in packages for f in (REPO_ROOT / name).rglob("*.py")
                if "__pycache__" not in f.parts}
    with zipfile.ZipFile(wheel) as z:
        shipped = set(z.namelist())
    assert expected - shipped == set()
    assert "checks/test_ssm_model.py" in shipped and "claims/pytest_plugin.py" in shipped
    assert "training/genomic/jaspar_motifs.json" in shipped  # package data: the genomic task's JASPAR matrices


def test_the_wheel_ships_no_conftest_tests_or_project_file_into_site_packages(wheel):
    """A top-level conftest.py would be picked up by pytest runs in site-packages, a pyproject.toml
    would make the installed package look like a source checkout (reports/locations.py)."""
    with zipfile.ZipFile(wheel) as z:
        top = {name.split("/", 1)[0] for name in z.namelist()}
    dist_info = {name for name in top if name.startswith(DIST.replace("-", "_") + "-") and name.endswith(".dist-info")}
    assert len(dist_info) == 1
    assert top - dist_info == {"checks", "claims", "constructions", "reports", "training"}


# ----------------------------------------------------------------------------- one registration, any way
PROBE = """
import json, sys
import pytest

class Probe:
    def pytest_configure(self, config):
        pm = config.pluginmanager
        plugin = sys.modules.get("claims.pytest_plugin")
        self.seen = {
            "name": pm.get_name(plugin) if plugin is not None and pm.is_registered(plugin) else None,
            "entry_point_of": [dist.project_name for p, dist in pm.list_plugin_distinfo() if p is plugin],
            "conftest_loaded": any(str(getattr(p, "__file__", "")).endswith("conftest.py") for p in pm.get_plugins()),
            "plugin_file": getattr(plugin, "__file__", None),
        }

probe = Probe()
probe.seen = {}
try:
    code = int(pytest.main(sys.argv[1:], plugins=[probe]))
except Exception as err:  # a plugin registered twice raises out of pytest's set-up
    code, probe.seen = -1, {"error": f"{type(err).__name__}: {err}"}
print("PROBE " + json.dumps({"exit": code, **probe.seen}))
"""


def probe(args: list[str], cwd: Path, **env: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args, "--collect-only", "-q", "-p", "no:cacheprovider"],
                          cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("PROBE ")]
    assert lines, proc.stdout[-2000:] + proc.stderr[-2000:]
    return {**json.loads(lines[-1][len("PROBE "):]), "output": proc.stdout[-2000:] + proc.stderr[-2000:]}


CHECK = ["checks/test_shift_delays.py", "--suite-profile", "tiny", "-o", "addopts="]


def test_a_checkout_without_the_entry_point_registers_the_plugin_through_its_conftest():
    seen = probe(CHECK, REPO_ROOT, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    assert seen["exit"] == 0, seen["output"]
    assert (seen["name"], seen["entry_point_of"], seen["conftest_loaded"]) == (PLUGIN, [], True)


def test_a_checkout_with_the_entry_point_installed_registers_the_plugin_once(wheel, tmp_path):
    """The entry point registers the module first; the conftest's ``pytest_plugins`` then finds the
    name registered and does nothing (pytest would raise on a second registration)."""
    with zipfile.ZipFile(wheel) as z:
        z.extractall(tmp_path, [n for n in z.namelist() if ".dist-info/" in n])  # the entry point, not the code
    seen = probe(CHECK, REPO_ROOT, PYTHONPATH=str(tmp_path))
    assert seen["exit"] == 0, seen["output"]
    assert (seen["name"], seen["entry_point_of"], seen["conftest_loaded"]) == (PLUGIN, [DIST], True)
    assert Path(seen["plugin_file"]).resolve() == REPO_ROOT / "claims" / "pytest_plugin.py"


def test_an_entry_point_under_another_name_would_register_the_plugin_twice(tmp_path):
    """Why the entry point is named by the module path: under any other name the checkout's conftest
    registers the module a second time and pytest stops."""
    dist_info = tmp_path / "other_name-0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: other-name\nVersion: 0\n")
    (dist_info / "entry_points.txt").write_text(f"[pytest11]\nssm-claims = {PLUGIN}\n")
    seen = probe(CHECK, REPO_ROOT, PYTHONPATH=str(tmp_path))
    assert seen["exit"] != 0
    assert "already registered" in seen.get("error", "") + seen["output"]


def test_an_installed_package_is_collected_by_plain_pytest_from_another_folder(site, tmp_path):
    seen = probe(["--pyargs", "checks.test_shift_delays", "--suite-profile", "tiny"], tmp_path, PYTHONPATH=str(site))
    assert seen["exit"] == 0, seen["output"]
    assert (seen["name"], seen["entry_point_of"], seen["conftest_loaded"]) == (PLUGIN, [DIST], False)
    assert Path(seen["plugin_file"]).is_relative_to(site)
    assert "2 tests collected" in seen["output"]


# ----------------------------------------------------------------------------- the report, installed
def test_an_installed_package_runs_a_report_from_another_folder_and_writes_it_there(site, tmp_path):
    where = subprocess.run([sys.executable, "-c", "from reports import locations as l; print(l.ROOT, l.SOURCE_CHECKOUT)"],
                           cwd=tmp_path, env=clean_env(PYTHONPATH=str(site)), capture_output=True, text=True, timeout=60)
    assert where.stdout.split() == [str(site.resolve()), "False"], where.stderr
    before = sorted(p for p in site.rglob("*"))
    proc = subprocess.run([sys.executable, "-m", "reports", "--profile", "tiny", "--claims", "model.shift-kernel",
                           "--workers", "0", "--quiet"], cwd=tmp_path, env=clean_env(PYTHONPATH=str(site)),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    document = json.loads((tmp_path / "reports-out" / "claims.json").read_text(encoding="utf-8"))
    (record,) = document["claims"]
    assert record["verdict"] == "holds", record["reason"]
    assert {t["test"].split("::")[0] for t in record["tests"]} == {"checks/test_ssm_model.py"}
    assert document["run"]["environment"]["git_commit"] is None
    assert document["run"]["environment"]["packages"][DIST] == "0.1.0"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports-out"]  # nothing else in the current folder
    assert sorted(p for p in site.rglob("*")) == before  # nothing written into site-packages


# ----------------------------------------------------------------------------- locations, provenance
def test_a_checkout_writes_its_report_to_reports_out_in_the_checkout():
    assert locations.SOURCE_CHECKOUT and locations.ROOT == REPO_ROOT
    assert locations.DEFAULT_OUT == REPO_ROOT / "reports" / "out"


def test_a_commit_is_recorded_only_for_the_top_of_a_git_work_tree(tmp_path):
    """A virtual environment inside some repository must not lend that repository's commit to the
    installed package."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    (tmp_path / "venv" / "site-packages").mkdir(parents=True)
    assert len(environment.git_commit(tmp_path)) == 40
    assert environment.git_commit(tmp_path / "venv" / "site-packages") is None


def test_a_checks_package_of_another_project_in_the_current_folder_is_refused_by_name(tmp_path):
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "__init__.py").write_text("")
    proc = subprocess.run([sys.executable, "-c", "import reports.locations"], cwd=tmp_path,
                          env=clean_env(PYTHONPATH=str(REPO_ROOT)), capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert f"the 'checks' package was imported from {(tmp_path / 'checks').resolve()}" in proc.stderr
