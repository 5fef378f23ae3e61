"""A Python client of cloudrec (and of the HST cloud recording API): `Client` and `AsyncClient`.

```python
from cloudrec.client import AutoRequest, Client

with Client("http://127.0.0.1:28000", dev_id=DEV_ID, dev_secret=DEV_SECRET, app_id="myapp") as c:
    task = c.init("class1", file_name="class1", auto=AutoRequest())
    c.finish(task.record_id)
    for item in c.download_urls(task.record_id).data_list:
        print(item.file_name, item.url)
```
The client makes its developer tokens (the TokenGenerator), exchanges them for access_tokens and
renews them; replies are the API's own pydantic models; contract errors raise `ApiError` subclasses
that carry the `code` (see `cloudrec.client.errors`). `generate_token(dev_id, dev_secret, ttl_s)` is
the TokenGenerator itself, for code that makes its own `Authorization: <dev_id>.<token>`.
"""

from cloudrec.auth import generate_token
from cloudrec.client import _errors as errors
from cloudrec.client._async import AsyncClient
from cloudrec.client._errors import (
    AccessTokenTimeout,
    ApiError,
    AuthenticationFailed,
    AuthorizationFailed,
    AutoTaskExists,
    AutoTaskNoLayout,
    CannotSuspend,
    CloudrecClientError,
    FileReadError,
    InternalError,
    JsonError,
    LoadLimit,
    NoDiskSpace,
    NotLoggedIn,
    ParamError,
    ProtocolError,
    TaskNotFound,
    TaskSuspended,
    TransportError,
)
from cloudrec.client._models import (
    AccessTokenResult,
    AppItem,
    AppListReply,
    AudioItem,
    AutoRequest,
    CallbackReply,
    CropMode,
    DeleteReply,
    Extent,
    FileItem,
    FileUrlReply,
    FinishReply,
    InitReply,
    LayoutReply,
    MediaType,
    OkReply,
    RecordReply,
    ServerAddressReply,
    SnapshotPicture,
    SnapshotTile,
    StreamItem,
    StreamListReply,
    SubtitleItem,
    TaskInfo,
    TaskInfoReply,
    TaskItem,
    TaskListReply,
    TaskStatus,
    VideoItem,
    extent,
)
from cloudrec.client._sync import Client

__all__ = [
    "AccessTokenResult",
    "AccessTokenTimeout",
    "ApiError",
    "AppItem",
    "AppListReply",
    "AsyncClient",
    "AudioItem",
    "AuthenticationFailed",
    "AuthorizationFailed",
    "AutoRequest",
    "AutoTaskExists",
    "AutoTaskNoLayout",
    "CallbackReply",
    "CannotSuspend",
    "Client",
    "CloudrecClientError",
    "CropMode",
    "DeleteReply",
    "Extent",
    "FileItem",
    "FileReadError",
    "FileUrlReply",
    "FinishReply",
    "InitReply",
    "InternalError",
    "JsonError",
    "LayoutReply",
    "LoadLimit",
    "MediaType",
    "NoDiskSpace",
    "NotLoggedIn",
    "OkReply",
    "ParamError",
    "ProtocolError",
    "RecordReply",
    "ServerAddressReply",
    "SnapshotPicture",
    "SnapshotTile",
    "StreamItem",
    "StreamListReply",
    "SubtitleItem",
    "TaskInfo",
    "TaskInfoReply",
    "TaskItem",
    "TaskListReply",
    "TaskNotFound",
    "TaskStatus",
    "TaskSuspended",
    "TransportError",
    "VideoItem",
    "errors",
    "extent",
    "generate_token",
]
