// Entry point of the detection service process.
import { ConfigError, parseEnv } from '../shared/config.js';
import { runServiceProcess } from '../shared/service-process.js';
import { DetectionEnv } from './env.js';
import { HealthRelay } from './health-relay.js';
import { createDetectionService } from './server.js';

const health = new HealthRelay();
const host = await runServiceProcess({
  name: 'detection',
  reflectionProtos: ['imageflow/v1/ai_detection.proto'],
  create: async (parts) => {
    try {
      return await createDetectionService(parts, parseEnv(DetectionEnv), health);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`detection: ${err.message}\n`);
      process.exit(1);
    }
  },
});
health.attach(host);
