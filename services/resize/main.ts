// Entry point of the resize service process.
import { runServiceProcess } from '../shared/service-process.js';
import { resizeService } from './server.js';

await runServiceProcess({
  name: 'resize',
  callsPerCore: 2,
  reflectionProtos: ['imageflow/v1/resize.proto'],
  create: async (parts) => ({ services: [resizeService(parts)] }),
});
