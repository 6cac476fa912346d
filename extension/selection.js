// Which pictures on a page are worth sending: shown, big enough to hold a face, loaded, and the
// best-resolution URL of each (<img srcset>, <picture><source>). Pure functions of the DOM, so the
// unit tests (tests/extension/test_selection.py) run them on test pages in a real Chromium.
"use strict";

(() => {
  // A face the gateway can judge needs about 64 px; a smaller picture cannot hold one.
  const MIN_SIDE = 64;
  // The gateway accepts these by content; a <source type> outside them would be refused (415).
  const ACCEPTED_TYPES = new Set(["image/jpeg", "image/jpg", "image/png", "image/webp"]);

  // The candidates of a srcset attribute as [{url, width, density}] (HTML's parsing rules, simplified:
  // a URL runs to whitespace; trailing commas end it; descriptors run to the next comma).
  function parseSrcset(srcset, base = document.baseURI) {
    const candidates = [];
    const text = srcset || "";
    let i = 0;
    while (i < text.length) {
      while (i < text.length && /[\s,]/.test(text[i])) i += 1;
      if (i >= text.length) break;
      let end = i;
      while (end < text.length && !/\s/.test(text[end])) end += 1;
      let url = text.slice(i, end);
      let descriptor = "";
      i = end;
      if (url.endsWith(",")) {
        url = url.replace(/,+$/, "");
      } else {
        const comma = text.indexOf(",", i);
        const stop = comma === -1 ? text.length : comma;
        descriptor = text.slice(i, stop).trim();
        i = stop + 1;
      }
      let width = null;
      let density = null;
      const match = /^(\d+(?:\.\d+)?)([wx])$/.exec(descriptor);
      if (match) {
        if (match[2] === "w") width = Number(match[1]);
        else density = Number(match[1]);
      } else if (!descriptor) {
        density = 1;
      }
      try {
        candidates.push({ url: new URL(url, base).href, width, density });
      } catch {
        // not a URL: skip the candidate, as the browser does
      }
    }
    return candidates;
  }

  // The largest candidate: by width descriptor, else by density; null for none.
  function largestCandidate(candidates) {
    let best = null;
    for (const candidate of candidates) {
      const size = candidate.width != null ? candidate.width * 1e6 : (candidate.density || 1);
      if (!best || size > best.size) best = { size, url: candidate.url };
    }
    return best ? best.url : null;
  }

  function sourceApplies(source) {
    const type = (source.getAttribute("type") || "").trim().toLowerCase();
    if (type && !ACCEPTED_TYPES.has(type)) return false;
    const media = source.getAttribute("media");
    return !media || window.matchMedia(media).matches;
  }

  // The URL to check for an <img>: inside <picture> the first <source> the browser would pick (of a
  // type the gateway takes), else the img's own srcset; the largest candidate of it; else src.
  function imageUrl(img) {
    const base = img.ownerDocument.baseURI;
    const picture = img.parentElement && img.parentElement.tagName === "PICTURE" ? img.parentElement : null;
    if (picture) {
      for (const source of picture.querySelectorAll(":scope > source")) {
        if (!sourceApplies(source)) continue;
        const url = largestCandidate(parseSrcset(source.getAttribute("srcset"), base));
        if (url) return url;
      }
    }
    const fromSrcset = largestCandidate(parseSrcset(img.getAttribute("srcset"), base));
    if (fromSrcset) return fromSrcset;
    const src = img.currentSrc || img.getAttribute("src");
    if (!src) return null;
    try {
      return new URL(src, base).href;
    } catch {
      return null;
    }
  }

  // What to do with an <img> now: "wait" (not loaded yet, e.g. lazy), "broken" (failed to load),
  // "hidden", "small" (shown or natural size under MIN_SIDE), "nourl" or "check".
  function classify(img, minSide = MIN_SIDE) {
    if (!imageUrl(img)) return "nourl";
    if (img.complete && img.naturalWidth === 0) return img.getAttribute("src") || img.srcset ? "broken" : "nourl";
    if (!img.complete) return "wait";
    const style = getComputedStyle(img);
    const rect = img.getBoundingClientRect();
    if (style.display === "none" || style.visibility === "hidden" || Number(style.opacity) === 0) return "hidden";
    if (rect.width === 0 && rect.height === 0) return "hidden";
    if (rect.width < minSide || rect.height < minSide) return "small";
    if (img.naturalWidth < minSide || img.naturalHeight < minSide) return "small";
    return "check";
  }

  // Every <img> in a subtree (the node itself included) that was added to the page.
  function imagesIn(node) {
    if (!node || node.nodeType !== Node.ELEMENT_NODE) return [];
    const found = node.tagName === "IMG" ? [node] : [];
    return found.concat(Array.from(node.querySelectorAll("img")));
  }

  globalThis.FakeWebSelection = Object.freeze({
    MIN_SIDE,
    parseSrcset,
    largestCandidate,
    imageUrl,
    classify,
    imagesIn,
  });
})();
