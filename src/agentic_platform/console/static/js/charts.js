// Bar charts as SVG: one bar per group, an optional budget line, a text table beside it for
// screen readers (the chart itself is described by its title).

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** ``points``: [{label, value}]; ``budget``: a value drawn as a dashed line, or null. */
export function barChart(title, points, format, budget = null) {
  const width = 520, height = 200, left = 70, bottom = 40, top = 20;
  const most = Math.max(budget || 0, ...points.map((p) => p.value), 0) || 1;
  const chart = svg("svg", { class: "chart", role: "img", viewBox: `0 0 ${width} ${height}`, width, height, "aria-label": title });
  chart.append(svg("title", {}, title));
  const step = (width - left - 10) / Math.max(points.length, 1);
  const scale = (value) => (height - bottom - top) * (value / most);
  points.forEach((point, index) => {
    const barHeight = scale(point.value);
    const x = left + index * step + step * 0.15;
    const bar = svg("rect", { class: "bar", x, y: height - bottom - barHeight, width: step * 0.7, height: barHeight, "data-value": point.value });
    bar.append(svg("title", {}, `${point.label}: ${format(point.value)}`));
    chart.append(bar, svg("text", { x: x + step * 0.35, y: height - bottom + 14, "text-anchor": "middle" }, point.label.slice(0, 14)));
  });
  chart.append(svg("text", { x: 4, y: top + 4 }, format(most)), svg("text", { x: 4, y: height - bottom }, format(0)));
  if (budget) {
    const y = height - bottom - scale(budget);
    chart.append(svg("line", { class: "budget", x1: left, x2: width - 10, y1: y, y2: y }), svg("text", { x: width - 120, y: y - 4 }, `budget ${format(budget)}`));
  }
  return chart;
}
