// PNG from the SVG through sharp's bundled librsvg: local, no browser, no network.
import sharp from 'sharp';

export async function svgToPng(svg: string, density = 144): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density }).png().toBuffer();
}
