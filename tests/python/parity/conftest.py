"""Parity tests: gnk's framework presets against the real frameworks.

A framework that fails to import is a LOUD skip: the test is skipped with the import
error's text, the text is printed at once, and the session's summary lists every such
framework again. Nothing passes silently in its absence.
"""
import os
import sys
from pathlib import Path

# Before any framework import: Keras 3 on JAX, everything on the CPU, TF quiet.
os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gnk  # noqa: E402
from gnk import _lib  # noqa: E402

import parity_util  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _library():
    path = gnk.library_path()
    if not path.exists():
        pytest.fail(f"libgnk not found at {path}: run `make lib` in {ROOT} first "
                    "(or set GNK_LIBRARY)", pytrace=False)
    return _lib.lib()


def pytest_terminal_summary(terminalreporter):
    if parity_util.IMPORT_FAILURES:
        terminalreporter.section("PARITY: FRAMEWORKS NOT TESTED", sep="!", red=True, bold=True)
        for name, why in sorted(parity_util.IMPORT_FAILURES.items()):
            terminalreporter.write_line(f"SKIPPED {name}: {why}", red=True, bold=True)
    versions = parity_util.VERSIONS
    if versions:
        terminalreporter.section("parity: framework versions compared against")
        for name, v in sorted(versions.items()):
            terminalreporter.write_line(f"{name} {v}")
