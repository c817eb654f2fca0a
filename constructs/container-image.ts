import { createRequire } from 'node:module';

// The version every image defaults to: the toolkit's own version, so `dist/` and the images built
// by `npm run images` (which tags with the same version) always match.
const pkg = createRequire(import.meta.url)('../package.json') as { version: string };

/** The default registry for the images built by the Dockerfile. */
export const DEFAULT_IMAGE_REGISTRY = 'ghcr.io/imageflow';

/** The default tag: the version in package.json. */
export const DEFAULT_IMAGE_TAG: string = pkg.version;

/** Options for {@link ContainerImage.imageflow}. */
export interface ImageflowImageOptions {
  /**
   * Registry (and optional path) the images are pushed to.
   * @default "ghcr.io/imageflow"
   */
  readonly registry?: string;
  /**
   * Tag of the image.
   * @default the version in package.json
   */
  readonly tag?: string;
}

/**
 * A container image reference. Use {@link ContainerImage.imageflow} for the images the Dockerfile
 * builds and {@link ContainerImage.fromReference} for anything else (Triton, MinIO, a mirror).
 */
export class ContainerImage {
  /** `<registry>/<repository>:<tag>`, defaulting to `ghcr.io/imageflow/<repository>:<version>`. */
  public static imageflow(repository: string, options: ImageflowImageOptions = {}): ContainerImage {
    const registry = (options.registry ?? DEFAULT_IMAGE_REGISTRY).replace(/\/+$/, '');
    return ContainerImage.fromReference(`${registry}/${repository}:${options.tag ?? DEFAULT_IMAGE_TAG}`);
  }

  /** A full reference such as `nvcr.io/nvidia/tritonserver:24.08-py3` or one pinned by digest. */
  public static fromReference(reference: string): ContainerImage {
    return new ContainerImage(reference);
  }

  private constructor(public readonly reference: string) {
    // A reference with whitespace or without a tag/digest would deploy whatever "latest" is today.
    if (/\s/.test(reference) || reference.length === 0) {
      throw new Error(`Container image "${reference}" is not a valid reference: remove whitespace.`);
    }
    const lastSegment = reference.slice(reference.lastIndexOf('/') + 1);
    if (!lastSegment.includes(':') && !reference.includes('@sha256:')) {
      throw new Error(
        `Container image "${reference}" has no tag or digest: pin it, e.g. "${reference}:1.2.3" or "${reference}@sha256:…".`,
      );
    }
  }

  public toString(): string {
    return this.reference;
  }
}
