// The options page: gateway URL, API key, threshold, and the sites checked without the toolbar switch.
"use strict";

(async () => {
  const $ = (id) => document.getElementById(id);
  const ALL_SITES = ["https://*/*", "http://*/*"];
  const status = (text, ok = true) => {
    $("status").textContent = text;
    $("status").dataset.ok = String(ok);
  };

  $("origin").textContent = location.origin;
  const stored = await chrome.storage.local.get(["gatewayUrl", "apiKey", "threshold", "autoSites"]);
  $("gateway-url").value = stored.gatewayUrl || "http://127.0.0.1:8000";
  $("api-key").value = stored.apiKey || "";
  $("threshold").value = stored.threshold ?? 0.5;
  $("auto-sites").value = (stored.autoSites || []).join("\n");
  $("other-sites").checked = await chrome.permissions.contains({ origins: ALL_SITES });

  const patterns = () =>
    $("auto-sites")
      .value.split("\n")
      .map((line) => line.trim())
      .filter(Boolean);

  $("options-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const sites = patterns();
    const wanted = $("other-sites").checked ? [...sites, ...ALL_SITES] : sites;
    // The permission prompt must open in the click itself, before anything is awaited.
    const asked = wanted.length ? chrome.permissions.request({ origins: wanted }) : Promise.resolve(true);
    const dropped = $("other-sites").checked ? Promise.resolve(true) : chrome.permissions.remove({ origins: ALL_SITES });
    Promise.all([asked, dropped])
      .then(async ([granted]) => {
        await chrome.storage.local.set({
          gatewayUrl: $("gateway-url").value.trim().replace(/\/+$/, ""),
          apiKey: $("api-key").value.trim(),
          threshold: Math.min(1, Math.max(0, Number($("threshold").value))),
          autoSites: sites,
        });
        await chrome.runtime.sendMessage({ type: "syncAutoSites" });
        status(granted ? "Saved." : "Saved, but Chrome was not allowed to open the listed sites: they will not be checked automatically.", granted);
      })
      .catch((error) => status(`Not saved: ${error.message}`, false));
  });

  $("test").addEventListener("click", async () => {
    status("Testing…");
    const answer = await chrome.runtime.sendMessage({ type: "testGateway" });
    status(answer.message, answer.ok);
  });
})();
