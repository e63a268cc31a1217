// A small accessibility check run in the page (axe-core is not to be had offline): every
// control has an accessible name, every image a text alternative, and every piece of text
// a contrast of at least 4.5:1 against its background (3:1 for large text), WCAG 2 AA.
() => {
  const problems = [];
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const describe = (el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""} "${(el.textContent || "").trim().slice(0, 30)}"`;

  const named = (el) => {
    if (el.getAttribute("aria-label")?.trim()) return true;
    const ids = el.getAttribute("aria-labelledby");
    if (ids && ids.split(/\s+/).some((id) => document.getElementById(id)?.textContent.trim())) return true;
    if (el.labels && [...el.labels].some((label) => label.textContent.trim())) return true;
    return Boolean(el.getAttribute("title")?.trim());
  };
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea")) {
    if (visible(el) && !named(el)) problems.push(`control without a label: ${describe(el)}`);
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (visible(el) && !el.textContent.trim() && !named(el)) problems.push(`button or link without a name: ${describe(el)}`);
  }
  for (const el of document.querySelectorAll("img")) {
    if (!el.hasAttribute("alt")) problems.push(`image without alt: ${el.src}`);
  }
  for (const el of document.querySelectorAll("svg[role=img]")) {
    if (!named(el)) problems.push("chart without a name");
  }
  if (!document.documentElement.lang) problems.push("the page has no language");

  const rgba = (text) => {
    const parts = text.match(/[\d.]+/g)?.map(Number) || [0, 0, 0, 0];
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const luminance = ({ r, g, b }) => {
    const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  };
  const background = (el) => {
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const colour = rgba(getComputedStyle(node).backgroundColor);
      if (colour.a > 0.5) return colour;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const checked = new Set();
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    const el = text.parentElement;
    if (!text.textContent.trim() || checked.has(el) || !visible(el) || el.closest("title, script, style")) continue;
    checked.add(el);
    const style = getComputedStyle(el);
    const isSvg = el instanceof SVGElement;
    const fg = rgba(isSvg ? style.fill : style.color);
    const bg = background(isSvg ? el.ownerSVGElement : el);
    const [light, dark] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
    const ratio = (light + 0.05) / (dark + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)}:1 for ${describe(el)}`);
  }
  return { problems, texts: checked.size };
}
