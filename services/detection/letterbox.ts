// Letterboxing (scale to fit, keep the aspect ratio, pad the rest) and its inverse, which maps a
// box predicted on the padded model input back to pixels of the original image.

export interface Letterbox {
  /** Model input size. */
  readonly inputWidth: number;
  readonly inputHeight: number;
  /** The scaled image inside the input. */
  readonly scale: number;
  readonly width: number;
  readonly height: number;
  readonly padLeft: number;
  readonly padTop: number;
}

export function letterboxGeometry(imageWidth: number, imageHeight: number, inputWidth: number, inputHeight: number): Letterbox {
  const scale = Math.min(inputWidth / imageWidth, inputHeight / imageHeight);
  const width = Math.max(1, Math.min(inputWidth, Math.round(imageWidth * scale)));
  const height = Math.max(1, Math.min(inputHeight, Math.round(imageHeight * scale)));
  return {
    inputWidth,
    inputHeight,
    scale,
    width,
    height,
    padLeft: Math.floor((inputWidth - width) / 2),
    padTop: Math.floor((inputHeight - height) / 2),
  };
}

/** Input-space point to original-image pixels, using the actual scaled size on each axis. */
export function fromLetterbox(lb: Letterbox, x: number, y: number, imageWidth: number, imageHeight: number): [number, number] {
  return [((x - lb.padLeft) * imageWidth) / lb.width, ((y - lb.padTop) * imageHeight) / lb.height];
}
