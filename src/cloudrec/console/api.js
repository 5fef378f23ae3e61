// Signing in and calling cloudrec's HTTP API from the browser.
//
// The developer secret never leaves the page: it becomes a non-extractable WebCrypto HMAC key at once
// (the string is dropped), which signs the TokenGenerator's token `<expiry>-<nonce>-<hmac>` (see
// cloudrec/auth.py); only that token goes to GET /access/token. The key lives in memory only, to renew
// the access_token when it times out (606000001); the access_token is kept for this tab's session.
"use strict";

const TOKEN_TTL_S = 300; // a developer token is used at once: a short life is enough
const TOKEN_TIMEOUT = 606000001;

class ApiError extends Error {
  constructor(code, msg) {
    super(`${code}: ${msg}`);
    this.code = code;
    this.msg = msg;
  }
}

const session = {
  devId: sessionStorage.getItem("cloudrec.dev_id") || "",
  accessToken: sessionStorage.getItem("cloudrec.access_token") || "",
  key: null, // CryptoKey (HMAC SHA-256, not extractable); null after a reload: sign in again to renew
};

function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function developerToken(devId, key) {
  const expires = Math.floor(Date.now() / 1000) + TOKEN_TTL_S;
  const nonce = hex(crypto.getRandomValues(new Uint8Array(8)));
  const msg = new TextEncoder().encode(`${devId}\n${expires}\n${nonce}`);
  const sig = hex(await crypto.subtle.sign("HMAC", key, msg));
  return `${expires}-${nonce}-${sig}`;
}

async function fetchAccessToken() {
  const token = await developerToken(session.devId, session.key);
  const r = await fetch("/access/token", { headers: { Authorization: `${session.devId}.${token}` } });
  const reply = await r.json();
  if (reply.code !== 0) throw new ApiError(reply.code, reply.msg);
  session.accessToken = reply.result.access_token;
  sessionStorage.setItem("cloudrec.access_token", session.accessToken);
}

async function signIn(devId, secret) {
  if (!window.crypto || !crypto.subtle) throw new ApiError(0, t("no_webcrypto"));
  const raw = new TextEncoder().encode(secret);
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  raw.fill(0);
  session.devId = devId;
  session.key = key;
  await fetchAccessToken();
  sessionStorage.setItem("cloudrec.dev_id", devId);
}

function signOut() {
  session.devId = "";
  session.accessToken = "";
  session.key = null;
  sessionStorage.clear(); // the access_token and what the console remembered of this session
}

function signedIn() {
  return Boolean(session.accessToken);
}

// One request with the access_token; renewed once on 606000001 when the key is at hand.
async function authorized(path, init) {
  for (let attempt = 0; ; attempt++) {
    const headers = { ...(init.headers || {}), Authorization: session.accessToken };
    const r = await fetch(path, { ...init, headers });
    const type = r.headers.get("content-type") || "";
    if (!type.startsWith("application/json")) return r;
    const reply = await r.clone().json();
    if (reply.code === TOKEN_TIMEOUT && session.key && attempt === 0) {
      await fetchAccessToken();
      continue;
    }
    return r;
  }
}

async function replyOf(r) {
  const reply = await r.json();
  if (reply.code !== 0) throw new ApiError(reply.code, reply.msg);
  return reply;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  return q.toString();
}

async function apiGet(path, params) {
  return replyOf(await authorized(`${path}?${query(params || {})}`, { method: "GET" }));
}

async function apiPost(path, body) {
  const init = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  return replyOf(await authorized(path, init));
}

// The live picture: { blob, at (Unix s), tiles: [{user_id, x, y, w, h}] }; an ApiError when there is none.
async function apiSnapshot(appId, recordId, width) {
  const r = await authorized(`/v1/record/snapshot?${query({ app_id: appId, record_id: recordId, width })}`, {
    method: "GET",
    cache: "no-store",
  });
  if ((r.headers.get("content-type") || "").startsWith("application/json")) await replyOf(r);
  return {
    blob: await r.blob(),
    at: Number(r.headers.get("x-snapshot-time")),
    tiles: JSON.parse(r.headers.get("x-snapshot-tiles") || "[]"),
  };
}
