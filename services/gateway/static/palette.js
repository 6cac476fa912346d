// The mesh palette shared by the page (app.js) and the browser extension's badges: a face's colour
// runs green (genuine) through yellow to red (manipulated) with its probability.
"use strict";

(() => {
  const GREEN = [40, 200, 70];
  const YELLOW = [255, 210, 0];
  const RED = [235, 30, 30];
  const GREY = [170, 170, 170];

  function probabilityColour(p) {
    const q = Math.min(1, Math.max(0, p));
    const [low, high, t] = q < 0.5 ? [GREEN, YELLOW, q / 0.5] : [YELLOW, RED, (q - 0.5) / 0.5];
    return low.map((a, i) => Math.round(a + (high[i] - a) * t));
  }
  const rgb = (c, alpha = 1) => `rgba(${c[0]}, ${c[1]}, ${c[2]}, ${alpha})`;
  // Dark text on light colours, white on dark ones.
  const textOn = (c) => (c[0] * 0.3 + c[1] * 0.55 + c[2] * 0.15 > 150 ? "#111" : "#fff");

  globalThis.FakeWebPalette = Object.freeze({ GREEN, YELLOW, RED, GREY, probabilityColour, rgb, textOn });
})();
