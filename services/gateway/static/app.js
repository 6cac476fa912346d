// FakeWeb page: submit photos, follow each job by stage, then draw the verdicts over the photo
// from the result JSON so the threshold slider and the mesh toggle restyle it without a new job.
"use strict";

(() => {
  const KEY_STORAGE = "fakeweb.apiKey";
  const FINAL = new Set(["completed", "failed", "no_face"]);
  const SUBMIT_ATTEMPTS = 20; // tries of one submission while the service answers 429 or 503
  const STAGES = ["provenance", "detect", "classify", "annotate"];
  const STATUS_TEXT = {
    submitting: "Uploading",
    queued: "Queued",
    running: "Working",
    completed: "Done",
    no_face: "No face",
    failed: "Failed",
    rejected: "Rejected",
  };
  const STAGE_TEXT = {
    provenance: "reading Content Credentials",
    detect: "finding faces",
    classify: "scoring faces",
    annotate: "drawing the result",
  };
  // What each provenance status means, in the Content Credentials panel (README: "Content Credentials").
  const PROVENANCE_TEXT = {
    pending: "Not read yet.",
    none: "No Content Credentials in this file. Metadata is easily stripped, so this says nothing either way.",
    valid: "Signed, unchanged since signing, by a signer on the trust list.",
    untrusted: "Signed and unchanged since signing, but the signer is not on this server's trust list.",
    invalid: "Credentials are present but do not verify: the file was changed after signing, or they are broken.",
  };
  const BADGE_TEXT = { "ai-generated": "Declares AI generation", edited: "Declares edits" };
  const REASONS = {
    too_small: "Too small to judge",
    too_blurry: "Too blurry to judge",
    cut_off: "Cut off by the photo's edge",
    too_few_frames: "Scored in too few frames to judge",
  };
  const { GREY, probabilityColour, rgb, textOn } = globalThis.FakeWebPalette; // palette.js
  const GENUINE_BOX = [60, 220, 90];

  const $ = (selector, root = document) => root.querySelector(selector);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ---------------------------------------------------------------- API key

  const apiKey = () => localStorage.getItem(KEY_STORAGE) || "";

  function showKeyState() {
    const key = apiKey();
    $("#key-summary").textContent = key ? `API key saved (…${key.slice(-4)})` : "API key: not set";
    $("#key-panel").dataset.state = key ? "saved" : "missing";
  }

  function askForKey() {
    const panel = $("#key-panel");
    panel.open = true;
    $("#api-key").focus();
  }

  // ---------------------------------------------------------------- API calls

  class ApiError extends Error {
    constructor(status, code, message, retryAfter = null) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
    }
  }

  function authHeaders(extra = {}) {
    const headers = { ...extra };
    const key = apiKey();
    if (key) headers["X-API-Key"] = key;
    return headers;
  }

  function describeError(status, statusText, body) {
    let code = `http_${status}`;
    let message = `The server answered ${status}${statusText ? " " + statusText : ""}.`;
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    } else if (body && typeof body.detail === "string") {
      message = body.detail;
    }
    if (status === 401 || status === 403) {
      message += " Check the API key above.";
      askForKey();
    }
    return { code, message };
  }

  async function errorFrom(response) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    const { code, message } = describeError(response.status, response.statusText, body);
    const retryAfter = Number(response.headers.get("Retry-After")) || null;
    return new ApiError(response.status, code, message, retryAfter);
  }

  async function api(path, options = {}) {
    let response;
    try {
      response = await fetch(path, { ...options, headers: authHeaders(options.headers) });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, "network", "Cannot reach the FakeWeb server. Check the connection; retrying…");
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  // Multipart upload through XHR: fetch cannot report upload progress.
  function uploadPhoto(file, onProgress) {
    return new Promise((resolve, reject) => {
      const form = new FormData();
      form.append("image", file, file.name);
      form.append("include_landmarks", "true");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/v1/jobs");
      for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
      xhr.responseType = "json";
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      };
      xhr.onerror = () => reject(new ApiError(0, "network", "Cannot reach the FakeWeb server. Check the connection."));
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          resolve(xhr.response);
          return;
        }
        const { code, message } = describeError(xhr.status, xhr.statusText, xhr.response);
        reject(new ApiError(xhr.status, code, message, Number(xhr.getResponseHeader("Retry-After")) || null));
      };
      xhr.send(form);
    });
  }

  async function submitUrl(url) {
    const response = await api("/v1/jobs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ url, include_landmarks: true }),
    });
    return response.json();
  }

  // ---------------------------------------------------------------- drawing helpers

  const meshOpacity = (p) => 0.35 + 0.6 * Math.min(1, Math.max(0, p));
  const percent = (p) => `${Math.round(p * 100)}%`;

  let meshEdges = null;
  function loadMeshEdges() {
    if (!meshEdges) {
      meshEdges = fetch("/static/mesh-edges.json")
        .then((response) => (response.ok ? response.json() : null))
        .catch(() => null);
    }
    return meshEdges;
  }

  function verdictAt(face, threshold) {
    if (face.verdict === "unjudgeable" || face.manipulated_probability == null) return "unjudgeable";
    return face.manipulated_probability >= threshold ? "manipulated" : "genuine";
  }

  function strokeEdges(ctx, points, edges) {
    const path = new Path2D();
    for (let i = 0; i + 1 < edges.length; i += 2) {
      const a = points[edges[i]];
      const b = points[edges[i + 1]];
      if (!a || !b) continue;
      path.moveTo(a[0], a[1]);
      path.lineTo(b[0], b[1]);
    }
    ctx.stroke(path);
  }

  function drawLabel(ctx, box, text, colour, unit) {
    const [x, y, , h] = box;
    const size = Math.max(12 * unit, Math.min(h * 0.16, 40 * unit));
    ctx.font = `700 ${size}px system-ui, sans-serif`;
    const padX = size * 0.35;
    const width = ctx.measureText(text).width + 2 * padX;
    const height = size * 1.35;
    const top = y - height - 2 * unit >= 0 ? y - height - 2 * unit : y + 2 * unit;
    ctx.fillStyle = rgb(colour, 0.92);
    ctx.beginPath();
    ctx.roundRect(x, top, width, height, size * 0.3);
    ctx.fill();
    ctx.fillStyle = textOn(colour);
    ctx.textBaseline = "middle";
    ctx.fillText(text, x + padX, top + height / 2 + size * 0.04);
  }

  // ---------------------------------------------------------------- one job

  class JobCard {
    constructor({ title, file = null, url = null, jobId = null }) {
      this.title = title;
      this.jobId = jobId;
      this.file = file;
      this.url = url;
      this.doc = null;
      this.image = null;
      this.imageSource = null;
      this.threshold = 0.5;
      this.highlight = null;
      this.closed = false;
      this.abort = new AbortController();
      this.el = $("#job-template").content.firstElementChild.cloneNode(true);
      this.canvas = $(".overlay", this.el);
      $(".job-title", this.el).textContent = title;
      $(".job-close", this.el).addEventListener("click", () => this.close());
      const slider = $(".threshold", this.el);
      const sliderId = `threshold-${Math.random().toString(36).slice(2, 9)}`;
      slider.id = sliderId;
      $(".threshold-control label", this.el).htmlFor = sliderId;
      slider.addEventListener("input", () => {
        this.threshold = Number(slider.value);
        this.restyle();
      });
      $(".mesh-toggle", this.el).addEventListener("change", () => this.draw());
      $(".dl-image", this.el).addEventListener("click", () => this.downloadAnnotated());
      $(".dl-view", this.el).addEventListener("click", () => this.downloadView());
      $(".dl-json", this.el).addEventListener("click", () => this.downloadJson());
      this.canvas.addEventListener("click", (event) => this.pickFace(event));
      this.resizeObserver = new ResizeObserver(() => this.image && this.draw());
      this.resizeObserver.observe($(".canvas-wrap", this.el));
      this.setStatus("submitting");
    }

    get stem() {
      const name = this.title.split(/[\\/]/).pop() || "photo";
      return name.replace(/\.[a-z0-9]+$/i, "").replace(/[^\w.-]+/g, "_").slice(0, 80) || "photo";
    }

    setStatus(status, text) {
      this.el.dataset.status = status;
      $(".status-pill", this.el).textContent = text || STATUS_TEXT[status] || status;
    }

    showError(message) {
      const box = $(".job-error", this.el);
      box.textContent = message;
      box.hidden = !message;
    }

    setStage(name, state, detail = "") {
      const li = $(`.stages [data-stage="${name}"]`, this.el);
      li.classList.toggle("done", state === "done");
      li.classList.toggle("active", state === "active");
      li.classList.toggle("failed", state === "failed");
      $(".stage-detail", li).textContent = detail;
    }

    close() {
      this.closed = true;
      this.abort.abort();
      this.resizeObserver.disconnect();
      if (this.imageUrl) URL.revokeObjectURL(this.imageUrl);
      if (this.clipUrl) URL.revokeObjectURL(this.clipUrl);
      this.el.remove();
    }

    async run() {
      if (this.jobId) {
        // An earlier job reopened from the recent-jobs list: nothing to upload.
        this.el.dataset.jobId = this.jobId;
        this.setStage("upload", "done");
        await this.follow();
        return;
      }
      let accepted;
      // 429 (job cap, rate limit) and 503 (overloaded) stored nothing: wait Retry-After and send again.
      for (let attempt = 1; ; attempt += 1) {
        try {
          this.setStage("upload", "active");
          if (this.file) {
            accepted = await uploadPhoto(this.file, (share) => this.setStage("upload", "active", percent(share)));
          } else {
            accepted = await submitUrl(this.url);
          }
          this.showError("");
          break;
        } catch (err) {
          if ((err.status === 429 || err.status === 503) && attempt < SUBMIT_ATTEMPTS && !this.closed) {
            const wait = err.retryAfter || Math.min(30, 2 * attempt);
            this.showError(`${err.message} Trying again in ${wait} s…`);
            await sleep(wait * 1000);
            continue;
          }
          this.setStage("upload", "failed");
          this.setStatus("rejected");
          this.showError(err.message);
          return;
        }
      }
      this.jobId = accepted.id;
      this.el.dataset.jobId = accepted.id;
      this.setStage("upload", "done");
      this.setStatus("queued");
      await this.follow();
    }

    async follow() {
      let delay = 300;
      let failures = 0;
      while (!this.closed) {
        let doc;
        try {
          doc = await (await api(`/v1/jobs/${this.jobId}`, { signal: this.abort.signal })).json();
          failures = 0;
          this.showError("");
        } catch (err) {
          if (err.name === "AbortError") return;
          failures += 1;
          if (err.status === 404 || err.status === 401 || err.status === 403 || failures > 20) {
            this.setStatus("failed");
            this.showError(err.message);
            return;
          }
          this.showError(err.message);
          await sleep(err.retryAfter ? err.retryAfter * 1000 : Math.min(5000, 500 * failures));
          continue;
        }
        this.doc = doc;
        this.showProgress(doc);
        if (FINAL.has(doc.status)) break;
        await sleep(delay);
        delay = Math.min(1500, delay * 1.25);
      }
      if (this.closed) return;
      if (this.doc.status === "failed") {
        const error = this.doc.error || { message: "The job failed." };
        this.showError(error.message);
        return;
      }
      await this.showResult();
    }

    showProgress(doc) {
      const progress = doc.progress || {};
      const timings = doc.timings || {};
      const current = STAGES.indexOf(doc.stage);
      this.setStatus(doc.status, doc.status === "running" && doc.stage ? `Working: ${STAGE_TEXT[doc.stage] || doc.stage}` : null);
      STAGES.forEach((stage, i) => {
        let state = "";
        if (FINAL.has(doc.status) && doc.status !== "failed") state = "done";
        else if ((timings[stage] && timings[stage].finished_at) || (current >= 0 && i < current)) state = "done";
        else if (doc.status === "running" && i === current) state = "active";
        else if (doc.status === "failed" && i === current) state = "failed";
        let detail = "";
        if (stage === "detect" && progress.frames_total != null && progress.faces_total == null) {
          detail = `frame ${progress.frames_detected || 0}/${progress.frames_total}`;
        } else if (stage === "detect" && progress.faces_total != null) {
          detail = `${progress.faces_total} face${progress.faces_total === 1 ? "" : "s"}`;
        } else if (stage === "classify" && progress.faces_judgeable != null) {
          detail = `${progress.faces_scored || 0}/${progress.faces_judgeable}`;
        } else if (stage === "annotate" && progress.faces_annotated != null && state !== "") {
          detail = `${progress.faces_annotated}`;
        }
        this.setStage(stage, state, detail);
      });
      this.showCredentials(doc);
    }

    showCredentials(doc) {
      const provenance = doc.provenance || { status: "pending" };
      const badge = $(".cred-badge", this.el);
      badge.hidden = !provenance.badge;
      badge.textContent = BADGE_TEXT[provenance.badge] || "";
      badge.dataset.badge = provenance.badge || "";
      const panel = $(".credentials", this.el);
      panel.dataset.provenance = provenance.status;
      $(".cred-status", panel).textContent = `${provenance.status}: ${PROVENANCE_TEXT[provenance.status] || ""}`;
      const rows = [
        ["Written by", provenance.claim_generator],
        ["Signed by", [provenance.signer, provenance.issuer].filter(Boolean).join(", ")],
        ["Signed at", provenance.signed_at],
        ["Source type", provenance.digital_source_type && `${provenance.digital_source_type} (${provenance.digital_source_type_from})`],
        ["Actions", (provenance.actions || []).map((a) => a.action.replace(/^c2pa\./, "")).join(", ")],
        ["Made from", (provenance.ingredients || []).map((i) => i.title || i.format || "an ingredient").join(", ")],
        ["Why", provenance.reason],
      ].filter(([, value]) => value);
      const details = $(".cred-details", panel);
      details.replaceChildren(
        ...rows.flatMap(([name, value]) => {
          const dt = document.createElement("dt");
          dt.textContent = name;
          const dd = document.createElement("dd");
          dd.textContent = value;
          return [dt, dd];
        }),
      );
      const note = $(".cred-note", panel);
      note.textContent = doc.summary || "";
      note.classList.toggle("disagree", (doc.summary || "").includes("Disagreement"));
    }

    async loadBaseImage() {
      if (this.file) {
        this.imageSource = "upload";
        return createImageBitmap(this.file, { imageOrientation: "from-image" });
      }
      for (const [path, source] of [
        [`/v1/jobs/${this.jobId}/original`, "original"],
        [`/v1/jobs/${this.jobId}/image`, "annotated"],
      ]) {
        try {
          const blob = await (await api(path, { signal: this.abort.signal })).blob();
          this.imageSource = source;
          return await createImageBitmap(blob, { imageOrientation: "from-image" });
        } catch (err) {
          if (err.name === "AbortError") throw err;
        }
      }
      throw new ApiError(0, "no_image", "The photo could not be loaded from the server.");
    }

    async showResult() {
      if (this.doc.media === "video") {
        await this.showVideoResult();
        return;
      }
      const doc = this.doc;
      this.threshold = doc.threshold;
      const slider = $(".threshold", this.el);
      slider.value = String(doc.threshold);
      try {
        [this.image, this.edges] = await Promise.all([this.loadBaseImage(), loadMeshEdges()]);
      } catch (err) {
        if (err.name === "AbortError") return;
        this.showError(err.message);
        return;
      }
      if (this.closed) return;
      this.el.dataset.imageSource = this.imageSource;
      const faces = doc.faces || [];
      $(".result", this.el).hidden = false;
      $(".threshold-control", this.el).hidden = faces.length === 0;
      $(".switch", this.el).hidden = faces.length === 0;
      this.buildFaceList(faces);
      this.restyle();
      this.el.dataset.ready = "true";
    }

    // A video: the annotated clip plays in place of the canvas; one list entry per tracked person,
    // its thumbnail a timeline of the person's frame scores (threshold as a dashed line).
    async showVideoResult() {
      const doc = this.doc;
      try {
        const blob = await (await api(`/v1/jobs/${this.jobId}/video`, { signal: this.abort.signal })).blob();
        this.clipUrl = URL.createObjectURL(blob);
      } catch (err) {
        if (err.name === "AbortError") return;
        this.showError(err.message);
        return;
      }
      if (this.closed) return;
      const clip = $(".clip", this.el);
      clip.src = this.clipUrl;
      clip.hidden = false;
      this.canvas.hidden = true;
      this.threshold = doc.threshold;
      $(".result", this.el).hidden = false;
      for (const selector of [".threshold-control", ".switch", ".dl-view"]) $(selector, this.el).hidden = true;
      const tracks = doc.tracks || [];
      const list = $(".faces", this.el);
      list.replaceChildren();
      for (const track of tracks) {
        const li = $("#face-template").content.firstElementChild.cloneNode(true);
        li.dataset.track = track.track;
        li.dataset.verdict = track.verdict;
        $(".face-name", li).textContent = `Person ${track.track + 1}`;
        const badge = $(".verdict", li);
        badge.className = `verdict ${track.verdict}`;
        badge.textContent = track.verdict;
        const p = track.manipulated_probability;
        const bar = $(".bar", li);
        bar.hidden = p == null;
        if (p != null) {
          $(".bar-fill", li).style.width = percent(p);
          $(".bar-fill", li).style.background = rgb(probabilityColour(p));
          $(".bar-mark", li).style.left = `calc(${percent(doc.threshold)} - 1px)`;
          bar.setAttribute("aria-label", `Manipulated: ${percent(p)} likely`);
        }
        const meta = [p != null ? `${percent(p)} likely manipulated` : REASONS[track.reason] || "Not judged"];
        meta.push(`seen in ${track.frames_seen} frames, ${track.first_s.toFixed(1)}–${track.last_s.toFixed(1)} s`);
        if (track.model) meta.push(`model ${track.model.name} v${track.model.version}`);
        $(".face-meta", li).textContent = meta.join(" · ");
        this.drawTimeline($(".thumb", li), track.timeline, (doc.video && doc.video.duration_s) || track.last_s || 1);
        li.addEventListener("click", () => {
          clip.currentTime = track.first_s;
        });
        list.append(li);
      }
      const judged = tracks.filter((track) => track.verdict !== "unjudgeable");
      const fakes = judged.filter((track) => track.verdict === "manipulated").length;
      $(".summary", this.el).textContent = tracks.length
        ? `${tracks.length} ${tracks.length === 1 ? "person" : "people"} in ${doc.video.frames_analysed} frames: ${fakes} manipulated`
        : "No face in the analysed frames.";
      this.el.dataset.ready = "true";
    }

    drawTimeline(canvas, timeline, duration) {
      const size = 144;
      canvas.width = size;
      canvas.height = size;
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#222";
      ctx.fillRect(0, 0, size, size);
      const x = (t) => 4 + ((size - 8) * t) / duration;
      const y = (p) => size - 4 - (size - 8) * p;
      ctx.strokeStyle = "#888";
      ctx.setLineDash([4, 4]);
      ctx.beginPath();
      ctx.moveTo(0, y(this.threshold));
      ctx.lineTo(size, y(this.threshold));
      ctx.stroke();
      ctx.setLineDash([]);
      for (const point of timeline) {
        const p = point.manipulated_probability;
        ctx.fillStyle = p == null ? rgb(GREY) : rgb(probabilityColour(p));
        ctx.beginPath();
        ctx.arc(x(point.time_s), p == null ? size / 2 : y(p), 4, 0, 2 * Math.PI);
        ctx.fill();
      }
    }

    buildFaceList(faces) {
      const list = $(".faces", this.el);
      list.replaceChildren();
      this.faceItems = faces.map((face) => {
        const li = $("#face-template").content.firstElementChild.cloneNode(true);
        li.dataset.index = face.index;
        $(".face-name", li).textContent = `Face ${face.index + 1}`;
        this.drawThumb($(".thumb", li), face.box);
        const focus = () => {
          this.highlight = face.index;
          li.classList.add("highlight");
          this.draw();
        };
        const blur = () => {
          if (this.highlight === face.index) this.highlight = null;
          li.classList.remove("highlight");
          this.draw();
        };
        li.addEventListener("focus", focus);
        li.addEventListener("blur", blur);
        li.addEventListener("mouseenter", focus);
        li.addEventListener("mouseleave", blur);
        list.append(li);
        return { face, li };
      });
    }

    drawThumb(canvas, box) {
      const size = 144;
      canvas.width = size;
      canvas.height = size;
      const [x, y, w, h] = box;
      const side = Math.max(w, h) * 1.3;
      const cx = x + w / 2;
      const cy = y + h / 2;
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#222";
      ctx.fillRect(0, 0, size, size);
      ctx.drawImage(this.image, cx - side / 2, cy - side / 2, side, side, 0, 0, size, size);
    }

    restyle() {
      const t = this.threshold;
      $(".threshold-value", this.el).textContent = t.toFixed(2);
      const counts = { manipulated: 0, genuine: 0, unjudgeable: 0 };
      for (const { face, li } of this.faceItems || []) {
        const verdict = verdictAt(face, t);
        counts[verdict] += 1;
        li.dataset.verdict = verdict;
        const badge = $(".verdict", li);
        badge.className = `verdict ${verdict}`;
        badge.textContent = verdict;
        const bar = $(".bar", li);
        const fill = $(".bar-fill", li);
        const mark = $(".bar-mark", li);
        const meta = [];
        if (face.manipulated_probability != null) {
          const p = face.manipulated_probability;
          fill.style.width = percent(p);
          fill.style.background = rgb(probabilityColour(p));
          mark.style.left = `calc(${percent(t)} - 1px)`;
          bar.hidden = false;
          bar.setAttribute("aria-label", `Manipulated: ${percent(p)} likely`);
          meta.push(`${percent(p)} likely manipulated`);
        } else {
          bar.hidden = true;
          meta.push(REASONS[face.reason] || "Not judged");
        }
        if (face.model) meta.push(`model ${face.model.name} v${face.model.version}`);
        if (verdict === "manipulated" && !face.landmarks) {
          meta.push(face.mesh_note || `no mesh data (scored below the job's threshold ${this.doc.threshold})`);
        }
        $(".face-meta", li).textContent = meta.join(" · ");
      }
      const total = (this.faceItems || []).length;
      let summary;
      if (this.doc.status === "no_face" || total === 0) summary = "No face found in this photo.";
      else {
        const parts = [];
        if (counts.manipulated) parts.push(`${counts.manipulated} manipulated`);
        if (counts.genuine) parts.push(`${counts.genuine} genuine`);
        if (counts.unjudgeable) parts.push(`${counts.unjudgeable} not judged`);
        summary = `${total} face${total === 1 ? "" : "s"}: ${parts.join(", ")}`;
      }
      $(".summary", this.el).textContent = summary;
      this.el.dataset.manipulated = String(counts.manipulated);
      this.draw();
    }

    draw() {
      if (!this.image) return;
      const canvas = this.canvas;
      const img = this.image;
      if (canvas.width !== img.width || canvas.height !== img.height) {
        canvas.width = img.width;
        canvas.height = img.height;
      }
      const ctx = canvas.getContext("2d");
      ctx.setLineDash([]);
      ctx.globalAlpha = 1;
      ctx.drawImage(img, 0, 0);
      const shown = canvas.clientWidth || img.width;
      const unit = Math.max(1, img.width / shown); // image pixels per CSS pixel
      const meshOn = $(".mesh-toggle", this.el).checked;
      const t = this.threshold;
      const faces = (this.doc && this.doc.faces) || [];
      let meshes = 0;
      let manipulated = 0;
      ctx.lineJoin = "round";
      ctx.lineCap = "round";
      for (const face of faces) {
        const verdict = verdictAt(face, t);
        const [x, y, w, h] = face.box;
        const side = Math.max(w, h);
        const p = face.manipulated_probability;
        if (verdict === "manipulated") {
          manipulated += 1;
          const colour = probabilityColour(p);
          if (meshOn && face.landmarks && this.edges) {
            ctx.strokeStyle = rgb(colour, meshOpacity(p));
            // A face shown smaller than ~70 CSS px gets only the contours: a full tesselation would be a blot.
            if (side / unit >= 70) {
              ctx.lineWidth = Math.max(side / 300, 0.5 * unit);
              strokeEdges(ctx, face.landmarks, this.edges.tesselation);
            }
            ctx.lineWidth = Math.max(side / 120, 1.2 * unit);
            strokeEdges(ctx, face.landmarks, this.edges.contours);
            meshes += 1;
          }
          ctx.strokeStyle = rgb(colour);
          ctx.lineWidth = Math.max(side / 200, 2.5 * unit);
          ctx.strokeRect(x, y, w, h);
        } else if (verdict === "genuine") {
          ctx.strokeStyle = rgb(GENUINE_BOX);
          ctx.lineWidth = Math.max(side / 250, 1.5 * unit);
          ctx.strokeRect(x, y, w, h);
        } else {
          ctx.strokeStyle = rgb(GREY);
          ctx.lineWidth = Math.max(side / 200, 1.5 * unit);
          ctx.setLineDash([6 * unit, 5 * unit]);
          ctx.strokeRect(x, y, w, h);
          ctx.setLineDash([]);
        }
        if (p != null) drawLabel(ctx, face.box, percent(p), verdict === "manipulated" ? probabilityColour(p) : GENUINE_BOX, unit);
        if (this.highlight === face.index) {
          const pad = 4 * unit;
          ctx.strokeStyle = "rgba(255, 255, 255, 0.95)";
          ctx.lineWidth = 2.5 * unit;
          ctx.setLineDash([8 * unit, 5 * unit]);
          ctx.strokeRect(x - pad, y - pad, w + 2 * pad, h + 2 * pad);
          ctx.setLineDash([]);
        }
      }
      canvas.dataset.threshold = t.toFixed(2);
      canvas.dataset.manipulated = String(manipulated);
      canvas.dataset.meshes = String(meshes);
      canvas.setAttribute(
        "aria-label",
        `Photo with ${faces.length} face${faces.length === 1 ? "" : "s"} marked; ${manipulated} shown as manipulated at threshold ${t.toFixed(2)}`,
      );
    }

    // A click or tap on a face in the photo brings its row in the list into view and focus.
    pickFace(event) {
      const rect = this.canvas.getBoundingClientRect();
      const x = ((event.clientX - rect.left) * this.canvas.width) / rect.width;
      const y = ((event.clientY - rect.top) * this.canvas.height) / rect.height;
      const hit = (this.faceItems || []).find(({ face }) => {
        const [bx, by, bw, bh] = face.box;
        return x >= bx && x <= bx + bw && y >= by && y <= by + bh;
      });
      if (hit) {
        hit.li.scrollIntoView({ block: "nearest", behavior: "smooth" });
        hit.li.focus({ preventScroll: true });
      }
    }

    async downloadAnnotated() {
      const button = $(".dl-image", this.el);
      button.disabled = true;
      try {
        const blob = await (await api(`/v1/jobs/${this.jobId}/image`)).blob();
        saveBlob(blob, `${this.stem}.fakeweb.jpg`);
        this.showError("");
      } catch (err) {
        this.showError(err.message);
      } finally {
        button.disabled = false;
      }
    }

    downloadView() {
      this.canvas.toBlob((blob) => blob && saveBlob(blob, `${this.stem}.fakeweb-view.png`), "image/png");
    }

    downloadJson() {
      const blob = new Blob([JSON.stringify(this.doc, null, 2)], { type: "application/json" });
      saveBlob(blob, `${this.stem}.fakeweb.json`);
    }
  }

  function saveBlob(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // ---------------------------------------------------------------- page wiring

  // New cards go on top, in the order they were chosen.
  function startJobs(optionsList) {
    const cards = optionsList.map((options) => new JobCard(options));
    $("#jobs").prepend(...cards.map((card) => card.el));
    for (const card of cards) card.run();
    return cards;
  }

  function submitFiles(files) {
    const images = [...files].filter((file) => !file.type || /^(image|video)\//.test(file.type));
    const error = $("#submit-error");
    if (images.length === 0) {
      error.textContent = "Those files are not photos or videos. Choose JPEG, PNG or WebP photos, or MP4, MOV or WebM videos.";
      error.hidden = false;
      return;
    }
    error.hidden = true;
    startJobs(images.map((file) => ({ title: file.name || "pasted image", file })));
  }

  function submitUrlString(text) {
    const error = $("#submit-error");
    let url;
    try {
      url = new URL(text.trim());
    } catch {
      url = null;
    }
    if (!url || !["http:", "https:"].includes(url.protocol)) {
      error.textContent = "That is not a web address. Paste a link that starts with http:// or https://.";
      error.hidden = false;
      return;
    }
    error.hidden = true;
    startJobs([{ title: url.href, url: url.href }]);
  }

  // ---------------------------------------------------------------- recent jobs

  async function showRecentJobs() {
    const list = $("#recent-list");
    const error = $("#recent-error");
    list.replaceChildren();
    error.hidden = true;
    let jobs;
    try {
      jobs = (await (await api("/v1/jobs?limit=15")).json()).jobs || [];
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      return;
    }
    if (jobs.length === 0) {
      const empty = document.createElement("li");
      empty.className = "hint";
      empty.textContent = "No jobs yet.";
      list.append(empty);
    }
    for (const job of jobs) {
      const li = document.createElement("li");
      const when = new Date(job.created_at * 1000).toLocaleString();
      const total = job.progress ? job.progress.faces_total : null;
      const faces = total ? `${total} face${total === 1 ? "" : "s"}` : "";
      const text = document.createElement("span");
      text.className = "recent-text";
      text.textContent = [when, STATUS_TEXT[job.status] || job.status, faces].filter(Boolean).join(" · ");
      const open = document.createElement("button");
      open.type = "button";
      open.className = "btn small ghost";
      open.textContent = "Open";
      open.setAttribute("aria-label", `Open the job from ${when}`);
      open.addEventListener("click", () => {
        const shown = $(`.job[data-job-id="${job.id}"]`);
        if (shown) shown.scrollIntoView({ behavior: "smooth" });
        else startJobs([{ title: `Job ${job.id.slice(0, 8)} · ${when}`, jobId: job.id }]);
      });
      li.append(text, open);
      list.append(li);
    }
  }

  function init() {
    showKeyState();
    if (!apiKey()) $("#key-panel").open = true;
    $("#api-key").value = apiKey();
    $("#key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("#api-key").value.trim();
      if (key) localStorage.setItem(KEY_STORAGE, key);
      else localStorage.removeItem(KEY_STORAGE);
      showKeyState();
      $("#key-panel").open = false;
    });
    $("#key-forget").addEventListener("click", () => {
      localStorage.removeItem(KEY_STORAGE);
      $("#api-key").value = "";
      showKeyState();
    });

    $("#recent-panel").addEventListener("toggle", (event) => {
      if (event.target.open) showRecentJobs();
    });

    const input = $("#file-input");
    input.addEventListener("change", () => {
      submitFiles(input.files);
      input.value = "";
    });
    $("#url-form").addEventListener("submit", (event) => {
      event.preventDefault();
      submitUrlString($("#url-input").value);
      $("#url-input").value = "";
    });

    const zone = $("#drop-zone");
    let depth = 0;
    document.addEventListener("dragenter", (event) => {
      event.preventDefault();
      depth += 1;
      zone.classList.add("dragging");
    });
    document.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) zone.classList.remove("dragging");
    });
    document.addEventListener("dragover", (event) => event.preventDefault());
    document.addEventListener("drop", (event) => {
      event.preventDefault();
      depth = 0;
      zone.classList.remove("dragging");
      const data = event.dataTransfer;
      if (data.files && data.files.length) submitFiles(data.files);
      else {
        const link = data.getData("text/uri-list") || data.getData("text/plain");
        if (link) submitUrlString(link.split("\n")[0]);
      }
    });
    document.addEventListener("paste", (event) => {
      const target = event.target;
      if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
      const files = event.clipboardData && event.clipboardData.files;
      if (files && files.length) {
        event.preventDefault();
        submitFiles(files);
        return;
      }
      const text = event.clipboardData && event.clipboardData.getData("text/plain");
      if (text && /^https?:\/\//i.test(text.trim())) {
        event.preventDefault();
        submitUrlString(text);
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
