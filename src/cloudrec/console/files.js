// A finished task's files: poster, size, md5, duration, in-page playback through the signed URL; delete.
"use strict";

async function showFiles(state) {
  const items = [];
  for (let page = 1; ; page++) {
    const reply = await apiGet("/v1/record/file/download/url", { app_id: state.app, record_id: state.recordId, page });
    items.push(...reply.data_list);
    if (items.length >= reply.total_num || !reply.data_list.length) break;
  }
  $("files").hidden = false;
  const list = $("file-list");
  list.className = "files";
  if (!items.length) {
    list.replaceChildren(document.createTextNode(t("no_files")));
    return;
  }
  list.replaceChildren(...items.map(fileCard));
}

function fileCard(item) {
  const extent = JSON.parse(item.extent);
  const card = document.createElement("div");
  card.className = "file";
  card.dataset.name = item.file_name;
  const media = document.createElement(item.file_name.endsWith(".mp3") ? "audio" : "video");
  media.controls = true;
  media.preload = "metadata";
  if (extent.poster) media.poster = extent.poster;
  media.src = item.url;
  const left = document.createElement("div");
  if (extent.poster) {
    const poster = document.createElement("img");
    poster.className = "poster";
    poster.alt = item.file_name;
    poster.src = extent.poster;
    left.append(poster);
  }
  left.append(media);
  const facts = document.createElement("dl");
  const rows = [["file_name", item.file_name], ["file_size", bytes(extent.size)], ["md5", item.md5],
    ["duration", `${Number(extent.duration).toFixed(3)} ${t("seconds")}`], ["start_time", extent.start_time]];
  for (const [key, value] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = key === "file_name" ? "" : t(key);
    const dd = document.createElement("dd");
    dd.textContent = value;
    dd.className = key;
    facts.append(dt, dd);
  }
  const link = document.createElement("a");
  link.href = item.url;
  link.textContent = t("download");
  link.rel = "noreferrer";
  const dd = document.createElement("dd");
  dd.append(link);
  facts.append(document.createElement("dt"), dd);
  card.append(left, facts);
  return card;
}

async function deleteFiles(state, mode) {
  await act(async () => {
    await apiPost("/v1/record/file", { app_id: state.app, record_list: [state.recordId], mode });
    if (mode === 1) {
      go("tasks", { app: state.app });
    } else {
      $("file-list").replaceChildren(document.createTextNode(t("no_files")));
    }
  });
}
