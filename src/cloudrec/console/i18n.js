// Labels of the console in English and Chinese; `t(key)` gives the current language's label.
"use strict";

const LABELS = {
  en: {
    app: "App", tasks: "Tasks", task: "Task", sign_in: "Sign in", sign_out: "Sign out",
    dev_id: "Developer id", dev_secret: "Developer secret",
    secret_hint: "The secret stays in this browser: it signs a token here (WebCrypto) and is never sent.",
    status: "Status", any: "any", group: "Group", started_from: "Started from", stopped_until: "Stopped until",
    apply: "Apply", record_id: "Record id", start_time: "Start", stop_time: "Stop", file_size: "Size",
    prev: "Previous", next: "Next", page: "page", of: "of", total: "tasks",
    status_1: "init", "status_2": "recording", status_3: "queued", status_4: "encoding", status_5: "uploading",
    status_6: "done", "status_-1": "error", paused: "suspended",
    canvas: "Canvas", media_duration: "Recorded", mode: "Mode", manual: "manual layout", auto: "automatic layout",
    suspend: "Suspend", resume: "Resume", finish: "Finish", live: "Live picture", layout: "Layout",
    edit_layout: "Edit layout", stop_editing: "Stop editing", apply_layout: "Apply layout", user: "User",
    crop_mode: "Crop", crop_1: "stretch", crop_2: "fill", crop_3: "fit", remove: "Remove", add_tile: "Add tile",
    captions: "Captions", text: "Text", color: "Colour", size: "Size", add_caption: "Add caption",
    apply_captions: "Apply captions", streams: "Published streams", media_type: "Media", published: "Published",
    media_0: "screen", media_1: "audio", media_2: "camera", media_3: "whiteboard",
    files: "Files", delete_files: "Delete files", delete_task: "Delete files and task", duration: "Duration",
    md5: "MD5", download: "Download", no_files: "No files.", no_tasks: "No tasks.", no_streams: "No streams.",
    snapshot_age: "Snapshot taken {s} s ago", no_snapshot: "No picture: {msg}",
    confirm_finish: "Finish this recording?", confirm_delete: "Delete these files? This cannot be undone.",
    confirm_delete_task: "Delete the files and the task record? This cannot be undone.",
    no_webcrypto: "This page is not a secure context (use https, or open it on localhost): the browser offers no WebCrypto to sign the token.",
    no_apps: "This developer has no apps.", applied: "Applied.", seconds: "s",
  },
  zh: {
    app: "应用", tasks: "任务", task: "任务", sign_in: "登录", sign_out: "退出",
    dev_id: "开发者 ID", dev_secret: "开发者密钥",
    secret_hint: "密钥只留在本浏览器中：在这里（WebCrypto）签出令牌，从不发送。",
    status: "状态", any: "全部", group: "房间", started_from: "开始时间起", stopped_until: "结束时间止",
    apply: "应用", record_id: "录制 ID", start_time: "开始", stop_time: "结束", file_size: "大小",
    prev: "上一页", next: "下一页", page: "第", of: "页，共", total: "个任务",
    status_1: "初始化", status_2: "录制中", status_3: "排队中", status_4: "编码中", status_5: "上传中",
    status_6: "已完成", "status_-1": "出错", paused: "已暂停",
    canvas: "画布", media_duration: "已录制", mode: "模式", manual: "手动布局", auto: "自动布局",
    suspend: "暂停", resume: "恢复", finish: "结束录制", live: "实时画面", layout: "布局",
    edit_layout: "编辑布局", stop_editing: "停止编辑", apply_layout: "应用布局", user: "用户",
    crop_mode: "裁剪", crop_1: "拉伸", crop_2: "填充", crop_3: "适应", remove: "删除", add_tile: "添加画面",
    captions: "字幕", text: "文字", color: "颜色", size: "字号", add_caption: "添加字幕",
    apply_captions: "应用字幕", streams: "已发布的流", media_type: "媒体", published: "发布时间",
    media_0: "屏幕共享", media_1: "音频", media_2: "摄像头", media_3: "白板",
    files: "文件", delete_files: "删除文件", delete_task: "删除文件和任务", duration: "时长",
    md5: "MD5", download: "下载", no_files: "没有文件。", no_tasks: "没有任务。", no_streams: "没有流。",
    snapshot_age: "画面拍摄于 {s} 秒前", no_snapshot: "没有画面：{msg}",
    confirm_finish: "结束这个录制？", confirm_delete: "删除这些文件？删除后无法恢复。",
    confirm_delete_task: "删除文件和任务记录？删除后无法恢复。",
    no_webcrypto: "此页面不是安全上下文（请使用 https，或在 localhost 上打开）：浏览器无法用 WebCrypto 签名令牌。",
    no_apps: "该开发者没有应用。", applied: "已应用。", seconds: "秒",
  },
};

let lang = localStorage.getItem("cloudrec.lang") === "zh" ? "zh" : "en";

function t(key, vars) {
  let text = (LABELS[lang] && LABELS[lang][key]) || LABELS.en[key] || key;
  for (const [name, value] of Object.entries(vars || {})) text = text.replace(`{${name}}`, value);
  return text;
}

function translatePage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  document.getElementById("lang").textContent = lang === "zh" ? "English" : "中文";
}

function toggleLanguage() {
  lang = lang === "zh" ? "en" : "zh";
  localStorage.setItem("cloudrec.lang", lang);
  translatePage();
}
