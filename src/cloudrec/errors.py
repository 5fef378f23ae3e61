"""The contract's error codes and the exception tree that carries them.

Categories first (catch a category to handle every error of a kind), then one class per meaning; a
class's `code` is the contract's. Several meanings may share one code (the contract has few).

```
CloudrecError(msg)                        -> {"code": code, "msg": msg} with HTTP 200
 ├─ RequestError                          the request itself is wrong
 │   ├─ ParamError          6050030003    a field is missing, of the wrong type or out of range
 │   └─ JsonError           6050030005    the body is not valid JSON
 ├─ AccessError                           who calls may not (credentials)
 │   ├─ NotLoggedIn         6050030006    no access_token
 │   ├─ AuthFailed          6050030007    unknown access_token, or an app of another developer
 │   ├─ TokenTimeout         606000001    access_token expired
 │   └─ AuthenticationError 6050030028    bad or expired developer token
 ├─ TaskStateError                        the task cannot do that (now)
 │   ├─ TaskNotFound        6050030001    no such task
 │   │   ├─ TaskNotActive   6050030001    it is not recording (finished, failed) for this call
 │   │   └─ TaskChanged     6050030001    it changed while the call ran: try again
 │   ├─ FileReadError       6050030031    files not downloadable (yet)
 │   ├─ TaskSuspended       6050030033    suspended: resume first
 │   ├─ AutoNoLayout        6050030035    an automatic task takes no layout
 │   ├─ AutoTaskExists      6050030038    the group has an automatic task already
 │   └─ NotRecording        6050030039    only a recording task can be suspended
 └─ ResourceError                         the server lacks something to do it
     ├─ NoDiskSpace         6050030008    free disk below the setting
     └─ CapacityError       6050030009    no recorder capacity left
(profile hst: AuthenticationError answers 606000000, NotSuspended (a ParamError) 605030040)
```
Profile `hst` (`api.errors.profile_code`): 6050030xxx is written 605030xxx; an error with an `hst_code`
has its own code there (NotSuspended 605030040, AuthenticationError 606000000).
"""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    OK = 0
    INTERNAL = 6050030000
    NO_TASK = 6050030001
    PARAM = 6050030003
    LINK_EXISTS = 6050030004
    JSON = 6050030005
    NOT_LOGGED_IN = 6050030006
    AUTH_FAILED = 6050030007
    NO_SPACE = 6050030008
    LOAD_LIMIT = 6050030009
    CONTEXT_EXISTS = 6050030012
    AUTHENTICATION = 6050030028
    FILE_READ = 6050030031
    MEDIA_TIMEOUT = 6050030032
    SUSPENDED = 6050030033
    AUTO_NO_LAYOUT = 6050030035
    AUTO_EXISTS = 6050030038
    CANNOT_SUSPEND = 6050030039
    TOKEN_TIMEOUT = 606000001


class CloudrecError(Exception):
    """A business error of the contract: answered as `{"code": code, "msg": msg}`."""

    code: Code = Code.INTERNAL
    hst_code: int | None = None  # its code in the vendor's 9-digit family, when not the mapped `code`

    def __init__(self, msg: str, code: Code | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        if code is not None:
            self.code = code


# ---- categories ----------------------------------------------------------------------------------


class RequestError(CloudrecError):
    """The request itself is wrong: the same request will always fail."""

    code = Code.PARAM


class AccessError(CloudrecError):
    """The caller's credentials do not allow the call."""

    code = Code.AUTH_FAILED


class TaskStateError(CloudrecError):
    """The task does not exist for the caller, or is in a state the call cannot act on."""

    code = Code.NO_TASK


class ResourceError(CloudrecError):
    """The server lacks what the call needs (disk, recorder capacity); it may work later."""

    code = Code.LOAD_LIMIT


# ---- the request -----------------------------------------------------------------------------------


class ParamError(RequestError):
    """A field is missing, of the wrong type or out of range (the message names it)."""

    code = Code.PARAM


class JsonError(RequestError):
    """The body is not valid JSON."""

    code = Code.JSON


# ---- access ----------------------------------------------------------------------------------------


class NotLoggedIn(AccessError):
    """No access_token was sent."""

    code = Code.NOT_LOGGED_IN


class AuthFailed(AccessError):
    """An unknown access_token, or an app of another developer."""

    code = Code.AUTH_FAILED


class TokenTimeout(AccessError):
    """The access_token expired."""

    code = Code.TOKEN_TIMEOUT


class AuthenticationError(AccessError):
    """A bad or expired developer token (GET /access/token)."""

    code = Code.AUTHENTICATION
    hst_code = 606000000  # the vendor's "Authentication failed"


# ---- the task's state ------------------------------------------------------------------------------


class TaskNotFound(TaskStateError):
    """No such task for this app."""

    code = Code.NO_TASK


class TaskNotActive(TaskNotFound):
    """The task no longer records (finished, failed): the call cannot change it."""


class TaskChanged(TaskNotFound):
    """The task changed while the call ran (suspended, finished meanwhile): try again."""


class FileReadError(TaskStateError):
    """The task's files cannot be downloaded (yet, or any more)."""

    code = Code.FILE_READ


class TaskSuspended(TaskStateError):
    """The task is suspended: resume it first."""

    code = Code.SUSPENDED


class AutoNoLayout(TaskStateError):
    """An automatic task takes no layout."""

    code = Code.AUTO_NO_LAYOUT


class AutoTaskExists(TaskStateError):
    """The group has an automatic task already."""

    code = Code.AUTO_EXISTS


class NotRecording(TaskStateError):
    """Only a recording task can be suspended."""

    code = Code.CANNOT_SUSPEND


class NotSuspended(ParamError):
    hst_code = 605030040  # the vendor's own code for resuming a task that is not paused


# ---- resources -------------------------------------------------------------------------------------


class NoDiskSpace(ResourceError):
    """Free disk space is below `min_free_disk_mb`."""

    code = Code.NO_SPACE


class CapacityError(ResourceError):
    """Every recorder slot is in use."""

    code = Code.LOAD_LIMIT
