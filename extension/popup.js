// The toolbar popup: the per-tab switch and what was found on the tab so far.
"use strict";

(async () => {
  const box = document.getElementById("enabled");
  const summary = document.getElementById("summary");
  const errorLine = document.getElementById("error");
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  const tabId = tab.id;

  const LABELS = { manipulated: "manipulated", genuine: "genuine", no_face: "no face", unjudgeable: "too small to judge", error: "failed" };

  async function refresh() {
    const state = await chrome.runtime.sendMessage({ type: "tabState", tabId });
    box.checked = state.enabled;
    const parts = Object.entries(LABELS)
      .filter(([key]) => state.counts[key])
      .map(([key, label]) => `${state.counts[key]} ${label}`);
    summary.textContent = state.enabled
      ? `${parts.join(" · ") || "nothing checked yet"}${state.queued ? ` · ${state.queued} waiting` : ""}`
      : "Off: nothing on this page is sent.";
    errorLine.hidden = !state.lastError;
    errorLine.textContent = state.lastError || "";
  }

  box.addEventListener("change", async () => {
    const answer = await chrome.runtime.sendMessage({ type: "setEnabled", tabId, enabled: box.checked });
    if (!answer.ok) {
      errorLine.hidden = false;
      errorLine.textContent = answer.error;
    }
    await refresh();
  });

  await refresh();
  setInterval(refresh, 1000);
})();
