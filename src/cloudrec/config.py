"""All settings of cloudrec in one pydantic-settings class (`CLOUDREC_*` env vars, optional TOML file)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

SIGNING_KEY_FILE = "signing.key"


class Settings(BaseSettings):
    """Every knob of the server. Env vars are `CLOUDREC_<FIELD>`; `CLOUDREC_CONFIG` names a TOML file."""

    model_config = SettingsConfigDict(env_prefix="CLOUDREC_", extra="ignore")

    data_dir: Path = Field(Path("cloudrec-data"), description="where the database, work files and files live")
    database_url: str = Field("", description="SQLAlchemy URL; default a SQLite file in data_dir")
    host: str = Field("0.0.0.0", description="listen address")
    port: int = Field(28000, ge=1, le=65535, description="listen port")
    public_url: str = Field("", description="base URL of download links; default http://<host>:<port>")
    timezone: str = Field("UTC", description="time zone of times in replies")

    token_ttl_s: int = Field(86400, ge=1, description="default lifetime of developer tokens (TokenGenerator)")
    access_token_ttl_s: int = Field(86400, ge=1, description="lifetime of access_tokens")
    download_url_ttl_s: int = Field(3600, ge=1, description="lifetime of signed download URLs")
    signing_key: SecretStr = Field(
        SecretStr(""), description="key for download URL signatures; generated into data_dir on first start"
    )

    allowed_url_schemes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["rtmp", "rtmps", "rtsp", "http", "https", "srt"],
        description="stream URL schemes accepted by group/stream/publish",
    )
    max_recordings: int = Field(4, ge=0, description="concurrent recordings this host carries")
    min_free_disk_mb: int = Field(512, ge=0, description="init refuses (6050030008) below this free space")
    time_unit_s: float = Field(
        60.0, gt=0, description="seconds in a 'minute' of file_duration; tests make it short"
    )
    timeout_scale: float = Field(1.0, gt=0, description="factor on the `timeout` seconds of init (tests)")

    x264_preset: str = "veryfast"
    x264_crf: int = Field(23, ge=0, le=51)
    variable_frame_rate: bool = Field(
        False,
        description="opt-in: a picture that did not change is not encoded again (still at least 15 frames "
        "a second); files then have a variable frame rate. Default: every frame at frame_rate",
    )
    audio_bitrate: int = Field(128_000, ge=32_000, le=320_000)
    source_open_timeout_s: float = Field(5.0, gt=0)
    source_read_timeout_s: float = Field(5.0, gt=0)

    storage: Literal["local", "s3"] = Field("local", description="where finished files go")
    s3_endpoint_url: str = Field("", description="S3-compatible endpoint; empty for AWS")
    s3_region: str = ""
    s3_bucket: str = ""
    s3_prefix: str = Field("", description="key prefix inside the bucket")
    s3_access_key_id: str = ""
    s3_secret_access_key: SecretStr = SecretStr("")
    s3_path_style: bool = Field(False, description="path-style addressing (MinIO, most on-premise stores)")
    finish_wait_s: float = Field(
        5.0, ge=0, description="finish waits this long for the recorder's final figures before it answers"
    )
    lease_ttl_s: float = Field(
        10.0,
        gt=0,
        description="a recorder's lease lasts this long after its last progress (about once a second); "
        "then another server or recorder may take its task over",
    )
    lease_scan_s: float = Field(1.0, gt=0, description="how often a server looks for expired leases")
    restart_budget: int = Field(
        3, ge=0, description="successors a task gets within restart_window_s; one more crash fails it"
    )
    restart_window_s: float = Field(600.0, gt=0, description="the window of restart_budget")
    recorder_orphan_wait_s: float = Field(
        120.0,
        ge=0,
        description="a recorder whose server died records on and waits this long for a new server to "
        "adopt it (0: it finishes at once)",
    )
    shutdown_detach: bool = Field(
        False,
        description="on stop, leave the recordings running for the next server to adopt (an upgrade, a "
        "restart) instead of finishing them; within recorder_orphan_wait_s",
    )
    shutdown_upload_wait_s: float = Field(
        10.0, ge=0, description="on shutdown, wait this long for uploads; the rest resume at the next start"
    )

    callback_retry_first_s: float = Field(
        5.0,
        gt=0,
        description="callbacks: delay before the first retry of a failed delivery (doubled each time)",
    )
    callback_retry_max_s: float = Field(
        600.0, gt=0, description="callbacks: the longest delay between retries"
    )
    callback_retry_s: float = Field(
        86400.0,
        ge=0,
        description="callbacks: give an event up when it still fails this long after it was made",
    )
    callback_timeout_s: float = Field(10.0, gt=0, description="callbacks: HTTP timeout of one delivery")
    callback_poll_s: float = Field(
        5.0, gt=0, description="callbacks: how often the outbox is checked when nothing wakes the worker"
    )

    log_level: str = "INFO"

    @field_validator("allowed_url_schemes", mode="before")
    @classmethod
    def _split_schemes(cls, value: Any) -> Any:
        """`rtmp,https` or a JSON array, from the environment; a list from a file or a caller."""
        if isinstance(value, str):
            value = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
        if isinstance(value, list):
            return [str(s).strip().lower() for s in value if str(s).strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("CLOUDREC_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    # ---- derived values -------------------------------------------------------------------

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'cloudrec.db').resolve()}"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    def prepare(self) -> Settings:
        """Create the data directories and load (or generate and persist) the URL signing key."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir.mkdir(exist_ok=True)
        self.files_dir.mkdir(exist_ok=True)
        if not self.signing_key.get_secret_value():
            key_file = self.data_dir / SIGNING_KEY_FILE
            if not key_file.exists():
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_hex(32))
            self.signing_key = SecretStr(key_file.read_text().strip())
        return self
