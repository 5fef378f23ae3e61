"""Settings: CLOUDREC_* environment variables, the TOML config file, the generated signing key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from cloudrec.config import Settings


def test_defaults_are_the_embedded_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.port == 28000
    assert s.db_url == f"sqlite:///{(tmp_path / 'cloudrec-data' / 'cloudrec.db').resolve()}"
    assert "file" not in s.allowed_url_schemes


def test_environment_and_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "cloudrec.toml"
    config.write_text('port = 29000\nmax_recordings = 7\nallowed_url_schemes = ["rtmp"]\n')
    monkeypatch.setenv("CLOUDREC_CONFIG", str(config))
    monkeypatch.setenv("CLOUDREC_MAX_RECORDINGS", "9")  # the environment wins over the file
    monkeypatch.setenv("CLOUDREC_ALLOWED_URL_SCHEMES", "rtmp, HTTP")
    s = Settings()
    assert (s.port, s.max_recordings, s.allowed_url_schemes) == (29000, 9, ["rtmp", "http"])


def test_out_of_range_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDREC_PORT", "0")
    with pytest.raises(ValidationError, match="port"):
        Settings()


def test_signing_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "d").prepare()
    key = first.signing_key.get_secret_value()
    assert len(key) == 64
    key_file = tmp_path / "d" / "signing.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert Settings(data_dir=tmp_path / "d").prepare().signing_key.get_secret_value() == key
    assert Settings(data_dir=tmp_path / "other").prepare().signing_key.get_secret_value() != key
    assert key not in repr(first)  # a secret never shows in logs or reprs


def test_secrets_key_is_generated_once_private_and_checked(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "d").prepare()
    key = first.secrets_key.get_secret_value()
    assert len(key) == 64 and key != first.signing_key.get_secret_value()
    assert stat.S_IMODE((tmp_path / "d" / "secrets.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o700
    assert Settings(data_dir=tmp_path / "d").prepare().secrets_key.get_secret_value() == key
    assert key not in repr(first)
    given = "ab" * 32
    assert Settings(data_dir=tmp_path / "e", secrets_key=given).prepare().secret_box is not None
    assert not (tmp_path / "e" / "secrets.key").exists()  # a configured key is not written anywhere
    with pytest.raises(ValueError, match="64 hex digits"):
        Settings(data_dir=tmp_path / "f", secrets_key="not hex").prepare()
    with pytest.raises(RuntimeError, match="prepare"):
        Settings(data_dir=tmp_path / "g").secret_box  # noqa: B018


def test_schemes_as_a_json_array(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDREC_ALLOWED_URL_SCHEMES", '["RTSP", "srt"]')
    assert Settings().allowed_url_schemes == ["rtsp", "srt"]


def test_compat_profile_and_cors_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings().compat, Settings().cors_origins) == ("default", [])
    monkeypatch.setenv("CLOUDREC_COMPAT", "hst")
    monkeypatch.setenv("CLOUDREC_CORS_ORIGINS", "https://a.example.com/, http://127.0.0.1:8080")
    s = Settings()
    assert (s.compat, s.cors_origins) == ("hst", ["https://a.example.com", "http://127.0.0.1:8080"])
    monkeypatch.setenv("CLOUDREC_CORS_ORIGINS", '["https://b.example.com"]')
    assert Settings().cors_origins == ["https://b.example.com"]
    monkeypatch.setenv("CLOUDREC_COMPAT", "vendor")
    with pytest.raises(ValidationError, match="compat"):
        Settings()
