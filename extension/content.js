// The page side: finds the face-sized pictures (selection.js), reads their bytes as the page can
// (cookies included, so pictures behind a login work), hands them to the service worker, and draws
// a badge over each as its verdict arrives. Clicking a badge opens the annotated result in a panel.
"use strict";

(() => {
  if (globalThis.__fakeweb) {
    globalThis.__fakeweb.hello();
    return;
  }
  const select = globalThis.FakeWebSelection;
  const palette = globalThis.FakeWebPalette;

  const byImage = new Map(); // <img> -> {id, url, result}
  const byId = new Map(); // id -> <img>
  let nextId = 1;
  let running = false;
  let host = null; // the overlay's shadow host
  let layer = null; // where the badges live
  let mutations = null;
  let visibility = null;
  let layoutQueued = false;

  const send = (message) => chrome.runtime.sendMessage(message);

  // ------------------------------------------------------------ badges

  const STYLE = `
    :host { all: initial; }
    .layer { position: absolute; left: 0; top: 0; width: 0; height: 0; z-index: 2147483646; }
    .badge { position: absolute; max-width: 260px; padding: 3px 8px; border-radius: 6px; border: 0;
      font: 600 12px/1.35 system-ui, sans-serif; cursor: pointer; box-shadow: 0 1px 4px rgba(0,0,0,.45);
      white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
    .badge[data-state="checking"], .badge[data-state="waiting"] { background: #1f2937; color: #f8fafc; }
    .badge[data-state="error"] { background: #111; color: #fecaca; outline: 2px solid rgb(235, 30, 30); }
    .panel-back { position: fixed; inset: 0; background: rgba(0,0,0,.6); z-index: 2147483647;
      display: flex; align-items: center; justify-content: center; }
    .panel { background: #111827; color: #f8fafc; border-radius: 10px; padding: 14px; max-width: min(92vw, 980px);
      max-height: 92vh; overflow: auto; font: 14px/1.4 system-ui, sans-serif; box-shadow: 0 6px 30px rgba(0,0,0,.6); }
    .panel header { display: flex; justify-content: space-between; align-items: center; gap: 12px; margin-bottom: 8px; }
    .panel h2 { font-size: 16px; margin: 0; }
    .panel button.close { font: inherit; background: #374151; color: inherit; border: 0; border-radius: 6px; padding: 4px 10px; cursor: pointer; }
    .panel canvas { display: block; max-width: 100%; height: auto; border-radius: 6px; }
    .panel ol { margin: 8px 0 0; padding-left: 20px; }
    .panel .error { color: #fecaca; }
    .panel .credentials { margin: 8px 0 0; color: #cbd5e1; }
    .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 3px; margin-right: 6px; }
  `;

  function ensureLayer() {
    if (host) return;
    host = document.createElement("fakeweb-overlay");
    host.style.cssText = "position:absolute;left:0;top:0;width:0;height:0;z-index:2147483646;";
    const root = host.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = STYLE;
    layer = document.createElement("div");
    layer.className = "layer";
    root.append(style, layer);
    document.documentElement.append(host);
  }

  function badgeText(result) {
    const faces = (n) => `${n} face${n === 1 ? "" : "s"}`;
    switch (result.state) {
      case "manipulated":
        return `manipulated ${Math.round(result.probability * 100)}% · ${result.manipulatedFaces} of ${faces(result.faces)}`;
      case "genuine":
        return `genuine · ${faces(result.faces)}`;
      case "unjudgeable":
        return `${faces(result.faces)}, too small to judge`;
      case "no_face":
        return "no face";
      case "error":
      case "waiting":
        return result.message;
      default:
        return "checking…";
    }
  }

  function paintBadge(badge, result) {
    badge.dataset.state = result.state;
    badge.textContent = badgeText(result);
    badge.title = result.state === "error" ? result.message : `FakeWeb: ${badge.textContent}. Click for the annotated photo.`;
    let colour = null;
    if (result.state === "manipulated" || result.state === "genuine") colour = palette.probabilityColour(result.probability);
    else if (result.state === "no_face" || result.state === "unjudgeable") colour = palette.GREY;
    if (colour) {
      badge.style.background = palette.rgb(colour, 0.95);
      badge.style.color = palette.textOn(colour);
    } else {
      badge.style.background = "";
      badge.style.color = "";
    }
  }

  function placeBadge(img, badge) {
    const rect = img.getBoundingClientRect();
    badge.hidden = rect.width === 0 && rect.height === 0;
    badge.style.left = `${Math.round(rect.left + window.scrollX + 4)}px`;
    badge.style.top = `${Math.round(rect.top + window.scrollY + 4)}px`;
  }

  function layout() {
    layoutQueued = false;
    for (const [img, entry] of byImage) {
      if (!img.isConnected) {
        entry.badge.remove();
        byImage.delete(img);
        continue;
      }
      placeBadge(img, entry.badge);
    }
  }

  function queueLayout() {
    if (layoutQueued || !running) return;
    layoutQueued = true;
    requestAnimationFrame(layout);
  }

  function show(img, result) {
    const entry = byImage.get(img);
    if (!entry) return;
    entry.result = result;
    img.dataset.fakewebState = result.state;
    if (result.jobId) img.dataset.fakewebJob = result.jobId;
    paintBadge(entry.badge, result);
    placeBadge(img, entry.badge);
  }

  // ------------------------------------------------------------ selection and submission

  function bytesToBase64(buffer) {
    const bytes = new Uint8Array(buffer);
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
  }

  // The picture's bytes as the page would fetch them; null when the page may not read them
  // (another site without CORS): the service worker then tries with the extension's own access.
  async function readBytes(url) {
    try {
      const response = await fetch(url, { credentials: "include" });
      if (!response.ok) return null;
      return { data: bytesToBase64(await response.arrayBuffer()), mime: response.headers.get("Content-Type") || "" };
    } catch {
      return null;
    }
  }

  async function check(img) {
    const url = select.imageUrl(img);
    const known = byImage.get(img);
    if (known && known.url === url) return;
    if (known) known.badge.remove();
    ensureLayer();
    const id = nextId++;
    const badge = document.createElement("button");
    badge.className = "badge";
    badge.type = "button";
    badge.dataset.id = String(id);
    badge.addEventListener("click", (event) => {
      event.preventDefault();
      event.stopPropagation();
      openPanel(id);
    });
    layer.append(badge);
    byImage.set(img, { id, url, badge, result: null });
    img.dataset.fakewebBadge = String(id);
    byId.set(id, img);
    show(img, { state: "checking" });
    const cached = await send({ type: "lookup", id, url });
    if (!running) return;
    if (cached && cached.result) {
      show(img, cached.result);
      return;
    }
    const read = await readBytes(url);
    if (!running) return;
    const answer = await send({ type: "submit", id, url, data: read ? read.data : null, mime: read ? read.mime : "" });
    if (answer && answer.result) show(img, answer.result);
  }

  function consider(img) {
    if (!running) return;
    const verdict = select.classify(img);
    if (verdict === "check") {
      check(img);
    } else if (verdict === "wait") {
      img.addEventListener("load", () => consider(img), { once: true });
    } else if (!byImage.has(img)) {
      img.dataset.fakewebState = `skipped-${verdict}`;
    }
  }

  // Only pictures on or near the screen are sent; the rest when they scroll into view.
  function watch(img) {
    visibility.observe(img);
  }

  function onMutations(records) {
    for (const record of records) {
      if (record.type === "attributes") {
        if (record.target.tagName === "IMG") {
          visibility.unobserve(record.target);
          watch(record.target);
        } else if (record.target.tagName === "SOURCE" && record.target.parentElement) {
          for (const img of select.imagesIn(record.target.parentElement)) watch(img);
        }
        continue;
      }
      for (const node of record.addedNodes) for (const img of select.imagesIn(node)) watch(img);
    }
    queueLayout();
  }

  // ------------------------------------------------------------ the annotated panel

  function closePanel() {
    const open = host && host.shadowRoot.querySelector(".panel-back");
    if (open) open.remove();
  }

  async function openPanel(id) {
    const img = byId.get(id);
    const entry = img && byImage.get(img);
    if (!entry || !entry.result) return;
    closePanel();
    const back = document.createElement("div");
    back.className = "panel-back";
    const panel = document.createElement("div");
    panel.className = "panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", "FakeWeb result");
    const header = document.createElement("header");
    const title = document.createElement("h2");
    title.textContent = `FakeWeb: ${badgeText(entry.result)}`;
    const close = document.createElement("button");
    close.className = "close";
    close.type = "button";
    close.textContent = "Close";
    close.addEventListener("click", closePanel);
    header.append(title, close);
    panel.append(header);
    back.append(panel);
    back.addEventListener("click", (event) => {
      if (event.target === back) closePanel();
    });
    back.addEventListener("keydown", (event) => {
      if (event.key === "Escape") closePanel();
    });
    host.shadowRoot.append(back);
    close.focus();

    const result = entry.result;
    if (result.state === "error" || !result.jobId) {
      const text = document.createElement("p");
      text.className = "error";
      text.textContent = result.message || "No result for this picture.";
      panel.append(text);
      return;
    }
    const answer = await send({ type: "annotated", jobId: result.jobId });
    if (!answer || answer.error) {
      const text = document.createElement("p");
      text.className = "error";
      text.textContent = (answer && answer.error) || "The annotated photo could not be fetched.";
      panel.append(text);
      return;
    }
    // Drawn on a canvas: the page's Content-Security-Policy governs <img> sources, not canvases.
    const raw = Uint8Array.from(atob(answer.data), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([raw], { type: "image/jpeg" }));
    const canvas = document.createElement("canvas");
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    canvas.className = "annotated";
    canvas.getContext("2d").drawImage(bitmap, 0, 0);
    panel.append(canvas);
    const list = document.createElement("ol");
    for (const face of answer.faces || []) {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      const p = face.manipulated_probability;
      swatch.style.background = palette.rgb(p == null ? palette.GREY : palette.probabilityColour(p));
      const words = p == null ? `${face.verdict} (${face.reason || "not scored"})` : `${face.verdict} ${Math.round(p * 100)}%`;
      item.append(swatch, document.createTextNode(words));
      list.append(item);
    }
    panel.append(list);
    // What the file says about itself (Content Credentials, XMP source type), beside the verdicts.
    const provenance = answer.provenance || { status: "pending" };
    const credentials = document.createElement("p");
    credentials.className = "credentials";
    credentials.dataset.provenance = provenance.status;
    const declared = { "ai-generated": " · declares AI generation", edited: " · declares edits" }[provenance.badge] || "";
    credentials.textContent = `Content Credentials: ${provenance.status}${declared}. ${answer.summary || ""}`.trim();
    panel.append(credentials);
  }

  // ------------------------------------------------------------ on and off

  function start() {
    if (running) return;
    running = true;
    visibility = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (!entry.isIntersecting) continue;
          visibility.unobserve(entry.target);
          consider(entry.target);
        }
      },
      { rootMargin: "200px" },
    );
    for (const img of document.images) watch(img);
    mutations = new MutationObserver(onMutations);
    mutations.observe(document.documentElement, {
      childList: true,
      subtree: true,
      attributes: true,
      attributeFilter: ["src", "srcset"],
    });
    window.addEventListener("resize", queueLayout, { passive: true });
    window.addEventListener("scroll", queueLayout, { passive: true, capture: true });
  }

  function stop() {
    running = false;
    if (mutations) mutations.disconnect();
    if (visibility) visibility.disconnect();
    window.removeEventListener("resize", queueLayout);
    window.removeEventListener("scroll", queueLayout, { capture: true });
    for (const img of document.images) {
      delete img.dataset.fakewebState;
      delete img.dataset.fakewebJob;
      delete img.dataset.fakewebBadge;
    }
    byImage.clear();
    byId.clear();
    if (host) host.remove();
    host = null;
    layer = null;
  }

  chrome.runtime.onMessage.addListener((message) => {
    if (message.type === "result") {
      const img = byId.get(message.id);
      if (img) show(img, message.result);
    } else if (message.type === "stop") {
      stop();
    } else if (message.type === "start") {
      start();
    }
  });

  // Ask the service worker whether this tab is switched on (by the toolbar toggle or the options' site list).
  async function hello() {
    const answer = await send({ type: "hello", url: location.href });
    if (answer && answer.enabled) start();
  }

  globalThis.__fakeweb = { hello };
  hello();
})();
