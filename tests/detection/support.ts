// Clients and request builders shared by the detection suites.
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { AiDetectionServiceClient, type DetectRequest } from '../../services/shared/gen/imageflow/v1/ai_detection.js';
import { OutputDelivery, ImageFormat, type OutputSpec } from '../../services/shared/gen/imageflow/v1/common.js';

const options = { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 };

export const detectionClient = (port: number) =>
  new AiDetectionServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);

const HealthClient = grpc.makeGenericClientConstructor(healthService, 'Health');

/** The overall health status the service reports ('SERVING', 'NOT_SERVING', ...). */
export function healthOf(port: number, service = ''): Promise<string> {
  const client = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise<string>((resolve, reject) =>
    (client as unknown as { check: (req: object, opts: object, cb: (e: Error | null, r: { status: string | number }) => void) => void }).check(
      { service },
      { deadline: Date.now() + 5_000 },
      (err, res) => {
        client.close();
        if (err) reject(err);
        else resolve(typeof res.status === 'number' ? ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'][res.status] : res.status);
      },
    ),
  );
}

/** Polls until `probe` returns true, for state changes driven by periodic checks. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const inlinePng: OutputSpec = {
  bucket: '',
  key: '',
  format: ImageFormat.IMAGE_FORMAT_PNG,
  quality: 0,
  delivery: OutputDelivery.OUTPUT_DELIVERY_INLINE,
  reuseExisting: false,
};

export function detectRequest(source: DetectRequest['source'], extra: Partial<DetectRequest> = {}): DetectRequest {
  return { source, model: '', classes: [], drawBoxes: false, output: undefined, ...extra };
}
