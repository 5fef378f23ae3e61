"""Log records that cannot be forged and do not leak: control characters escaped, URLs without their
user info and query, for every logger of the process (cloudrec's, httpx's, httpcore's, uvicorn's)."""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

# C0 and C1 controls and DEL, also the Unicode line and paragraph separators: a newline in a logged value
# would start a line of its own that looks like any other (a forged "CRITICAL" entry); ESC drives the
# terminal the log is read on; NUL cuts lines short in many tools.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# scheme://[user[:password]@]host[/path][?query][#fragment]: the user info and the query (tokens, URL
# signatures, stream keys) are replaced, the rest kept for diagnosis.
_URL = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#'\"<>]*@)?(?P<rest>[^\s?#'\"<>]*)"
    r"(?P<query>\?[^\s#'\"<>]*)?(?P<fragment>#[^\s'\"<>]*)?"
)
REDACTED = "***"
_PLAIN = (int, float, bool, type(None))  # args that are not text and carry nothing to escape


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _redact(match: re.Match[str]) -> str:
    out = match.group("scheme")
    if match.group("userinfo"):
        out += REDACTED + "@"
    out += match.group("rest")
    if match.group("query"):
        out += "?" + REDACTED
    return out


def clean(text: str) -> str:
    """`text` with URLs redacted and control characters escaped (`\\x0a`): one safe line."""
    if "://" in text:
        text = _URL.sub(_redact, text)
    return _CONTROL.sub(_escape, text)


def _clean_arg(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        return value
    return clean(value if isinstance(value, str) else str(value))


def _clean_record(record: logging.LogRecord) -> None:
    if record.args:
        if isinstance(record.args, dict):
            record.args = {k: _clean_arg(v) for k, v in record.args.items()}
        else:
            record.args = tuple(_clean_arg(a) for a in record.args)
        if isinstance(record.msg, str):  # the template: control characters only, its %s stay
            record.msg = _CONTROL.sub(_escape, record.msg)
    elif isinstance(record.msg, str):
        record.msg = clean(record.msg)
    else:
        record.msg = clean(str(record.msg))
    if record.exc_info and record.exc_info[0] is not None:
        # Formatters use exc_text when it is set: a traceback whose lines are indented, so that a line
        # of an exception's message can never pass for a log line, and cleaned like the message.
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text = "\n".join("    " + clean(line) for line in text.split("\n"))
    if record.stack_info:
        record.stack_info = "\n".join("    " + clean(line) for line in record.stack_info.split("\n"))


_installed = False


def install() -> None:
    """Clean every log record of this process as it is made (idempotent): before any handler, filter
    or formatter sees it, whoever configured them."""
    global _installed
    if _installed:
        return
    _installed = True
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        _clean_record(record)
        return record

    logging.setLogRecordFactory(factory)
