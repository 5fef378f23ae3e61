"""The contract's error codes and the one exception type that carries them.

```
CloudrecError(code, msg)          -> {"code": code, "msg": msg} with HTTP 200
 ├─ ParamError          6050030003  a field is missing, of the wrong type or out of range
 ├─ JsonError           6050030005  the body is not valid JSON
 ├─ NotLoggedIn         6050030006  no access_token
 ├─ AuthFailed          6050030007  unknown access_token, or an app of another developer
 ├─ TokenTimeout         606000001  access_token expired
 ├─ AuthenticationError 6050030028  bad or expired developer token
 ├─ TaskNotFound        6050030001  no such task (or it is in a state the call cannot act on)
 ├─ NoDiskSpace         6050030008
 ├─ CapacityError       6050030009  no recorder capacity left
 ├─ FileReadError       6050030031  files not downloadable (yet)
 ├─ TaskSuspended       6050030033
 ├─ AutoNoLayout        6050030035
 ├─ AutoTaskExists      6050030038
 ├─ NotRecording        6050030039
 └─ NotSuspended        6050030003  resume of a task that is not suspended
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


class ParamError(CloudrecError):
    code = Code.PARAM


class JsonError(CloudrecError):
    code = Code.JSON


class NotLoggedIn(CloudrecError):
    code = Code.NOT_LOGGED_IN


class AuthFailed(CloudrecError):
    code = Code.AUTH_FAILED


class TokenTimeout(CloudrecError):
    code = Code.TOKEN_TIMEOUT


class AuthenticationError(CloudrecError):
    code = Code.AUTHENTICATION
    hst_code = 606000000  # the vendor's "Authentication failed"


class TaskNotFound(CloudrecError):
    code = Code.NO_TASK


class NoDiskSpace(CloudrecError):
    code = Code.NO_SPACE


class CapacityError(CloudrecError):
    code = Code.LOAD_LIMIT


class FileReadError(CloudrecError):
    code = Code.FILE_READ


class TaskSuspended(CloudrecError):
    code = Code.SUSPENDED


class AutoNoLayout(CloudrecError):
    code = Code.AUTO_NO_LAYOUT


class AutoTaskExists(CloudrecError):
    code = Code.AUTO_EXISTS


class NotRecording(CloudrecError):
    code = Code.CANNOT_SUSPEND


class NotSuspended(ParamError):
    hst_code = 605030040  # the vendor's own code for resuming a task that is not paused
