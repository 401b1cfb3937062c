import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gnk  # noqa: E402
from gnk import _lib  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _library():
    """Fail (never skip) every test with a clear message when libgnk is missing."""
    path = gnk.library_path()
    if not path.exists():
        pytest.fail(f"libgnk not found at {path}: run `make` in {ROOT} first "
                    "(or set GNK_LIBRARY)", pytrace=False)
    return _lib.lib()
