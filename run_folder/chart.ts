import type { EpochRecord } from "../training/state.ts";

const WIDTH = 480;
const HEIGHT = 340;
const MARGIN = { left: 48, right: 16, top: 16, bottom: 60 };

const SERIES = [
  { key: "loss", label: "train loss", color: "#1f77b4", dash: "" },
  { key: "trainAccuracy", label: "train acc", color: "#d62728", dash: "6 4" },
  { key: "testAccuracy", label: "test acc", color: "#2ca02c", dash: "2 3" },
] as const;

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function legendX(index: number): number {
  return MARGIN.left + 20 + index * 130;
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;");
}

/**
 * An SVG line chart of loss and accuracies per epoch, as the book plots
 * them: x from 1 to `epochs`, y from 0 to max(1, largest loss).
 */
export function epochChart(
  history: EpochRecord[],
  epochs: number,
  title: string,
): string {
  const yMax = Math.max(1, ...history.map((r) => r.loss));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (epoch: number) =>
    round(MARGIN.left + (epochs <= 1 ? plotWidth / 2 : ((epoch - 1) / (epochs - 1)) * plotWidth));
  const y = (value: number) => round(MARGIN.top + plotHeight * (1 - value / yMax));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="11">`,
    `<title>${escape(title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#888"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const value = (yMax * i) / 4;
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(value)}" y2="${
        y(value)
      }" stroke="#eee"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(value) + 4}" text-anchor="end">${
        value.toFixed(2)
      }</text>`,
    );
  }
  for (let epoch = 1; epoch <= epochs; epoch++) {
    parts.push(
      `<text x="${x(epoch)}" y="${
        MARGIN.top + plotHeight + 16
      }" text-anchor="middle">${epoch}</text>`,
    );
  }
  parts.push(
    `<text x="${MARGIN.left + plotWidth / 2}" y="${
      MARGIN.top + plotHeight + 30
    }" text-anchor="middle">epoch</text>`,
  );
  SERIES.forEach((series, i) => {
    const points = history.map((r) => `${x(r.epoch)},${y(r[series.key])}`).join(" ");
    parts.push(
      `<polyline points="${points}" fill="none" stroke="${series.color}" stroke-width="2" stroke-dasharray="${series.dash}"/>`,
      ...history.map((r) =>
        `<circle cx="${x(r.epoch)}" cy="${y(r[series.key])}" r="2.5" fill="${series.color}"/>`
      ),
      `<line x1="${legendX(i)}" x2="${legendX(i) + 24}" y1="${HEIGHT - 12}" y2="${
        HEIGHT - 12
      }" stroke="${series.color}" stroke-width="2" stroke-dasharray="${series.dash}"/>`,
      `<text x="${legendX(i) + 30}" y="${HEIGHT - 8}">${series.label}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
