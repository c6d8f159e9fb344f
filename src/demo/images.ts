/**
 * The demo's bundled images, drawn by code (so they ship under Impasto's own MIT licence and need
 * no download): a landscape scene as SVG, and a procedurally painted "swirling night" brush-stroke
 * canvas. Both are rendered with sharp (librsvg) and are deterministic.
 */
import sharp from 'sharp';
import type { RgbImage } from '../image/io-node.js';
import { mulberry32 } from '../util/random.js';

/** SVG of a landscape: sky, sun, hills, a lake with reflections, a house and trees. 512×384. */
export function sceneSvg(): string {
  const trees = [60, 110, 400, 450].map((x, i) => {
    const h = 70 + (i % 2) * 25;
    return `<rect x="${x - 4}" y="${250 - 20}" width="8" height="28" fill="#5b3a1e"/>` +
      `<polygon points="${x - 26},${232} ${x},${232 - h} ${x + 26},${232}" fill="#1f5f2a"/>` +
      `<polygon points="${x - 20},${205} ${x},${205 - h * 0.8} ${x + 20},${205}" fill="#2e7d36"/>`;
  }).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="512" height="384" viewBox="0 0 512 384">
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#3f7fd0"/><stop offset="1" stop-color="#cfe6f7"/></linearGradient>
    <linearGradient id="lake" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#4a7fa8"/><stop offset="1" stop-color="#1d3e5c"/></linearGradient>
    <radialGradient id="sun"><stop offset="0" stop-color="#fff7c2"/><stop offset="1" stop-color="#ffd23f"/></radialGradient>
  </defs>
  <rect width="512" height="384" fill="url(#sky)"/>
  <circle cx="390" cy="80" r="38" fill="url(#sun)"/>
  <ellipse cx="120" cy="70" rx="60" ry="16" fill="#ffffff" opacity="0.85"/>
  <ellipse cx="170" cy="60" rx="40" ry="14" fill="#ffffff" opacity="0.8"/>
  <path d="M0 230 L90 150 L170 215 L260 120 L360 210 L430 160 L512 215 L512 260 L0 260 Z" fill="#6d7f8f"/>
  <path d="M260 120 L235 143 L250 140 L262 150 L275 140 L287 145 Z" fill="#f4f7fb"/>
  <path d="M0 250 Q128 215 256 240 T512 235 L512 270 L0 270 Z" fill="#5d9c3b"/>
  <rect x="0" y="262" width="512" height="122" fill="url(#lake)"/>
  <g opacity="0.35" transform="translate(0,524) scale(1,-1)"><path d="M0 250 Q128 215 256 240 T512 235 L512 270 L0 270 Z" fill="#5d9c3b"/></g>
  <rect x="210" y="190" width="90" height="62" fill="#e8d3a9" stroke="#6b4a2b" stroke-width="3"/>
  <polygon points="200,192 255,150 310,192" fill="#b3432f" stroke="#6b2a1b" stroke-width="3"/>
  <rect x="222" y="205" width="18" height="18" fill="#ffe9a3" stroke="#6b4a2b" stroke-width="2"/>
  <rect x="270" y="205" width="18" height="18" fill="#ffe9a3" stroke="#6b4a2b" stroke-width="2"/>
  <rect x="246" y="222" width="18" height="30" fill="#7a4b2a"/>
  ${trees}
  <g stroke="#d6ecff" stroke-width="2" opacity="0.5">
    <line x1="40" y1="300" x2="120" y2="300"/><line x1="300" y1="320" x2="420" y2="320"/><line x1="150" y1="345" x2="260" y2="345"/>
  </g>
</svg>`;
}

/**
 * SVG of a painted canvas: about 2,600 short curved brush strokes that follow a swirling flow
 * field, in a night-sky palette with yellow highlights, over a dark ground. 512×512, seeded.
 */
export function brushStrokesSvg(seed = 1): string {
  const r = mulberry32(seed);
  const palette = ['#1b2a6b', '#23408e', '#3a5fb0', '#5d85c9', '#8fb0dd', '#f2d34b', '#e8a93a', '#ffffff', '#14204f', '#2f6e9e'];
  const weights = [14, 16, 14, 10, 6, 6, 3, 2, 10, 8];
  const pick = () => {
    let v = r() * weights.reduce((a, b) => a + b, 0);
    for (let i = 0; i < palette.length; i++) if ((v -= weights[i]!) < 0) return palette[i]!;
    return palette[0]!;
  };
  const vortices = [[140, 150, 1], [360, 260, -1], [220, 400, 1], [430, 90, -1]] as const;
  const angle = (x: number, y: number) => {
    let ax = 1;
    let ay = 0.15;
    for (const [cx, cy, s] of vortices) {
      const dx = x - cx;
      const dy = y - cy;
      const d2 = dx * dx + dy * dy + 400;
      ax += (-dy * s * 9000) / d2 / 60;
      ay += (dx * s * 9000) / d2 / 60;
    }
    return Math.atan2(ay, ax);
  };
  const strokes: string[] = [];
  for (let i = 0; i < 2600; i++) {
    let x = r() * 512;
    let y = r() * 512;
    const pts = [`M${x.toFixed(1)} ${y.toFixed(1)}`];
    const len = 6 + r() * 8;
    for (let k = 0; k < 4; k++) {
      const a = angle(x, y);
      x += Math.cos(a) * len;
      y += Math.sin(a) * len;
      pts.push(`L${x.toFixed(1)} ${y.toFixed(1)}`);
    }
    strokes.push(`<path d="${pts.join(' ')}" stroke="${pick()}" stroke-width="${(3 + r() * 5).toFixed(1)}" stroke-linecap="round" fill="none" opacity="${(0.75 + r() * 0.25).toFixed(2)}"/>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 512 512"><rect width="512" height="512" fill="#101a40"/>${strokes.join('')}</svg>`;
}

async function render(svg: string): Promise<RgbImage> {
  const { data, info } = await sharp(Buffer.from(svg)).flatten({ background: '#ffffff' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/** The demo's content image (512×384). */
export function demoContent(): Promise<RgbImage> {
  return render(sceneSvg());
}

/** The demo's style image (512×512). */
export function demoStyle(): Promise<RgbImage> {
  return render(brushStrokesSvg());
}
