// The console's views: sign in, the task list of an app, a task's page. Hash routes, no framework.
"use strict";

const TASKS_POLL_MS = 2000; // live status of the task list
const TASK_POLL_MS = 1000; // a task's page: status and snapshot, once a second
const STREAMS_EVERY = 3; // the group's streams: every third poll of a task's page
const PAGE_SIZE = 20;
const ACTIVE = [1, 2]; // a recorder runs the task and takes commands

const $ = (id) => document.getElementById(id);
let poll = null; // the running view's poll loop: { stop: bool }
let stage = null;
let apps = [];

function showError(err) {
  const box = $("error");
  if (!err) {
    box.hidden = true;
    return;
  }
  box.textContent = err instanceof ApiError ? err.message : String(err);
  box.hidden = false;
}

function route() {
  const [name, q] = (location.hash.slice(1) || "").split("?");
  return { name, params: new URLSearchParams(q || "") };
}

function go(name, params) {
  location.hash = `${name}?${new URLSearchParams(params).toString()}`;
}

function show(view) {
  for (const id of ["view-login", "view-tasks", "view-task"]) $(id).hidden = id !== view;
  $("nav").hidden = view === "view-login";
}

function currentApp() {
  return route().params.get("app") || sessionStorage.getItem("cloudrec.app") || (apps[0] && apps[0].app_id) || "";
}

function statusLabel(status, paused) {
  return paused && status === 2 ? `${t("status_2")} (${t("paused")})` : t(`status_${status}`);
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function startPoll(step, intervalMs) {
  if (poll) poll.stop = true;
  const me = { stop: false, n: 0 };
  poll = me;
  (async () => {
    while (!me.stop) {
      try {
        await step(me.n++);
      } catch (err) {
        showError(err);
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
}

// ---- sign in -------------------------------------------------------------------------------------

async function onSignIn(e) {
  e.preventDefault();
  const secretInput = $("dev-secret");
  const secret = secretInput.value;
  secretInput.value = ""; // the secret is not kept in the page either
  try {
    await signIn($("dev-id").value.trim(), secret);
    showError(null);
    await loadApps();
    go("tasks", { app: currentApp() });
  } catch (err) {
    showError(err);
  }
}

async function loadApps() {
  const reply = await apiGet("/v1/app/list");
  apps = reply.app_list;
  const select = $("app-select");
  select.replaceChildren(...apps.map((a) => new Option(a.name ? `${a.app_id} (${a.name})` : a.app_id, a.app_id)));
  select.value = currentApp();
  $("who").textContent = session.devId;
  if (!apps.length) showError(t("no_apps"));
}

// ---- tasks -----------------------------------------------------------------------------------------

function unixOf(local) {
  return local ? String(Math.floor(new Date(local).getTime() / 1000)) : "";
}

function viewTasks(params) {
  show("view-tasks");
  const app = currentApp();
  sessionStorage.setItem("cloudrec.app", app);
  $("app-select").value = app;
  $("tasks-app").textContent = app;
  $("f-status").value = params.get("status") || "";
  $("f-group").value = params.get("group") || "";
  $("f-from").value = params.get("from") || "";
  $("f-until").value = params.get("until") || "";
  const page = Number(params.get("page") || "1");
  startPoll(async () => {
    const reply = await apiGet("/v1/record/task/list", {
      app_id: app,
      status: params.get("status"),
      group_id: params.get("group"),
      start_time: unixOf(params.get("from")),
      stop_time: unixOf(params.get("until")),
      page,
      page_size: PAGE_SIZE,
    });
    renderTasks(app, reply, page, params);
  }, TASKS_POLL_MS);
}

function renderTasks(app, reply, page, params) {
  const body = $("task-table").tBodies[0];
  if (!reply.record_list.length) {
    const row = document.createElement("tr");
    row.append(cell(t("no_tasks")));
    body.replaceChildren(row);
  } else {
    body.replaceChildren(
      ...reply.record_list.map((task) => {
        const row = document.createElement("tr");
        row.dataset.recordId = task.record_id;
        const idCell = document.createElement("td");
        const link = document.createElement("a");
        link.href = `#task?${new URLSearchParams({ app, id: task.record_id })}`;
        link.textContent = task.record_id;
        idCell.append(link);
        row.append(
          idCell,
          cell(task.group_id),
          cell(statusLabel(task.status, task.paused), `status status-${task.status}`),
          cell(task.start_time),
          cell(task.stop_time),
          cell(bytes(task.file_size)),
        );
        return row;
      }),
    );
  }
  const pages = Math.max(1, Math.ceil(reply.total_num / PAGE_SIZE));
  $("page-info").textContent =
    lang === "zh" ? `${t("page")} ${page} ${t("of")} ${pages} 页，${reply.total_num} ${t("total")}`
      : `${t("page")} ${page} ${t("of")} ${pages} (${reply.total_num} ${t("total")})`;
  $("prev").disabled = page <= 1;
  $("next").disabled = page >= pages;
  $("prev").onclick = () => go("tasks", { ...Object.fromEntries(params), app, page: page - 1 });
  $("next").onclick = () => go("tasks", { ...Object.fromEntries(params), app, page: page + 1 });
}

function onFilter(e) {
  e.preventDefault();
  const params = { app: currentApp(), page: 1 };
  for (const [key, id] of [["status", "f-status"], ["group", "f-group"], ["from", "f-from"], ["until", "f-until"]]) {
    if ($(id).value) params[key] = $(id).value;
  }
  go("tasks", params);
}

// ---- a task ----------------------------------------------------------------------------------------

function viewTask(params) {
  show("view-task");
  const app = currentApp();
  const recordId = params.get("id");
  $("t-id").textContent = recordId;
  $("file-list").replaceChildren();
  $("files").hidden = true;
  $("snapshot").removeAttribute("src");
  const state = { app, recordId, task: null, layoutDirty: false, captionsLoaded: false, filesShown: false };
  stage = new Stage($("stage"), $("snapshot"), $("tile-layer"), $("edit-layer"), $("layout-table"), () => {
    state.layoutDirty = true;
    $("apply-layout").disabled = false;
  });
  stage.setEditing(false);
  $("edit-toggle").textContent = t("edit_layout");
  $("edit-toggle").onclick = () => {
    stage.setEditing(!stage.editing);
    $("edit-toggle").textContent = t(stage.editing ? "stop_editing" : "edit_layout");
  };
  $("apply-layout").onclick = () => act(async () => {
    const videoList = stage.tiles.map((tile) => ({ ...tile }));
    await apiPost("/v1/record/set/layout", {
      app_id: app, record_id: recordId, video_list: videoList, audio_list: state.task.audio_list,
    });
    state.layoutDirty = false;
    $("apply-layout").disabled = true;
  });
  const command = (path) => act(() => apiPost(path, { app_id: app, record_id: recordId }));
  $("suspend").onclick = () => command("/v1/record/suspend");
  $("resume").onclick = () => command("/v1/record/resume");
  $("finish").onclick = () => confirm(t("confirm_finish")) && command("/v1/record/finish");
  $("add-caption").onclick = () => addCaptionRow({ content: "", color: "#FFFFFF", x: 10, y: 10, size: 24 });
  $("apply-captions").onclick = () => act(() => apiPost("/v1/record/set/subtitle", {
    app_id: app, record_id: recordId, subtitle_list: captionRows(),
  }));
  $("delete-files").onclick = () => confirm(t("confirm_delete")) && deleteFiles(state, 2);
  $("delete-task").onclick = () => confirm(t("confirm_delete_task")) && deleteFiles(state, 1);
  $("caption-table").tBodies[0].replaceChildren();
  startPoll((n) => taskStep(state, n), TASK_POLL_MS);
}

async function act(fn) {
  try {
    await fn();
    showError(null);
  } catch (err) {
    showError(err);
  }
}

async function taskStep(state, n) {
  const { task } = await apiGet("/v1/record/task/info", { app_id: state.app, record_id: state.recordId });
  const first = state.task === null;
  state.task = task;
  renderFacts(task);
  const active = ACTIVE.includes(task.status);
  $("live").hidden = !active;
  $("suspend").disabled = !(task.status === 2 && !task.paused);
  $("resume").disabled = !(task.status === 2 && task.paused);
  $("finish").disabled = !active;
  const manual = task.auto === null;
  $("editor").hidden = !(active && manual);
  if (first) {
    stage.setCanvas(task.width, task.height);
    stage.setLayout(task.video_list);
  } else if (!state.layoutDirty && !stage.drag) {
    stage.tiles = task.video_list.map((tile) => ({ ...tile }));
    stage.render();
  }
  if (!state.captionsLoaded) {
    $("caption-table").tBodies[0].replaceChildren();
    task.subtitle_list.forEach(addCaptionRow);
    state.captionsLoaded = true;
  }
  if (active && task.file_type === 0) await refreshSnapshot(state);
  if (n % STREAMS_EVERY === 0) await refreshStreams(state, active && manual);
  if (!state.filesShown && (task.status === 6 || (task.status === -1 && task.file_size > 0))) {
    state.filesShown = true;
    await showFiles(state);
  }
}

function renderFacts(task) {
  const status = $("t-status");
  status.textContent = statusLabel(task.status, task.paused) + (task.error ? ` — ${task.error}` : "");
  status.className = `status status-${task.status}`;
  $("t-group").textContent = task.group_id;
  $("t-canvas").textContent = `${task.width} × ${task.height} @ ${task.frame_rate} fps, ${task.file_type ? "MP3" : "MP4"}`;
  $("t-duration").textContent = `${task.media_duration.toFixed(1)} ${t("seconds")}, ${bytes(task.file_size)}`;
  $("t-mode").textContent = task.auto === null ? t("manual") : t("auto");
}

async function refreshSnapshot(state) {
  const img = $("snapshot");
  try {
    const shot = await apiSnapshot(state.app, state.recordId);
    const url = URL.createObjectURL(shot.blob);
    await new Promise((resolve) => {
      img.onload = img.onerror = resolve;
      const old = img.src;
      img.src = url;
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    });
    img.dataset.at = String(shot.at);
    stage.showTiles(shot.tiles);
    const age = Math.max(0, Date.now() / 1000 - shot.at).toFixed(1);
    $("snapshot-note").textContent = t("snapshot_age", { s: age });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    $("snapshot-note").textContent = t("no_snapshot", { msg: err.msg });
    stage.showTiles([]);
  }
}

async function refreshStreams(state, canAdd) {
  const reply = await apiGet("/v1/group/stream/list", { app_id: state.app, group_id: state.task.group_id });
  const body = $("stream-table").tBodies[0];
  if (!reply.stream_list.length) {
    const row = document.createElement("tr");
    row.append(cell(t("no_streams")));
    body.replaceChildren(row);
    return;
  }
  body.replaceChildren(
    ...reply.stream_list.map((s) => {
      const row = document.createElement("tr");
      row.append(cell(s.user_id), cell(t(`media_${s.media_type}`)), cell(s.media_id), cell(s.url, "mono"),
        cell(s.publish_time));
      const actions = document.createElement("td");
      if (canAdd && s.media_type !== 1) {
        const add = document.createElement("button");
        add.type = "button";
        add.textContent = t("add_tile");
        add.onclick = () => stage.addTile(s);
        actions.append(add);
      }
      row.append(actions);
      return row;
    }),
  );
}

function addCaptionRow(c) {
  const row = document.createElement("tr");
  const fields = [["content", "text", c.content], ["color", "color", c.color.toLowerCase()], ["x", "number", c.x],
    ["y", "number", c.y], ["size", "number", c.size]];
  for (const [name, type, value] of fields) {
    const td = document.createElement("td");
    const input = document.createElement("input");
    input.type = type;
    input.name = name;
    input.value = String(value);
    td.append(input);
    row.append(td);
  }
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = t("remove");
  remove.onclick = () => row.remove();
  const td = document.createElement("td");
  td.append(remove);
  row.append(td);
  $("caption-table").tBodies[0].append(row);
}

function captionRows() {
  return Array.from($("caption-table").tBodies[0].rows, (row) => {
    const value = (name) => row.querySelector(`[name=${name}]`).value;
    return { content: value("content"), color: value("color").toUpperCase(), x: Number(value("x")),
      y: Number(value("y")), size: Number(value("size")) };
  });
}

// ---- start -----------------------------------------------------------------------------------------

async function render() {
  if (poll) poll.stop = true;
  translatePage();
  if (!signedIn()) {
    show("view-login");
    return;
  }
  if (!apps.length) {
    try {
      await loadApps();
    } catch (err) {
      signOut();
      showError(err);
      show("view-login");
      return;
    }
  }
  const { name, params } = route();
  if (name === "task" && params.get("id")) viewTask(params);
  else viewTasks(params);
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", onSignIn);
  $("filter-form").addEventListener("submit", onFilter);
  $("lang").addEventListener("click", () => {
    toggleLanguage();
    render();
  });
  $("sign-out").addEventListener("click", () => {
    signOut();
    apps = [];
    location.hash = "";
    render();
  });
  $("app-select").addEventListener("change", (e) => go("tasks", { app: e.target.value }));
  window.addEventListener("hashchange", render);
  render();
});
