// Entry point of the filter service process.
import { runServiceProcess } from '../shared/service-process.js';
import { filterService } from './server.js';

await runServiceProcess({
  name: 'filter',
  callsPerCore: 2,
  reflectionProtos: ['imageflow/v1/filter.proto'],
  create: async (parts) => ({ services: [filterService(parts)] }),
});
