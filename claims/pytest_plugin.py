"""pytest plugin linking checks to claims (a ``pytest11`` entry point of the installed package, and the
root ``conftest.py`` of a source checkout: both under the name ``claims.pytest_plugin``).

* ``@pytest.mark.claim("ar.query-first.exact")`` links a test to a registered claim; an unknown id
  stops the run at collection. ``role="control", breaks="..."`` marks a negative control: a test
  that breaks *this claim's own* construction, estimator or proof object (``breaks`` says what) and
  passes when the claim's checks catch the broken version. A claim holds only with at least one
  passing control; a control that does not pass makes the verdict ``inconclusive``, never ``fails``.
  A test of a verdict function on synthetic tables tests the judge, not the claim: it belongs in
  ``tests/``, not among a claim's controls. A control without ``breaks`` stops the run at collection.
* ``@pytest.mark.gpu`` -- needs CUDA; skipped cleanly without it.
* ``@pytest.mark.trains(order=N)`` -- trains networks (tens of seconds each): run first, lowest
  ``order`` first (default 9; the longest groups get the lowest; ``by_profile={"paper": M}`` overrides
  it for a profile), so that with pytest-xdist the long
  tests overlap instead of one of them finishing the run alone. xdist keeps this order when scopes
  are not re-sorted by their number of tests (``--no-loadscope-reorder``, set in pyproject.toml and by
  the report's runner): each worker then starts with one of the longest groups.
* ``--claims ID[,ID...]`` runs only the tests linked to these claims.
* ``--device cpu|cuda`` selects the device the ``device`` fixture returns.
* ``--suite-profile quick|paper|thorough|tiny`` (or ``SSM_SUITE_PROFILE``) selects sizes and the
  hypothesis profile; ``--suite-seed N`` makes every seeded draw (hypothesis included) depend on N.
* Fixtures: ``evidence`` (:class:`claims.evidence.Evidence`), ``device``, ``sizes``
  (:class:`checks.profiles.Sizes` of the active profile), ``suite_seed``.

Claims whose ``expected`` verdict is ``fails`` get ``xfail(strict=True)`` on their evidence tests,
so a run is green when the mathematics behaves as expected and red when it does not; the report
shows the verdict the run found either way.
"""

from __future__ import annotations

import os

import pytest
import torch

from .evidence import BREAKS_KEY, CLAIMS_KEY, Evidence
from .registry import load


def pytest_addoption(parser):
    group = parser.getgroup("claims", "SSM theory checks")
    group.addoption("--claims", action="append", default=[], help="only tests linked to these claim ids (comma-separated)")
    group.addoption("--device", default=os.environ.get("SSM_DEVICE", "cpu"), choices=["cpu", "cuda"], help="device for the checks")
    group.addoption(
        "--suite-profile",
        default=os.environ.get("SSM_SUITE_PROFILE", "quick"),
        help="sizes and hypothesis profile: tiny, quick (default), paper (quick with the paper-scale experiments), thorough",
    )
    group.addoption("--suite-seed", type=int, default=None, help="seed for every seeded draw (default: derandomized)")


def pytest_configure(config):
    config.addinivalue_line("markers", "claim(id, role='evidence', breaks=None): link a check to a registered claim; "
                            "a control (role='control') says what of the claim's own object it breaks")
    config.addinivalue_line("markers", "gpu: needs CUDA; skipped without it")
    config.addinivalue_line("markers", "trains: trains networks (long); scheduled before the other tests")
    from checks import profiles

    try:
        profiles.activate(config.getoption("--suite-profile"), config.getoption("--suite-seed"))
    except KeyError as err:
        raise pytest.UsageError(str(err.args[0])) from None
    worker = getattr(config, "workerinput", None)
    if worker is not None:  # an xdist worker: share the cores instead of oversubscribing them
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(worker.get("workercount", 1))))
    if config.getoption("--device") == "cuda" and not torch.cuda.is_available():
        raise pytest.UsageError("--device cuda was requested but CUDA is not available on this machine")


def _links(item) -> list[tuple[str, str]]:
    return [(claim_id, role) for claim_id, role, _ in _marks(item)]


def _marks(item) -> list[tuple[str, str, str | None]]:
    """``(claim id, role, breaks)`` of every claim mark of ``item``, each checked."""
    marks = []
    for mark in item.iter_markers("claim"):
        if len(mark.args) != 1:
            raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.claim takes exactly one claim id")
        role = mark.kwargs.get("role", "evidence")
        if role not in ("evidence", "control"):
            raise pytest.UsageError(f"{item.nodeid}: claim role must be 'evidence' or 'control', got {role!r}")
        breaks = mark.kwargs.get("breaks")
        if role == "control" and not (isinstance(breaks, str) and breaks.strip()):
            raise pytest.UsageError(
                f"{item.nodeid}: a control of {mark.args[0]!r} must say what of that claim's own construction, estimator "
                "or proof object it breaks: @pytest.mark.claim(id, role='control', breaks='...')")
        marks.append((mark.args[0], role, breaks))
    return marks


def pytest_collection_modifyitems(session, config, items):
    registry = load()
    wanted = {c.strip() for arg in config.getoption("--claims") for c in arg.split(",") if c.strip()}
    for claim_id in sorted(wanted) + [c for item in items for c, _ in _links(item)]:
        if claim_id not in registry:
            try:
                registry.get(claim_id)
            except Exception as err:  # UnknownClaimError, with close matches
                raise pytest.UsageError(str(err)) from None
    keep, drop = [], []
    cuda = torch.cuda.is_available()
    for item in items:
        marks = _marks(item)
        links = [(claim_id, role) for claim_id, role, _ in marks]
        item.user_properties.append((CLAIMS_KEY, [list(link) for link in links]))
        item.user_properties.append((BREAKS_KEY, {claim_id: breaks for claim_id, role, breaks in marks if role == "control"}))
        if wanted and not any(claim_id in wanted for claim_id, _ in links):
            drop.append(item)
            continue
        if item.get_closest_marker("gpu") and not cuda:
            item.add_marker(pytest.mark.skip(reason="needs CUDA"))
        if any(registry.get(c).expected == "fails" and role == "evidence" for c, role in links):
            item.add_marker(pytest.mark.xfail(strict=True, reason="the claim is expected to fail"))
        keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    # long tests first, lowest order first (a stable sort keeps the order within each part)
    items[:] = sorted(keep, key=_training_order)


def _training_order(item) -> tuple[bool, int]:
    """``trains(order=N)``, or ``trains(order=N, by_profile={"paper": M})`` where the profile changes which
    groups are longest (the paper profile's genomic run outlasts Fig. C.1's sweeps)."""
    mark = item.get_closest_marker("trains")
    if mark is None:
        return (True, 0)
    from checks import profiles

    return (False, mark.kwargs.get("by_profile", {}).get(profiles.current().name, mark.kwargs.get("order", 9)))


@pytest.fixture
def evidence(request) -> Evidence:
    """Record measured numbers for the claims this test is linked to."""
    return Evidence(request.node.user_properties)


@pytest.fixture
def device(request) -> torch.device:
    return torch.device(request.config.getoption("--device"))


@pytest.fixture
def sizes():
    from checks import profiles

    return profiles.current()


@pytest.fixture
def training_sandbox():
    """For tests that train tiny models: one torch thread (more only contend on shared cores) and
    the global RNG restored afterwards (model initialisation draws from it)."""
    from constructions.threads import one_thread

    state = torch.random.get_rng_state()
    with one_thread():
        yield
    torch.random.set_rng_state(state)


@pytest.fixture
def suite_seed(request) -> int:
    seed = request.config.getoption("--suite-seed")
    return 0 if seed is None else seed
