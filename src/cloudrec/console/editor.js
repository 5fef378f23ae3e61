// The stage of a task's page: the live snapshot, its tiles outlined and labelled, and the layout editor
// (drag a tile to move it, drag its corner to resize it; numbers and crop modes in the table).
"use strict";

class Stage {
  constructor(stage, img, tileLayer, editLayer, table, onChange) {
    this.stage = stage;
    this.img = img;
    this.tileLayer = tileLayer;
    this.editLayer = editLayer;
    this.table = table;
    this.onChange = onChange;
    this.canvas = { w: 1, h: 1 };
    this.tiles = []; // the edited layout: set/layout's video_list items
    this.editing = false;
    this.drag = null;
    editLayer.addEventListener("pointerdown", (e) => this.pointerDown(e));
    editLayer.addEventListener("pointermove", (e) => this.pointerMove(e));
    editLayer.addEventListener("pointerup", (e) => this.pointerUp(e));
    editLayer.addEventListener("pointercancel", (e) => this.pointerUp(e));
    window.addEventListener("resize", () => this.render());
  }

  setCanvas(w, h) {
    this.canvas = { w, h };
    this.stage.style.aspectRatio = `${w} / ${h}`;
  }

  scale() {
    return this.stage.clientWidth / this.canvas.w;
  }

  // Outlines of the tiles drawn in the last snapshot (what the recorder composed), labelled by user.
  showTiles(tiles) {
    const s = this.scale();
    this.tileLayer.replaceChildren(
      ...tiles.map((tile) => {
        const box = document.createElement("div");
        box.className = "tile";
        box.dataset.user = tile.user_id;
        place(box, tile, s);
        const label = document.createElement("span");
        label.textContent = tile.user_id;
        box.append(label);
        return box;
      }),
    );
  }

  setLayout(tiles) {
    this.tiles = tiles.map((tile) => ({ ...tile }));
    this.render();
  }

  setEditing(on) {
    this.editing = on;
    this.editLayer.hidden = !on;
    this.render();
  }

  render() {
    const s = this.scale();
    this.editLayer.replaceChildren(
      ...this.tiles.map((tile, i) => {
        const box = document.createElement("div");
        box.className = "edit-tile";
        box.dataset.index = String(i);
        box.dataset.user = tile.user_id;
        place(box, tile, s);
        const label = document.createElement("span");
        label.textContent = `${i + 1}. ${tile.user_id}`;
        const handle = document.createElement("div");
        handle.className = "handle";
        box.append(label, handle);
        return box;
      }),
    );
    this.renderTable();
  }

  renderTable() {
    const body = this.table.tBodies[0];
    body.replaceChildren(
      ...this.tiles.map((tile, i) => {
        const row = document.createElement("tr");
        const user = document.createElement("td");
        user.textContent = `${i + 1}. ${tile.user_id} (${t(`media_${tile.media_type}`)})`;
        row.append(user);
        for (const field of ["x", "y", "w", "h"]) {
          const cell = document.createElement("td");
          const input = document.createElement("input");
          input.type = "number";
          input.min = field === "w" || field === "h" ? "1" : "0";
          input.value = String(tile[field]);
          input.className = `tile-${field}`;
          input.addEventListener("change", () => {
            tile[field] = Math.max(Number(input.min), Math.round(Number(input.value) || 0));
            this.changed();
          });
          cell.append(input);
          row.append(cell);
        }
        const crop = document.createElement("select");
        crop.className = "tile-crop";
        for (const mode of [1, 2, 3]) {
          const option = new Option(t(`crop_${mode}`), String(mode), false, tile.crop_mode === mode);
          crop.append(option);
        }
        crop.addEventListener("change", () => {
          tile.crop_mode = Number(crop.value);
          this.changed();
        });
        const cropCell = document.createElement("td");
        cropCell.append(crop);
        const remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = t("remove");
        remove.addEventListener("click", () => {
          this.tiles.splice(i, 1);
          this.changed();
        });
        const removeCell = document.createElement("td");
        removeCell.append(remove);
        row.append(cropCell, removeCell);
        return row;
      }),
    );
  }

  addTile(stream) {
    const w = Math.max(1, Math.round(this.canvas.w / 2));
    const h = Math.max(1, Math.round(this.canvas.h / 2));
    this.tiles.push({ user_id: stream.user_id, media_id: stream.media_id, media_type: stream.media_type,
      x: 0, y: 0, w, h, crop_mode: 2 });
    this.changed();
  }

  changed() {
    this.render();
    this.onChange();
  }

  pointerDown(e) {
    const box = e.target.closest(".edit-tile");
    if (!box) return;
    e.preventDefault();
    const tile = this.tiles[Number(box.dataset.index)];
    this.drag = { tile, resize: e.target.classList.contains("handle"), x0: e.clientX, y0: e.clientY,
      start: { ...tile }, pointer: e.pointerId };
    this.editLayer.setPointerCapture(e.pointerId);
  }

  pointerMove(e) {
    const d = this.drag;
    if (!d || e.pointerId !== d.pointer) return;
    const s = this.scale();
    const dx = Math.round((e.clientX - d.x0) / s);
    const dy = Math.round((e.clientY - d.y0) / s);
    const { w: cw, h: ch } = this.canvas;
    if (d.resize) {
      d.tile.w = clamp(d.start.w + dx, 1, cw - d.start.x);
      d.tile.h = clamp(d.start.h + dy, 1, ch - d.start.y);
    } else {
      d.tile.x = clamp(d.start.x + dx, 0, Math.max(0, cw - d.start.w));
      d.tile.y = clamp(d.start.y + dy, 0, Math.max(0, ch - d.start.h));
    }
    this.render();
  }

  pointerUp(e) {
    if (!this.drag || e.pointerId !== this.drag.pointer) return;
    this.drag = null;
    this.changed();
  }
}

function clamp(v, lo, hi) {
  return Math.min(Math.max(v, lo), hi);
}

function place(el, rect, s) {
  el.style.left = `${rect.x * s}px`;
  el.style.top = `${rect.y * s}px`;
  el.style.width = `${rect.w * s}px`;
  el.style.height = `${rect.h * s}px`;
}
