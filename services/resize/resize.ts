// The resize operation: request validation and the sharp transform, independent of gRPC.
import type { FitEnum, Sharp } from 'sharp';
import { Fit, type ResizeRequest } from '../shared/gen/imageflow/v1/resize.js';
import { invalidArgument } from '../shared/errors.js';
import { MAX_DIMENSION } from '../shared/http-api.js';

export interface ResizeParams {
  readonly width?: number;
  readonly height?: number;
  readonly fit: keyof FitEnum;
  readonly withoutEnlargement: boolean;
  readonly background?: string;
}

const FITS: Record<number, ResizeParams['fit']> = {
  [Fit.FIT_UNSPECIFIED]: 'inside',
  [Fit.FIT_CONTAIN]: 'contain',
  [Fit.FIT_COVER]: 'cover',
  [Fit.FIT_FILL]: 'fill',
  [Fit.FIT_INSIDE]: 'inside',
  [Fit.FIT_OUTSIDE]: 'outside',
};

function checkDimension(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > MAX_DIMENSION) {
    throw invalidArgument(`${name} must be an integer from 1 to ${MAX_DIMENSION}, got ${value}`);
  }
  return value;
}

export function resizeParams(req: ResizeRequest): ResizeParams {
  const width = checkDimension('width', req.width);
  const height = checkDimension('height', req.height);
  if (width === undefined && height === undefined) throw invalidArgument('set width, height or both');
  const fit = FITS[req.fit];
  if (!fit) throw invalidArgument(`fit ${req.fit} is unknown; use CONTAIN, COVER, FILL, INSIDE or OUTSIDE`);
  if (req.background && !/^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/.test(req.background)) {
    throw invalidArgument(`background must be #rrggbb or #rrggbbaa, got "${req.background}"`);
  }
  return { width, height, fit, withoutEnlargement: req.withoutEnlargement, background: req.background || undefined };
}

export function applyResize(image: Sharp, p: ResizeParams): Sharp {
  return image.resize({
    width: p.width,
    height: p.height,
    fit: p.fit,
    withoutEnlargement: p.withoutEnlargement,
    background: p.background ?? { r: 0, g: 0, b: 0, alpha: 0 },
  });
}
