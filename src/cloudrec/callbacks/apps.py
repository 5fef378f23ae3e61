"""An app's callback URL and secret: set, changed or cleared (API and CLI)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from cloudrec.callbacks.signing import new_secret
from cloudrec.db.models import App
from cloudrec.egress import EgressPolicy, EgressRefused
from cloudrec.egress import check_url as check_egress
from cloudrec.errors import ParamError
from cloudrec.secretbox import SecretBox

log = logging.getLogger(__name__)

MAX_URL_LENGTH = 2048


@dataclass(frozen=True)
class CallbackSetting:
    url: str
    secret: str | None  # only when it was just generated: shown once


def check_url(url: str) -> str:
    """The URL, stripped, if it is an absolute http(s) URL (or empty: no callbacks), else ParamError."""
    url = url.strip()
    if not url:
        return ""
    if len(url) > MAX_URL_LENGTH:
        raise ParamError(f"url must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise ParamError("url is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ParamError("url must be an http or https URL (or empty to turn callbacks off)")
    if not host or any(c.isspace() for c in url):
        raise ParamError("url must be an absolute http or https URL with a host")
    return url


def set_callback(
    session: Session,
    box: SecretBox,
    app_id: str,
    url: str,
    rotate_secret: bool = False,
    policy: EgressPolicy | None = None,
) -> CallbackSetting:
    """Set (or clear, with "") the app's callback URL; a secret is generated the first time a URL is set
    (or when asked to rotate it), stored sealed by `box`, and returned only then. The URL must pass the
    webhook egress `policy` (the delivery checks it again on every connection). The caller commits."""
    url = check_url(url)
    if url and policy is not None:
        try:
            check_egress(url, policy)
        except EgressRefused as exc:
            raise ParamError(f"url refused: {exc}") from None
    app = session.get(App, app_id)
    if app is None:
        raise ParamError(f"app_id {app_id!r} does not exist")
    app.callback_url = url
    secret = None
    if url and (rotate_secret or not app.callback_secret):
        secret = new_secret()
        app.callback_secret = box.seal("callback", app_id, secret)
    log.info("app %s: callbacks %s%s", app_id, "on" if url else "off", ", new secret" if secret else "")
    return CallbackSetting(url=url, secret=secret)
