// Measures one card side as the browser laid it out. Evaluated by tests/browser/conftest.py
// in each card document of a `paperdeck preview` page, once the document has typeset its
// math and decoded its images (`window.paperdeckReady`). Returns plain data; the tests judge.
async () => {
  const ready = await window.paperdeckReady;
  const qa = document.getElementById("qa");
  const body = document.body;
  const root = document.documentElement;
  const card = body.getBoundingClientRect();
  const out = {
    ready,
    innerWidth: window.innerWidth,
    clientWidth: root.clientWidth,
    scrollWidth: root.scrollWidth,
    card: { left: card.left, right: card.right },
    mathCount: 0,
    errors: [],
    escapes: [],
    raw: [],
    overflow: [],
    scrollBoxes: [],
    displayMath: [],
    images: [],
    contrast: [],
  };
  const describe = (el) => {
    const classes = el.classList.length ? "." + Array.from(el.classList).join(".") : "";
    const text = (el.textContent || "").replace(/\s+/g, " ").trim().slice(0, 60);
    return `<${el.tagName.toLowerCase()}${classes}> "${text}"`;
  };

  // MathJax: error nodes in the page, and in each typeset formula's MathML, merror nodes,
  // undefined macros (noundefined shows them as red \name text) and any backslash left in
  // text: an escape such as \_ printed as written.
  for (const el of qa.querySelectorAll("mjx-merror, [data-mjx-error]")) {
    out.errors.push(`error node: ${el.getAttribute("data-mjx-error") || el.textContent}`);
  }
  if (window.MathJax && MathJax.startup && MathJax.startup.document) {
    for (const item of MathJax.startup.document.math) {
      out.mathCount += 1;
      const mml = new DOMParser().parseFromString(MathJax.startup.toMML(item.root), "text/html");
      for (const el of mml.getElementsByTagName("merror")) {
        out.errors.push(`${item.math}: ${el.getAttribute("data-mjx-error") || el.textContent}`);
      }
      for (const el of mml.getElementsByTagName("mtext")) {
        if (el.closest("merror")) continue; // the TeX of an error, already reported
        const text = el.textContent;
        if (el.getAttribute("mathcolor") === "red" && text.startsWith("\\")) {
          out.errors.push(`${item.math}: undefined control sequence ${text}`);
        } else if (text.includes("\\")) {
          out.escapes.push({ tex: item.math, text });
        }
      }
    }
  }

  // Raw TeX delimiters in the visible text (code shows TeX as it is, so it is skipped).
  const walker = document.createTreeWalker(qa, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest("pre, code, script, style, textarea, mjx-container")) continue;
    if (!parent.checkVisibility()) continue;
    const found = node.data.match(/\\\(|\\\)|\\\[|\\\]|\$\$/);
    if (found) {
      const at = found.index;
      out.raw.push(node.data.slice(Math.max(0, at - 30), at + 30).replace(/\s+/g, " "));
    }
  }

  // Overflow: every element must lie within the card, unless it is inside a box that
  // scrolls sideways (overflow-x auto or scroll) and that box lies within the card. An
  // element outside every such box that cuts its own content (overflow hidden) hides it.
  const style = (el) => getComputedStyle(el);
  const scrolls = (el) => ["auto", "scroll"].includes(style(el).overflowX);
  const within = (r) => r.left >= card.left - 0.5 && r.right <= card.right + 0.5;
  const offenders = [];
  for (const el of body.querySelectorAll("*")) {
    if (el.closest("mjx-assistive-mml, script, style")) continue;
    if (offenders.some((o) => o.contains(el))) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    let box = el.parentElement;
    while (box && box !== body && !(scrolls(box) && within(box.getBoundingClientRect()))) {
      box = box.parentElement;
    }
    if (box && box !== body) continue; // inside a scrolling box that fits the card
    if (!within(r)) {
      offenders.push(el);
      const past = Math.max(r.right - card.right, card.left - r.left);
      out.overflow.push(`${describe(el)} is ${Math.round(past)} px past the card's edge`);
    } else if (
      !el.tagName.startsWith("MJX-") &&
      ["hidden", "clip"].includes(style(el).overflowX) &&
      el.scrollWidth > el.clientWidth + 1
    ) {
      offenders.push(el);
      const cut = el.scrollWidth - el.clientWidth;
      out.overflow.push(`${describe(el)} cuts off ${cut} px of its content (overflow hidden)`);
    }
  }
  // Boxes whose content is wider than they are: they must scroll, with a visible cue.
  for (const el of qa.querySelectorAll("*")) {
    if (el.tagName.startsWith("MJX-") && el.tagName !== "MJX-CONTAINER") continue;
    if (el.scrollWidth <= el.clientWidth + 1 || el.clientWidth === 0) continue;
    const s = style(el);
    out.scrollBoxes.push({
      element: describe(el),
      tag: el.tagName.toLowerCase(),
      overflowX: s.overflowX,
      backgroundImage: s.backgroundImage,
      backgroundColor: s.backgroundColor,
      pageColor: style(document.body).backgroundColor,
      boxShadow: s.boxShadow,
      maskImage: s.maskImage || s.webkitMaskImage || "none",
      hidden: el.scrollWidth - el.clientWidth,
    });
  }

  // Display math with text before and after it in the same block: the space above the
  // formula and below it, from the text line before to the text line after.
  const isBlock = (el) => !style(el).display.startsWith("inline");
  for (const math of qa.querySelectorAll('mjx-container[display="true"]')) {
    let block = math.parentElement;
    while (block !== qa && !isBlock(block)) block = block.parentElement;
    const formula = (math.querySelector("mjx-math") || math).getBoundingClientRect();
    const above = [];
    const below = [];
    const sort = (rect, node) =>
      (math.compareDocumentPosition(node) & Node.DOCUMENT_POSITION_PRECEDING ? above : below).push(
        rect
      );
    const texts = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    for (let node = texts.nextNode(); node; node = texts.nextNode()) {
      if (!node.data.trim() || node.parentElement.closest("mjx-container")) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const rect of range.getClientRects()) if (rect.height > 0) sort(rect, node);
    }
    for (const inline of block.querySelectorAll('mjx-container:not([display="true"]), img')) {
      const rect = inline.getBoundingClientRect();
      if (rect.height > 0) sort(rect, inline);
    }
    const before = above.filter((r) => r.bottom <= formula.top + 1).map((r) => r.bottom);
    const after = below.filter((r) => r.top >= formula.bottom - 1).map((r) => r.top);
    if (before.length && after.length) {
      const tex = MathJax.startup.document.getMathItemsWithin(math)[0];
      out.displayMath.push({
        tex: tex ? tex.math : math.textContent,
        above: formula.top - Math.max(...before),
        below: Math.min(...after) - formula.bottom,
        fontSize: parseFloat(style(block).fontSize),
      });
    }
  }

  // Images: loaded, placed, and how wide they are shown.
  for (const img of qa.querySelectorAll("img")) {
    const r = img.getBoundingClientRect();
    const source = img.currentSrc || img.src;
    out.images.push({
      name: decodeURIComponent(new URL(source).pathname.split("/").pop()),
      loaded: img.complete && img.naturalWidth > 0,
      left: r.left,
      right: r.right,
      clientWidth: img.clientWidth,
      naturalWidth: img.naturalWidth,
    });
  }

  // Contrast of every text (and every formula) against its effective background, the
  // background colours of it and its ancestors composited over the browser's white canvas.
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const rgba = (css) => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = "rgba(0, 0, 0, 0)";
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, bottom) => {
    const a = top[3] + bottom[3] * (1 - top[3]);
    const mix = (i) => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / a;
    return [mix(0), mix(1), mix(2), a];
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) layers.push(rgba(style(e).backgroundColor));
    return layers.reverse().reduce((below, layer) => over(layer, below), [255, 255, 255, 1]);
  };
  const luminance = (c) => {
    const channel = (v) => {
      const s = v / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  };
  const hex = (c) => "#" + c.slice(0, 3).map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
  const ownText = (el) =>
    Array.from(el.childNodes).some((n) => n.nodeType === Node.TEXT_NODE && n.data.trim());
  for (const el of qa.querySelectorAll("*")) {
    if (el.closest("mjx-assistive-mml, script, style")) continue;
    const isMath = el.tagName === "MJX-CONTAINER";
    if (!(isMath || (ownText(el) && !el.closest("mjx-container")))) continue;
    if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
    const bg = background(el);
    const fg = over(rgba(style(el).color), bg);
    const [light, dark] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    out.contrast.push({
      element: describe(el),
      color: hex(fg),
      background: hex(bg),
      ratio: (light + 0.05) / (dark + 0.05),
    });
  }
  return out;
};
