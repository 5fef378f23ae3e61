"""All settings of cloudrec in one pydantic-settings class (`CLOUDREC_*` env vars, optional TOML file)."""

from __future__ import annotations

import json
import logging
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

from cloudrec.egress import parse_networks
from cloudrec.secretbox import SecretBox, box_for, new_key

log = logging.getLogger(__name__)

SIGNING_KEY_FILE = "signing.key"
SECRETS_KEY_FILE = "secrets.key"  # encrypts developer and callback secrets in the database
PRIVATE_DIR_MODE = 0o700  # the data dir holds the keys and (SQLite) the database: its owner only


class Settings(BaseSettings):
    """Every knob of the server. Env vars are `CLOUDREC_<FIELD>`; `CLOUDREC_CONFIG` names a TOML file."""

    model_config = SettingsConfigDict(env_prefix="CLOUDREC_", extra="ignore")

    data_dir: Path = Field(Path("cloudrec-data"), description="where the database, work files and files live")
    database_url: str = Field("", description="SQLAlchemy URL; default a SQLite file in data_dir")
    host: str = Field("0.0.0.0", description="listen address")
    port: int = Field(28000, ge=1, le=65535, description="listen port")
    public_url: str = Field("", description="base URL of download links; default http://<host>:<port>")
    timezone: str = Field("UTC", description="time zone of times in replies")

    token_ttl_s: int = Field(
        86400,
        ge=1,
        description="lifetime of developer tokens: the default of `cloudrec token`, and the longest a "
        "vendor token is accepted after its `ts`",
    )
    token_max_ttl_s: int = Field(
        7 * 86400,
        ge=1,
        description="the longest validity a developer token may claim (cloudrec expiry, vendor `et`); "
        "a token claiming more is refused",
    )
    access_token_ttl_s: int = Field(7200, ge=1, description="lifetime of access_tokens (the vendor's 7200)")
    auth_max_failures: int = Field(
        10,
        ge=0,
        description="GET /access/token: failed attempts per dev_id and per client address within "
        "auth_failure_window_s before further attempts are refused; 0 turns the limit off",
    )
    auth_failure_window_s: float = Field(
        60.0, gt=0, description="GET /access/token: the window (and so the lockout) of auth_max_failures"
    )
    download_url_ttl_s: int = Field(3600, ge=1, description="lifetime of signed download URLs")
    signing_key: SecretStr = Field(
        SecretStr(""), description="key for download URL signatures; generated into data_dir on first start"
    )
    secrets_key: SecretStr = Field(
        SecretStr(""),
        description="key (64 hex digits) encrypting developer and callback secrets in the database; "
        "generated into data_dir (secrets.key) on first start. Every server of one database needs the same",
    )

    allowed_url_schemes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["rtmp", "rtmps", "rtsp", "http", "https", "srt"],
        description="stream URL schemes accepted by group/stream/publish",
    )
    max_recordings: int = Field(4, ge=0, description="concurrent recordings this host carries")
    # Egress policy (cloudrec.egress): where stream and webhook URLs may point. Lists: comma-separated
    # or a JSON array; networks "10.0.0.0/8" or addresses; hosts "media.example.com" or ".example.com".
    egress_stream_allow_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="stream URLs: networks allowed although built-in rules refuse them"
    )
    egress_stream_deny_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="stream URLs: networks refused (e.g. 10.0.0.0/8)"
    )
    egress_stream_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="stream URLs: host names allowed whatever they resolve to"
    )
    egress_stream_deny_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="stream URLs: host names refused"
    )
    egress_stream_deny_ports: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="stream URLs: ports refused (e.g. 22,6379)"
    )
    egress_webhook_allow_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="webhook URLs: internal networks allowed (default: public only)"
    )
    egress_webhook_deny_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="webhook URLs: networks refused"
    )
    egress_webhook_allow_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="webhook URLs: internal host names allowed"
    )
    egress_webhook_deny_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="webhook URLs: host names refused"
    )
    egress_webhook_deny_ports: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="webhook URLs: ports refused"
    )
    max_recordings_per_developer: int = Field(
        0, ge=0, description="fair share: concurrent recordings of one developer's apps (0: no limit)"
    )
    max_recordings_per_app: int = Field(
        0, ge=0, description="fair share: concurrent recordings of one app (0: no limit)"
    )
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
        10.0,
        ge=0,
        description="on shutdown, recorders store their last files this long; the rest after the next start",
    )

    recorder_host: Literal["local", "ray"] = Field(
        "local",
        description="where recordings run: 'local' (an OS process each, on this machine) or 'ray' (cluster "
        "mode: a Ray actor each, on the recorder nodes of a Ray cluster; needs PostgreSQL and S3 storage, "
        "pip install 'cloudrec[cluster]')",
    )
    ray_address: str = Field(
        "", description="cluster mode: the Ray head's GCS address HOST:PORT (empty: RAY_ADDRESS or 'auto')"
    )
    ray_namespace: str = Field("cloudrec", description="cluster mode: Ray namespace of the recorder actors")
    ray_placement_wait_s: float = Field(
        0.5,
        gt=0,
        le=0.9,
        description="cluster mode: how long init waits for a recorder slot to be reserved before it "
        "answers 6050030009 (the contract wants the refusal within 1 s)",
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

    compat: Literal["default", "hst"] = Field(
        "default",
        description="hst: behave as the vendor's deployed service where it contradicts the seed contract "
        "(9-digit error codes, status 7 while suspended, one live access_token per developer, at most 16 "
        "video tiles and 10 audio entries per layout)",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="browser origins allowed to call the API (CORS), e.g. https://app.example.com; "
        "comma-separated or a JSON array; none by default",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        """`https://a,https://b` or a JSON array, from the environment; a list from a file or a caller."""
        if isinstance(value, str):
            value = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
        if isinstance(value, list):
            return [str(s).strip().rstrip("/") for s in value if str(s).strip()]
        return value

    @field_validator("allowed_url_schemes", mode="before")
    @classmethod
    def _split_schemes(cls, value: Any) -> Any:
        """`rtmp,https` or a JSON array, from the environment; a list from a file or a caller."""
        if isinstance(value, str):
            value = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
        if isinstance(value, list):
            return [str(s).strip().lower() for s in value if str(s).strip()]
        return value

    @field_validator(
        "egress_stream_allow_networks",
        "egress_stream_deny_networks",
        "egress_stream_allow_hosts",
        "egress_stream_deny_hosts",
        "egress_stream_deny_ports",
        "egress_webhook_allow_networks",
        "egress_webhook_deny_networks",
        "egress_webhook_allow_hosts",
        "egress_webhook_deny_hosts",
        "egress_webhook_deny_ports",
        mode="before",
    )
    @classmethod
    def _split_egress_lists(cls, value: Any) -> Any:
        """Like the schemes: a comma-separated string or a JSON array; host names lower case."""
        if isinstance(value, str):
            value = json.loads(value) if value.lstrip().startswith("[") else value.split(",")
        if isinstance(value, list):
            return [
                s.strip().lower().rstrip(".") if isinstance(s, str) else s for s in value if str(s).strip()
            ]
        return value

    @field_validator(
        "egress_stream_allow_networks",
        "egress_stream_deny_networks",
        "egress_webhook_allow_networks",
        "egress_webhook_deny_networks",
    )
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        parse_networks(value)  # a bad entry fails at start-up
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

    @property
    def secret_box(self) -> SecretBox:
        """Opens and seals the secrets stored in the database (after `prepare`)."""
        key = self.secrets_key.get_secret_value()
        if not key:
            raise RuntimeError("Settings.prepare() loads the secrets key first")
        return box_for(key)

    def prepare(self) -> Settings:
        """Create the data directories (private) and load (or generate and persist) the URL signing key
        and the secrets key."""
        private_dir(self.data_dir)
        self.work_dir.mkdir(exist_ok=True)
        self.files_dir.mkdir(exist_ok=True)
        if not self.signing_key.get_secret_value():
            self.signing_key = SecretStr(key_file(self.data_dir / SIGNING_KEY_FILE, secrets.token_hex(32)))
        if not self.secrets_key.get_secret_value():
            self.secrets_key = SecretStr(key_file(self.data_dir / SECRETS_KEY_FILE, new_key()))
        self.secret_box  # noqa: B018 - a malformed CLOUDREC_SECRETS_KEY fails here, at start-up
        return self


def private_dir(path: Path) -> None:
    """`path` created readable by its owner only; an existing one of ours is made so (it holds keys)."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    st = path.stat()
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        log.warning(
            "data dir %s was open to other users (mode %o): made private (700)", path, st.st_mode & 0o777
        )
        path.chmod(PRIVATE_DIR_MODE)


def key_file(path: Path, new_value: str) -> str:
    """The key kept in `path`; `new_value` written there (mode 0600) first if there is none. Several
    processes starting at once (a server and the CLI) all end up with the one that was linked first."""
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_value)
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process wrote
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
