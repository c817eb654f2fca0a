// Draws detections on the upright image as a final, separate pass: the image is decoded and
// auto-oriented first, then an SVG overlay (box, label, confidence; one colour per class; sizes
// proportional to the image so labels stay readable) is composited, then encoded.
import sharp from 'sharp';
import type { Detection } from '../shared/gen/imageflow/v1/ai_detection.js';
import { type CodecSettings, type OutputFormatName, encodeAs, openImage } from '../shared/image-codec.js';
import type { Encoded } from '../shared/image-io.js';

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface OverlayItem {
  readonly box: Rect;
  readonly label: Rect;
  readonly text: string;
  readonly colour: string;
  readonly textColour: string;
}

export interface OverlayLayout {
  readonly strokeWidth: number;
  readonly fontSize: number;
  readonly items: readonly OverlayItem[];
}

/** A distinct, stable colour per class id (golden-angle hues). */
export function classColour(classId: number): string {
  const h = (classId * 137.508) % 360;
  const [s, l] = [0.85, 0.5];
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return `#${[f(0), f(8), f(4)].map((v) => Math.round(v * 255).toString(16).padStart(2, '0')).join('')}`;
}

function textColourOn(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#000000' : '#ffffff';
}

const overlaps = (a: Rect, b: Rect) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

export function layoutOverlay(detections: readonly Detection[], width: number, height: number): OverlayLayout {
  const side = Math.min(width, height);
  const strokeWidth = Math.max(2, Math.round(side / 250));
  const fontSize = Math.max(10, Math.round(side / 36));
  const labelHeight = Math.round(fontSize * 1.35);
  const placed: Rect[] = [];
  const items = detections.map((d) => {
    const b = d.box ?? { x: 0, y: 0, width: 0, height: 0 };
    const text = `${d.label} ${Math.round(d.confidence * 100)}%`;
    // DejaVu Sans averages about 0.62 em per character.
    const labelWidth = Math.min(width, Math.round(text.length * fontSize * 0.62 + fontSize * 0.6));
    const x = Math.max(0, Math.min(width - labelWidth, Math.round(b.x)));
    const fits = (y: number) => y >= 0 && y + labelHeight <= height;
    // Above the box, else inside its top edge, else below it; the first that hides no other
    // label (detections come best first, so the best ones get the best places).
    const spots = [Math.round(b.y) - labelHeight, Math.round(b.y), Math.round(b.y + b.height)].filter(fits);
    if (!spots.length) spots.push(Math.max(0, Math.min(height - labelHeight, Math.round(b.y))));
    const y = spots.find((y) => !placed.some((p) => overlaps(p, { x, y, width: labelWidth, height: labelHeight }))) ?? spots[0];
    const label = { x, y, width: labelWidth, height: labelHeight };
    placed.push(label);
    const colour = classColour(d.classId);
    return { box: { x: b.x, y: b.y, width: b.width, height: b.height }, label, text, colour, textColour: textColourOn(colour) };
  });
  return { strokeWidth, fontSize, items };
}

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function overlaySvg(layout: OverlayLayout, width: number, height: number): string {
  const { strokeWidth: sw, fontSize } = layout;
  // Boxes first, then labels on top of every box, the best detection's label drawn last.
  const boxes = layout.items.map((it) => {
    // The stroke is drawn inside the box so it never spills outside what was detected.
    const inset = sw / 2;
    const bw = Math.max(0, it.box.width - sw);
    const bh = Math.max(0, it.box.height - sw);
    return `<rect x="${it.box.x + inset}" y="${it.box.y + inset}" width="${bw}" height="${bh}" fill="none" stroke="${it.colour}" stroke-width="${sw}"/>`;
  });
  const labels = [...layout.items].reverse().map((it) =>
    [
      `<rect x="${it.label.x}" y="${it.label.y}" width="${it.label.width}" height="${it.label.height}" fill="${it.colour}"/>`,
      `<text x="${it.label.x + fontSize * 0.3}" y="${it.label.y + it.label.height - fontSize * 0.33}" font-family="DejaVu Sans, Verdana, sans-serif" font-size="${fontSize}" fill="${it.textColour}">${escapeXml(it.text)}</text>`,
    ].join(''),
  );
  const parts = [...boxes, ...labels];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

/** The upright image with the detections drawn on it, encoded. */
export async function drawDetections(
  data: Buffer,
  codec: CodecSettings,
  detections: readonly Detection[],
  format: OutputFormatName,
  quality: number,
): Promise<Encoded> {
  // Pass 1: decode + auto-orient to 8-bit sRGB pixels (alpha kept), so the overlay is drawn in
  // the same coordinates the boxes are in.
  const { data: pixels, info } = await openImage(data, codec).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const svg = overlaySvg(layoutOverlay(detections, info.width, info.height), info.width, info.height);
  // Pass 2: composite the overlay and encode.
  let drawn = sharp(pixels, { raw: { width: info.width, height: info.height, channels: info.channels } }).composite([
    { input: Buffer.from(svg), top: 0, left: 0 },
  ]);
  // Compositing adds an alpha channel; an opaque input stays opaque.
  if (!info.hasAlpha) drawn = drawn.removeAlpha();
  const encoded = await encodeAs(drawn, format, quality).toBuffer({ resolveWithObject: true });
  return { data: encoded.data, width: encoded.info.width, height: encoded.info.height };
}
