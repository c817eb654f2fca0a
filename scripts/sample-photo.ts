// The demo's sample photo: scikit-image's astronaut (a person, public domain), extracted from
// Debian's python3-skimage package by the detection tests' fixture script. Without apt access it
// falls back to a generated photo and says so: detections are then not expected.
import sharp from 'sharp';
import { photo } from '../tests/fixtures/detection/photos.js';
import { makePhoto } from '../tests/support/images.js';

export interface SamplePhoto {
  readonly name: string;
  readonly description: string;
  readonly data: Buffer;
}

export async function samplePhoto(): Promise<SamplePhoto> {
  try {
    const data = await sharp(photo('astronaut')).jpeg({ quality: 92 }).toBuffer();
    return { name: 'astronaut.jpg', description: 'astronaut.jpg (scikit-image sample data: a person)', data };
  } catch (err) {
    process.stderr.write(`could not extract the sample photos from Debian's python3-skimage (${(err as Error).message.split('\n')[0]}); using a generated image, in which no objects are expected\n`);
    return { name: 'generated.jpg', description: 'a generated 1600x1200 image (no objects expected)', data: await makePhoto(1600, 1200) };
  }
}
