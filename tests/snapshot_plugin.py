"""Load snapshottest's pytest plugin on every Python we support, and make it strict.

snapshottest 0.6 imports ``imp``, which Python 3.12 removed; it uses only ``imp.load_source``,
which we provide on top of importlib before importing it. And where snapshottest would quietly
write a missing snapshot and pass, we fail unless ``--snapshot-update`` was given, so a CI run
can never "pass" by writing a snapshot nobody reviewed.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types

import pytest


def _load_source(name: str, pathname: str) -> types.ModuleType:
    loader = importlib.machinery.SourceFileLoader(name, pathname)
    spec = importlib.util.spec_from_file_location(name, pathname, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


if "imp" not in sys.modules:
    # The same shim on every Python, so 3.11 and 3.12+ run the same code path.
    sys.modules["imp"] = types.ModuleType("imp")
    sys.modules["imp"].load_source = _load_source  # type: ignore[attr-defined]

import snapshottest.pytest as _snapshottest_pytest  # noqa: E402
from snapshottest.error import SnapshotNotFound  # noqa: E402

# Re-export snapshottest's hooks so pytest registers them from this plugin.
pytest_addoption = _snapshottest_pytest.pytest_addoption
pytest_assertrepr_compare = _snapshottest_pytest.pytest_assertrepr_compare
pytest_terminal_summary = _snapshottest_pytest.pytest_terminal_summary


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Set up snapshottest's session (its own hook uses a mark that pytest 10 drops)."""
    _snapshottest_pytest.pytest_configure(config)


#: Parameter ids of the `stack` fixture (tests/conftest.py): both GraphQL stacks (and
#: Strawberry's async view and Channels consumer) must match one snapshot, so the stack is
#: left out of its name.
STACK_IDS = {"graphene", "strawberry", "strawberry-async", "strawberry-channels"}


def _without_stack(name: str) -> str:
    base, bracket, params = name.partition("[")
    if not bracket:
        return name
    # "strawberry-async" holds the separator of the ids: take it out before splitting them.
    ids = params[:-1].replace("strawberry-async", "strawberry")
    ids = ids.replace("strawberry-channels", "strawberry")
    kept = [part for part in ids.split("-") if part not in STACK_IDS]
    return f"{base}[{'-'.join(kept)}]" if kept else base


class StrictSnapshotTest(_snapshottest_pytest.PyTestSnapshotTest):
    """A snapshot that must already exist unless --snapshot-update was given."""

    @property
    def test_name(self) -> str:
        """snapshottest's name for the current snapshot, the same on both GraphQL stacks."""
        name: str = super().test_name
        test, _, counter = name.rpartition(" ")
        return f"{_without_stack(test)} {counter}"

    def assert_match(self, value: object, name: str = "") -> None:
        if not self.update:
            self.curr_snapshot = name or self.snapshot_counter
            key = self.test_name
            try:
                self.module[key]
            except SnapshotNotFound:
                pytest.fail(
                    f"Snapshot {key!r} is missing from {self.module.filepath}. Run pytest with "
                    "--snapshot-update, then review and commit the written file.",
                    pytrace=False,
                )
        super().assert_match(value, name)


@pytest.fixture
def snapshot(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """snapshottest's fixture, strict about missing snapshots."""
    with StrictSnapshotTest(request) as snapshot_test:
        yield snapshot_test
