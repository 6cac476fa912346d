// The extension's only door to the gateway: uploads each picture's bytes as a job, follows it to
// its verdict, and tells the tab. A small concurrency cap, Retry-After honoured on 429 and 503, a
// local cache by URL and by bytes (SHA-256), and the per-tab switch: nothing is sent while it is off.
"use strict";

const DEFAULTS = { gatewayUrl: "http://127.0.0.1:8000", apiKey: "", threshold: 0.5, autoSites: [] };
const MAX_IN_FLIGHT = 3; // jobs submitted or being followed at once
const MAX_RETRIES = 12; // 429/503 answers for one picture before its badge turns into an error
const DEFAULT_RETRY_S = 5;
// The gateway's 429/503 codes, in the words the badge uses while it waits.
const WAIT_REASONS = {
  rate_limited: "rate limited",
  too_many_jobs: "too many of your jobs running",
  overloaded: "gateway overloaded",
  service_unavailable: "gateway unavailable",
};
const JOB_TIMEOUT_MS = 180_000;
const SCRIPTS = ["palette.js", "selection.js", "content.js"];
const AUTO_SCRIPT_ID = "fakeweb-auto";

// ---------------------------------------------------------------- settings

async function settings() {
  const stored = await chrome.storage.local.get(Object.keys(DEFAULTS));
  const merged = { ...DEFAULTS, ...stored };
  merged.gatewayUrl = String(merged.gatewayUrl).replace(/\/+$/, "");
  merged.threshold = Number(merged.threshold);
  return merged;
}

// ---------------------------------------------------------------- per-tab state

// tabId -> {enabled, manipulated: [ids], counts: {state: n}, lastError}; kept in session storage
// because Chrome stops an idle service worker and starts it again on the next event.
const tabs = new Map();

async function tabState(tabId) {
  if (!tabs.has(tabId)) {
    const key = `tab:${tabId}`;
    const stored = (await chrome.storage.session.get(key))[key];
    if (!tabs.has(tabId)) tabs.set(tabId, stored || { enabled: false, manipulated: [], counts: {}, lastError: null });
  }
  return tabs.get(tabId);
}

async function saveTab(tabId) {
  const state = tabs.get(tabId);
  if (state) await chrome.storage.session.set({ [`tab:${tabId}`]: state });
}

async function showCount(tabId) {
  const state = await tabState(tabId);
  const count = state.manipulated.length;
  const text = count ? String(count) : state.lastError ? "!" : "";
  await chrome.action.setBadgeBackgroundColor({ tabId, color: count ? [235, 30, 30, 255] : [17, 17, 17, 255] }).catch(() => {});
  await chrome.action.setBadgeText({ tabId, text }).catch(() => {});
}

async function setEnabled(tabId, enabled) {
  const state = await tabState(tabId);
  state.enabled = enabled;
  if (!enabled) {
    state.manipulated = [];
    state.counts = {};
    state.lastError = null;
    dropQueued(tabId);
  }
  await saveTab(tabId);
  await showCount(tabId);
  if (enabled) {
    // The content script asks "hello" when it starts and starts itself because the tab is on now.
    await chrome.scripting.executeScript({ target: { tabId }, files: SCRIPTS });
  } else {
    await chrome.tabs.sendMessage(tabId, { type: "stop" }).catch(() => {});
  }
}

async function resetTab(tabId) {
  tabs.delete(tabId);
  dropQueued(tabId);
  await chrome.storage.session.remove(`tab:${tabId}`);
  await showCount(tabId);
}

async function record(tabId, id, result) {
  const state = await tabState(tabId);
  if (!state.enabled) return;
  if (isFinal(result)) state.counts[result.state] = (state.counts[result.state] || 0) + 1;
  if (result.state === "manipulated" && !state.manipulated.includes(id)) state.manipulated.push(id);
  if (result.state === "error") state.lastError = result.message;
  await saveTab(tabId);
  await showCount(tabId);
  await chrome.tabs.sendMessage(tabId, { type: "result", id, result }, { frameId: 0 }).catch(() => {});
}

const isFinal = (result) => result.state !== "checking" && result.state !== "waiting";

// ---------------------------------------------------------------- local cache

// "url:<gateway> <key's hash> <threshold> <url>" and "sha:... <sha256>" -> a finished verdict. The
// key is part of it: a verdict (and the job it links to) belongs to the tenant that asked for it.
async function cacheKey(kind, config, what) {
  const tenant = (await sha256(new TextEncoder().encode(config.apiKey))).slice(0, 16);
  return `${kind}:${config.gatewayUrl} ${tenant} ${config.threshold} ${what}`;
}
async function cached(key) {
  return (await chrome.storage.session.get(key))[key] || null;
}

async function remember(keys, result) {
  if (result.state === "error") return;
  await chrome.storage.session.set(Object.fromEntries(keys.map((key) => [key, result])));
}

async function sha256(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

// ---------------------------------------------------------------- the gateway

class GatewayError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// A call to the configured gateway: the API key goes there and nowhere else.
async function gateway(config, path, options = {}) {
  // A 429/503's Retry-After holds every call, the polls of jobs already submitted included.
  for (let wait = pausedUntil - Date.now(); wait > 0; wait = pausedUntil - Date.now()) await sleep(wait);
  let response;
  try {
    response = await fetch(`${config.gatewayUrl}${path}`, {
      ...options,
      headers: { ...(options.headers || {}), "X-API-Key": config.apiKey },
      credentials: "omit",
    });
  } catch {
    throw new GatewayError(
      0,
      "unreachable",
      `Cannot reach the FakeWeb gateway at ${config.gatewayUrl}: is it running, and does its ` +
        `FAKEWEB_CORS_ORIGINS list ${location.origin}?`,
    );
  }
  if (response.ok) return response;
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const code = (body && body.error && body.error.code) || `http_${response.status}`;
  let message = (body && body.error && body.error.message) || `The gateway answered ${response.status}.`;
  if (response.status === 401) message = `Wrong API key: ${message} Fix it in the extension's options.`;
  if (response.status === 413) message = `Too large for the gateway: ${message}`;
  const retryAfter = Number(response.headers.get("Retry-After")) || null;
  throw new GatewayError(response.status, code, message, retryAfter);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The badge a finished job document earns.
function resultOf(doc) {
  const base = { jobId: doc.id, threshold: doc.threshold, faces: (doc.faces || []).length };
  if (doc.status === "no_face") return { ...base, state: "no_face" };
  if (doc.status === "failed") {
    const error = doc.error || {};
    return { ...base, state: "error", code: error.code || "job_failed", message: error.message || "The job failed." };
  }
  const scored = doc.faces.filter((face) => face.manipulated_probability != null);
  if (!scored.length) return { ...base, state: "unjudgeable" };
  const manipulated = scored.filter((face) => face.verdict === "manipulated");
  const probability = Math.max(...scored.map((face) => face.manipulated_probability));
  return {
    ...base,
    state: manipulated.length ? "manipulated" : "genuine",
    probability,
    manipulatedFaces: manipulated.length,
  };
}

// ---------------------------------------------------------------- the queue

const queue = []; // {tabId, id, url, bytes, mime, sha, attempts}
let inFlight = 0;
let pausedUntil = 0; // a 429/503's Retry-After holds every submission, not just the one refused
let pumpTimer = null;
let keepAlive = null;

function dropQueued(tabId) {
  for (let i = queue.length - 1; i >= 0; i -= 1) if (queue[i].tabId === tabId) queue.splice(i, 1);
}

// An idle service worker is stopped after 30 s; an extension API call now and then keeps it up
// while jobs are queued or followed.
function holdAwake() {
  const busy = queue.length > 0 || inFlight > 0;
  if (busy && !keepAlive) keepAlive = setInterval(() => chrome.runtime.getPlatformInfo(), 20_000);
  if (!busy && keepAlive) {
    clearInterval(keepAlive);
    keepAlive = null;
  }
}

function pump() {
  holdAwake();
  const wait = pausedUntil - Date.now();
  if (wait > 0) {
    if (!pumpTimer) {
      pumpTimer = setTimeout(() => {
        pumpTimer = null;
        pump();
      }, wait);
    }
    return;
  }
  while (inFlight < MAX_IN_FLIGHT && queue.length) {
    const item = queue.shift();
    inFlight += 1;
    run(item).finally(() => {
      inFlight -= 1;
      pump();
    });
  }
}

// Wait out a 429/503 (Retry-After seconds, for everyone), telling the tab; false once retries run out.
async function backOff(item, error) {
  item.attempts += 1;
  if (item.attempts > MAX_RETRIES) return false;
  const seconds = error.retryAfter || DEFAULT_RETRY_S;
  pausedUntil = Math.max(pausedUntil, Date.now() + seconds * 1000);
  const why = WAIT_REASONS[error.code] || (error.status === 429 ? "rate limited" : "gateway busy");
  await record(item.tabId, item.id, { state: "waiting", code: error.code, message: `${why}, retrying in ${seconds} s` });
  return true;
}

async function run(item) {
  const state = await tabState(item.tabId);
  if (!state.enabled) return; // switched off while queued: nothing is sent
  const config = await settings();
  let result;
  try {
    result = await follow(item, config);
  } catch (error) {
    if ((error.status === 429 || error.status === 503) && (await backOff(item, error))) {
      queue.unshift(item);
      return;
    }
    result = { state: "error", code: error.code || "error", message: error.message };
    if (error.status === 401) failQueued(result);
  }
  await remember([await cacheKey("sha", config, item.sha), await cacheKey("url", config, item.url)], result);
  await record(item.tabId, item.id, result);
}

// A wrong key fails every queued picture at once instead of sending each to be refused.
function failQueued(result) {
  for (const item of queue.splice(0)) record(item.tabId, item.id, result);
}

function fileName(url, mime) {
  const last = (() => {
    try {
      return new URL(url).pathname.split("/").pop();
    } catch {
      return "";
    }
  })();
  return last && /\.[a-z0-9]{2,5}$/i.test(last) ? last.slice(-100) : `image.${(mime.split("/")[1] || "jpg").split(";")[0]}`;
}

// Submit the bytes (or reuse the job already running for them), then poll to the end.
async function follow(item, config) {
  if (!item.jobId) {
    const form = new FormData();
    form.append("image", new Blob([item.bytes], { type: item.mime || "application/octet-stream" }), fileName(item.url, item.mime));
    form.append("threshold", String(config.threshold));
    const answer = await gateway(config, "/v1/jobs", { method: "POST", body: form });
    item.jobId = (await answer.json()).id;
  }
  const started = Date.now();
  let delay = 300;
  while (Date.now() - started < JOB_TIMEOUT_MS) {
    const doc = await (await gateway(config, `/v1/jobs/${item.jobId}`)).json();
    if (doc.status === "completed" || doc.status === "no_face" || doc.status === "failed") return resultOf(doc);
    await sleep(delay);
    delay = Math.min(1500, delay * 1.5);
  }
  throw new GatewayError(0, "timeout", "The gateway did not finish this picture in 3 minutes.");
}

function decode(base64) {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

// Bytes the page could not read (another site without CORS): try with the extension's own host access.
async function fetchBytes(url) {
  try {
    const response = await fetch(url, { credentials: "include" });
    if (!response.ok) return null;
    return { bytes: new Uint8Array(await response.arrayBuffer()), mime: response.headers.get("Content-Type") || "" };
  } catch {
    return null;
  }
}

async function submit(tabId, message) {
  const state = await tabState(tabId);
  if (!state.enabled) return { result: { state: "error", code: "off", message: "FakeWeb is off on this tab." } };
  const config = await settings();
  let bytes = message.data ? decode(message.data) : null;
  let mime = message.mime;
  if (!bytes) {
    const fetched = await fetchBytes(message.url);
    if (!fetched) {
      const result = {
        state: "error",
        code: "unreadable",
        message: "This picture cannot be read (another site without CORS): allow other sites in the extension's options.",
      };
      await record(tabId, message.id, result);
      return { result };
    }
    ({ bytes, mime } = fetched);
  }
  const sha = await sha256(bytes);
  const known = await cached(await cacheKey("sha", config, sha));
  if (known) {
    await remember([await cacheKey("url", config, message.url)], known);
    await record(tabId, message.id, known);
    return { result: known };
  }
  queue.push({ tabId, id: message.id, url: message.url, bytes, mime, sha, attempts: 0 });
  pump();
  return { result: { state: "checking" } };
}

// ---------------------------------------------------------------- sites checked automatically

async function syncAutoSites() {
  const { autoSites } = await settings();
  const registered = await chrome.scripting.getRegisteredContentScripts({ ids: [AUTO_SCRIPT_ID] });
  if (registered.length) await chrome.scripting.unregisterContentScripts({ ids: [AUTO_SCRIPT_ID] });
  const granted = [];
  for (const pattern of autoSites) if (await chrome.permissions.contains({ origins: [pattern] })) granted.push(pattern);
  if (granted.length) {
    await chrome.scripting.registerContentScripts([
      { id: AUTO_SCRIPT_ID, matches: granted, js: SCRIPTS, runAt: "document_idle", persistAcrossSessions: true },
    ]);
  }
}

function matchesPattern(pattern, url) {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`).test(url);
}

// ---------------------------------------------------------------- messages

const handlers = {
  async hello(message, sender) {
    const tabId = sender.tab.id;
    const state = await tabState(tabId);
    if (!state.enabled) {
      const { autoSites } = await settings();
      if (autoSites.some((pattern) => matchesPattern(pattern, message.url))) {
        state.enabled = true;
        await saveTab(tabId);
      }
    }
    return { enabled: state.enabled };
  },
  async lookup(message, sender) {
    const result = await cached(await cacheKey("url", await settings(), message.url));
    if (result) await record(sender.tab.id, message.id, result);
    return { result };
  },
  submit: (message, sender) => submit(sender.tab.id, message),
  async annotated(message) {
    const config = await settings();
    try {
      const image = await (await gateway(config, `/v1/jobs/${message.jobId}/image`)).arrayBuffer();
      const doc = await (await gateway(config, `/v1/jobs/${message.jobId}`)).json();
      const bytes = new Uint8Array(image);
      let text = "";
      for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return { data: btoa(text), faces: doc.faces, provenance: doc.provenance, summary: doc.summary };
    } catch (error) {
      return { error: error.message };
    }
  },
  async tabState(message) {
    const state = await tabState(message.tabId);
    return { ...state, queued: queue.filter((item) => item.tabId === message.tabId).length };
  },
  async setEnabled(message) {
    try {
      await setEnabled(message.tabId, message.enabled);
      return { ok: true };
    } catch (error) {
      return { ok: false, error: `Cannot check this page: ${error.message}` };
    }
  },
  async syncAutoSites() {
    await syncAutoSites();
    return { ok: true };
  },
  async testGateway() {
    const config = await settings();
    try {
      await gateway(config, "/v1/jobs?limit=1");
      return { ok: true, message: `Connected to ${config.gatewayUrl}; the API key works.` };
    } catch (error) {
      return { ok: false, message: error.message };
    }
  },
};

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  const handler = handlers[message.type];
  if (!handler) return false;
  handler(message, sender).then(sendResponse, (error) => sendResponse({ error: String(error) }));
  return true; // answered asynchronously
});

chrome.tabs.onUpdated.addListener((tabId, change) => {
  // A new page (or a reload) starts switched off: activeTab's access ended with the old page.
  if (change.status === "loading") resetTab(tabId);
});
chrome.tabs.onRemoved.addListener((tabId) => resetTab(tabId));
chrome.runtime.onInstalled.addListener(() => syncAutoSites());
