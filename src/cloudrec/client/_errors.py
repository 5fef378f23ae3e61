"""The exceptions of the client: contract errors carry the reply's code and msg.

```
CloudrecClientError              every error the client raises
 ├─ TransportError               the server could not be reached, or the connection failed
 ├─ ProtocolError                the reply is not the contract's JSON, or not of the expected shape
 └─ ApiError                     the server answered a contract error (`code`, `msg`)
     ├─ InternalError            6050030000
     ├─ TaskNotFound             6050030001
     ├─ ParamError               6050030003
     ├─ JsonError                6050030005
     ├─ NotLoggedIn              6050030006
     ├─ AuthorizationFailed      6050030007
     ├─ NoDiskSpace              6050030008
     ├─ LoadLimit                6050030009–6050030011
     ├─ AuthenticationFailed     6050030028 (profile hst: 606000000)
     ├─ FileReadError            6050030031
     ├─ TaskSuspended            6050030033
     ├─ AutoTaskNoLayout         6050030035
     ├─ AutoTaskExists           6050030038
     ├─ CannotSuspend            6050030039
     └─ AccessTokenTimeout       606000001
```
The `hst` compatibility profile's 9-digit codes (605030xxx) raise the same classes as their 10-digit
forms; `code` is always the code the server sent.
"""

from __future__ import annotations

from typing import Any

import httpx

from cloudrec.errors import Code


class CloudrecClientError(Exception):
    """Base of every error the client raises."""


class TransportError(CloudrecClientError):
    """The request did not get an answer: connection refused or broken, timeout, bad URL.

    The httpx exception that caused it is the `__cause__`."""


class ProtocolError(CloudrecClientError):
    """The server answered something other than the contract's JSON (a proxy's error page, a reply of
    an unexpected shape). `response` is the HTTP response."""

    def __init__(self, message: str, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response


class ApiError(CloudrecClientError):
    """A contract error: the reply's `code` (never 0) and `msg` (naming the offending field).

    `status_code` is the HTTP status (200 for business errors, 404/405 for unknown paths and methods);
    `reply` the whole JSON object."""

    def __init__(
        self, code: int, msg: str, status_code: int = 200, reply: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status_code = status_code
        self.reply = reply if reply is not None else {"code": code, "msg": msg}


class InternalError(ApiError):
    """6050030000: the server failed internally."""


class TaskNotFound(ApiError):
    """6050030001: no such task for this app, or a task in a state the call cannot act on."""


class ParamError(ApiError):
    """6050030003: a field is missing, of the wrong type or out of range (`msg` names it); also an
    unknown path, a wrong method, resume of a task that is not suspended, delete of an unfinished task."""


class JsonError(ApiError):
    """6050030005: the body was not valid JSON."""


class NotLoggedIn(ApiError):
    """6050030006: the request carried no access_token."""


class AuthorizationFailed(ApiError):
    """6050030007: unknown access_token, or an app that is not the developer's."""


class NoDiskSpace(ApiError):
    """6050030008: init refused: the server's disk is short of free space."""


class LoadLimit(ApiError):
    """6050030009–6050030011: init refused: no recorder capacity left."""


class AuthenticationFailed(ApiError):
    """6050030028 (profile hst: 606000000): the developer token is bad or expired (wrong dev_id or
    secret, or a clock far off)."""


class FileReadError(ApiError):
    """6050030031: the task's files are not downloadable (yet): wait for status 6."""


class TaskSuspended(ApiError):
    """6050030033: the task is suspended: its output cannot be set until it is resumed."""


class AutoTaskNoLayout(ApiError):
    """6050030035: an automatic recording takes no manual layout."""


class AutoTaskExists(ApiError):
    """6050030038: the group already has an active automatic recording."""


class CannotSuspend(ApiError):
    """6050030039: the task is not recording: it cannot be suspended, and has no snapshot."""


class AccessTokenTimeout(ApiError):
    """606000001: the access_token expired. A client with dev_id and secret renews it and retries by
    itself; this is raised when it cannot (a client given only an access_token)."""


_CLASSES: dict[int, type[ApiError]] = {
    Code.INTERNAL: InternalError,
    Code.NO_TASK: TaskNotFound,
    Code.PARAM: ParamError,
    Code.JSON: JsonError,
    Code.NOT_LOGGED_IN: NotLoggedIn,
    Code.AUTH_FAILED: AuthorizationFailed,
    Code.NO_SPACE: NoDiskSpace,
    Code.LOAD_LIMIT: LoadLimit,
    6050030010: LoadLimit,
    6050030011: LoadLimit,
    Code.AUTHENTICATION: AuthenticationFailed,
    Code.FILE_READ: FileReadError,
    Code.SUSPENDED: TaskSuspended,
    Code.AUTO_NO_LAYOUT: AutoTaskNoLayout,
    Code.AUTO_EXISTS: AutoTaskExists,
    Code.CANNOT_SUSPEND: CannotSuspend,
    Code.TOKEN_TIMEOUT: AccessTokenTimeout,
    606000000: AuthenticationFailed,  # profile hst: bad developer token
    605030040: ParamError,  # profile hst: resume of a task that is not suspended
}
# The hst profile drops one 0: 6050030xxx is sent as 605030xxx.
_HST_BASE, _SEED_BASE, _FAMILY_SIZE = 605030000, 6050030000, 1000


def error_class(code: int) -> type[ApiError]:
    """The exception class of a contract error code (ApiError itself for codes without their own)."""
    if code in _CLASSES:
        return _CLASSES[code]
    if _HST_BASE <= code < _HST_BASE + _FAMILY_SIZE:
        return _CLASSES.get(code - _HST_BASE + _SEED_BASE, ApiError)
    return ApiError


def api_error(code: int, msg: str, status_code: int = 200, reply: dict[str, Any] | None = None) -> ApiError:
    return error_class(code)(code, msg, status_code, reply)
