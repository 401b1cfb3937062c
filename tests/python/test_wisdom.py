"""Wisdom export/import round trip; a bad import changes nothing."""

import pytest

import gnk


@pytest.fixture
def wisdom_file(tmp_path):
    gnk.measure((1, 32, 8, 8), 8, "nchw", "silu")
    gnk.measure((2, 5, 16), 4, "nhwc", None)
    assert gnk.wisdom_size() >= 1
    path = tmp_path / "before.wisdom"
    gnk.export_wisdom(path)
    return path


def test_round_trip(wisdom_file, tmp_path):
    size = gnk.wisdom_size()
    gnk.import_wisdom(wisdom_file)
    assert gnk.wisdom_size() == size
    again = tmp_path / "again.wisdom"
    gnk.export_wisdom(str(again))
    assert again.read_bytes() == wisdom_file.read_bytes()


def test_import_into_empty_wisdom(wisdom_file, tmp_path):
    gnk.forget_wisdom()
    assert gnk.wisdom_size() == 0
    gnk.import_wisdom(wisdom_file)
    after = tmp_path / "after.wisdom"
    gnk.export_wisdom(after)
    assert after.read_bytes() == wisdom_file.read_bytes()


@pytest.mark.parametrize("content", [
    b"this is not wisdom\n\x00\xff\xfe garbage",
    b"",
    "truncate",
    "flip",
])
def test_garbage_import_rejected_and_harmless(wisdom_file, tmp_path, content):
    good = wisdom_file.read_bytes()
    if content == "truncate":
        content = good[: len(good) // 2]
    elif content == "flip":
        i = len(good) * 2 // 3
        content = good[:i] + bytes([good[i] ^ 0x01]) + good[i + 1:]
    bad = tmp_path / "bad.wisdom"
    bad.write_bytes(content)
    with pytest.raises(gnk.GnkError) as info:
        gnk.import_wisdom(bad)
    assert info.value.status and str(info.value)
    after = tmp_path / "after.wisdom"
    gnk.export_wisdom(after)
    assert after.read_bytes() == good


def test_missing_file(wisdom_file, tmp_path):
    with pytest.raises(gnk.GnkError) as info:
        gnk.import_wisdom(tmp_path / "does-not-exist.wisdom")
    assert info.value.code == gnk.Status.ERR_WISDOM_IO
    after = tmp_path / "after.wisdom"
    gnk.export_wisdom(after)
    assert after.read_bytes() == wisdom_file.read_bytes()


def test_export_to_unwritable_path(tmp_path):
    with pytest.raises(gnk.GnkError):
        gnk.export_wisdom(tmp_path / "no-such-dir" / "w.wisdom")
