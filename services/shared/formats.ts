// Output formats by name and by proto enum, free of sharp so the gateway can share them.
import { ImageFormat } from './gen/imageflow/v1/common.js';

export type OutputFormatName = 'jpeg' | 'png' | 'webp' | 'avif';

const ENUM_BY_NAME: Record<OutputFormatName, ImageFormat> = {
  jpeg: ImageFormat.IMAGE_FORMAT_JPEG,
  png: ImageFormat.IMAGE_FORMAT_PNG,
  webp: ImageFormat.IMAGE_FORMAT_WEBP,
  avif: ImageFormat.IMAGE_FORMAT_AVIF,
};
const NAME_BY_ENUM = new Map(Object.entries(ENUM_BY_NAME).map(([name, value]) => [value, name as OutputFormatName]));

export const formatEnum = (name: OutputFormatName): ImageFormat => ENUM_BY_NAME[name];

/** The name of a concrete format; undefined for UNSPECIFIED ("keep") and unknown values. */
export const formatNameOf = (format: ImageFormat): OutputFormatName | undefined => NAME_BY_ENUM.get(format);
